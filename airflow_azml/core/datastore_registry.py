"""Datastores registered with ``Datastore.register_*``, kept in the workspace's registry.

v1 keeps a registration in the workspace, so a later notebook or process finds it with
``Datastore(ws, name)``. Here it is a small JSON record (the datastore's spec: names and the
Airflow connection id, never a secret), the ``datastores`` kind of the workspace registry
(``core/registry.py``: ``.azml/datastores/<name>.json`` on the workspace's default datastore);
the registry is read only when a name is not in the workspace file.
"""

from __future__ import annotations

import sys
from functools import lru_cache
from typing import Any

from airflow_azml.core import registry
from airflow_azml.core.datastore import Datastore, datastore_from_spec
from airflow_azml.exceptions import DatastoreNotFoundError

__all__ = ["save_registered", "load_registered", "datastore_not_found", "REGISTERED_PREFIX"]

_KIND = "datastores"
REGISTERED_PREFIX = registry.KINDS[_KIND]


def save_registered(workspace: Any, datastore: Datastore) -> None:
    """Record a registered datastore (its spec: names and connection id) so other processes find it."""
    if datastore.name == workspace._default_datastore:
        return  # the default datastore is where the registry lives: it is always known
    registry.write(workspace, _KIND, datastore.name, {"name": datastore.name, "spec": datastore.to_spec()})


def load_registered(workspace: Any, name: str) -> Datastore | None:
    """The datastore ``name`` registered earlier in this workspace (any process), or None."""
    record = None if "/" in name else registry.read(workspace, _KIND, name)
    return None if record is None else datastore_from_spec(workspace, name, record["spec"])


def datastore_not_found(message: str) -> DatastoreNotFoundError:
    """The error for a missing datastore; also the ``msrest`` HttpOperationError v1 raised when the
    caller's code imported msrest to catch it (``except HttpOperationError:`` around ``Datastore.get``)."""
    http = getattr(sys.modules.get("msrest.exceptions"), "HttpOperationError", None)
    if not isinstance(http, type):
        return DatastoreNotFoundError(message)
    return _with_base(http)(message)


@lru_cache(maxsize=1)
def _with_base(base: type) -> type[DatastoreNotFoundError]:
    def init(self: Exception, message: str) -> None:
        Exception.__init__(self, message)
        self.message = message  # what msrest's errors carry

    return type("DatastoreNotFoundError", (DatastoreNotFoundError, base), {"__init__": init})
