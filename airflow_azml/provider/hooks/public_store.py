"""PublicObjectStore: a public Blob container read anonymously, without an Airflow connection.

v1 lets a notebook register a public container with no credential at all
(``Datastore.register_azure_blob_container(ws, "x", container_name="sampledata",
account_name="pipelinedata")``) and read it. There is no secret to keep, so no connection
is made: every process (the notebook, a worker) builds the same anonymous adlfs file system
from the datastore's names. The Azure SDK's transport honours ``HTTPS_PROXY``/``NO_PROXY``
and ``SSL_CERT_FILE``; ``REQUESTS_CA_BUNDLE`` is honoured here too when ``SSL_CERT_FILE``
is not set. Anonymous access is read-only: writes fail with a DatastoreError that says how
to register the container with a credential.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_azml.data.stores.base import check_relative
from airflow_azml.exceptions import DatastoreError
from airflow_azml.provider.hooks.object_store import ObjectStore, _quiet_azure_logs

__all__ = ["PublicObjectStore"]


class PublicObjectStore(ObjectStore):
    """Files of a public container (``account_name``/``container``), listed and read anonymously."""

    def __init__(self, account_name: str, container: str, *, endpoint: str = "", name: str = ""):
        if not account_name or not container:
            raise DatastoreError(
                f"Datastore {name!r}: a public container needs account_name and container_name "
                f"(got {account_name!r}, {container!r})."
            )
        super().__init__(f"anonymous:{account_name}", container, kind="azure_blob")
        self.account_name = account_name
        self.endpoint = endpoint
        self.name = name

    @classmethod
    def for_datastore(cls, datastore: Any) -> PublicObjectStore:
        return cls(
            datastore.account_name,
            datastore.container_name,
            endpoint=str(datastore._spec.get("endpoint") or ""),
            name=datastore.name,
        )

    @property
    def account_url(self) -> str:
        """``https://<account>.blob.core.windows.net`` (or the sovereign cloud's suffix, or a full URL)."""
        if self.endpoint.startswith(("http://", "https://")):
            return self.endpoint.rstrip("/")
        return f"https://{self.account_name}.blob.{self.endpoint or 'core.windows.net'}"

    @cached_property
    def fs(self) -> Any:
        from adlfs import AzureBlobFileSystem
        from azure.storage.blob.aio import BlobServiceClient

        _quiet_azure_logs()
        fs = AzureBlobFileSystem(account_name=self.account_name, anon=True, skip_instance_cache=True)
        bundle = os.environ.get("SSL_CERT_FILE") or os.environ.get("REQUESTS_CA_BUNDLE")
        # adlfs builds https://<account>.blob.core.windows.net; an endpoint or a CA bundle needs our client
        # one quick retry on a connection error: here it is mostly a proxy or CA setting, not a blip
        fs.service_client = BlobServiceClient(
            self.account_url,
            connection_verify=bundle or True,
            retry_connect=1,
            initial_backoff=2,
            increment_base=2,
        )
        return fs

    def path(self, rel: str = "") -> Any:
        raise DatastoreError(
            f"Datastore {self.name!r} is a public container read without an Airflow connection; "
            "it has no ObjectStoragePath. Read it through the datastore (download, datasets)."
        )

    def uri(self, rel: str) -> str:
        key = check_relative(rel)
        return f"{self.account_url}/{self.container}/{key}".rstrip("/")

    def same_account(self, other: Any) -> bool:
        return False  # no server-side copies out of an anonymous container: bytes go through the worker

    # -- anonymous access is read-only --------------------------------------------------------
    def _read_only(self) -> DatastoreError:
        return DatastoreError(
            f"Datastore {self.name!r} ({self.account_name}/{self.container}) was registered without a credential, "
            "so it can only be read. Register it again with account_key=, sas_token= or conn_id= to write to it."
        )

    def write_bytes(self, rel: str, data: bytes) -> None:
        raise self._read_only()

    def put(self, local: Path, rel: str, *, overwrite: bool = True) -> list[str]:
        raise self._read_only()

    def delete(self, rel: str) -> None:
        raise self._read_only()

    def commit(self, staged: Path, rel: str) -> None:
        raise self._read_only()

    def __repr__(self) -> str:
        return f"PublicObjectStore({self.uri('')!r})"
