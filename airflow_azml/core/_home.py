"""Where airflow-azml keeps local state, and how DAG-file-relative paths are resolved."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Any

__all__ = ["azml_home", "caller_dir", "uses_remote_airflow", "airflow_settings"]

_ENV = {
    "base_url": "AZML_AIRFLOW_URL",
    "username": "AZML_AIRFLOW_USERNAME",
    "password": "AZML_AIRFLOW_PASSWORD",
}

# Frames' co_filename carry the path the package was imported from (not resolved), so compare
# against that form (and the resolved one, for a package imported through a symlink).
_PKG_DIRS = tuple(
    {os.path.dirname(os.path.dirname(p)) + os.sep for p in (__file__, os.path.realpath(__file__))}
)


def azml_home() -> Path:
    """``$AZML_HOME``, else ``~/.azml``: the local datastore root and the embedded Airflow home."""
    return Path(os.environ.get("AZML_HOME") or Path.home() / ".azml").expanduser().resolve()


def caller_dir() -> Path:
    """The folder of the user file that called into airflow-azml, else the working directory.

    Airflow parses DAG files from an unpredictable working directory, so relative paths
    in a DAG file (source_directory, the workspace file) are resolved against the file.
    The first frame outside this package decides: code without a file (a notebook cell,
    ``python -c``, ``exec``) resolves against the working directory.
    """
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not filename.startswith(_PKG_DIRS) and not filename.startswith("<frozen"):
            if filename.startswith("<"):
                break
            return _folder_of(filename) or Path.cwd()
        frame = frame.f_back
    return Path.cwd()


@functools.lru_cache(maxsize=256)
def _folder_of(filename: str) -> Path | None:
    """The resolved folder of an existing source file (cached: DAG files build many steps)."""
    path = Path(filename)
    return path.resolve().parent if path.is_file() else None


def uses_remote_airflow(workspace: Any) -> bool:
    """True when the workspace file (``airflow.base_url``) or ``AZML_AIRFLOW_URL`` names a running Airflow."""
    return bool(
        (workspace._config.get("airflow") or {}).get("base_url") or os.environ.get("AZML_AIRFLOW_URL")
    )


def airflow_settings(workspace: Any = None) -> dict[str, Any]:
    """base_url / username / password from the workspace file's ``airflow`` section and the environment."""
    section = dict(((getattr(workspace, "_config", None) or {}).get("airflow")) or {})
    if section.get("password_env") and not section.get("password"):
        section["password"] = os.environ.get(section["password_env"])
    for key, env in _ENV.items():
        if os.environ.get(env):
            section[key] = os.environ[env]
    return section
