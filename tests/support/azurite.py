"""A real Azurite blob service for tests, run from the pinned npm package in tools/azurite.

Azurite is Microsoft's Azure Storage emulator. Only its blob service is started: there is no
DFS (ADLS Gen2) endpoint, so hierarchical-namespace operations are out of reach; see
``tests/support/test_azurite_fixture.py`` for what works and what does not.

Usage::

    from tests.support.azurite import AzuriteServer, require_azurite

    require_azurite()                      # skip (or fail, with AZML_REQUIRE_AZURITE=1)
    with AzuriteServer() as azurite:       # a fresh, empty account on a free port
        azurite.create_container("azml")
        env = azurite.airflow_conn_env("azml_blob", conn_type="wasb")
        # {"AIRFLOW_CONN_AZML_BLOB": '{"conn_type": "wasb", "extra": {...}}'}

Install the emulator with ``tools/azurite/install.sh`` (needs Node.js and npm).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterator
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from azure.storage.blob import BlobServiceClient, ContainerClient

__all__ = [
    "ACCOUNT_KEY",
    "ACCOUNT_NAME",
    "AZURITE_BLOB",
    "AzuriteError",
    "AzuriteServer",
    "azurite_missing_reason",
    "azurite_server",
    "blob_datastore",
    "require_azurite",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = REPO_ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"

# The well-known development account every Azurite instance serves (public, not a secret).
ACCOUNT_NAME = "devstoreaccount1"
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="

REQUIRE_ENV = "AZML_REQUIRE_AZURITE"
_CONN_TYPES = ("wasb", "adls")


class AzuriteError(RuntimeError):
    """Azurite could not be started or stopped."""


def azurite_missing_reason() -> str | None:
    """Say why Azurite cannot run here, or return None when it can."""
    if shutil.which("node") is None:
        return "Azurite needs Node.js: `node` is not on PATH"
    if not os.access(AZURITE_BLOB, os.X_OK):
        return f"Azurite is not installed ({AZURITE_BLOB} is missing): run tools/azurite/install.sh"
    return None


def require_azurite() -> None:
    """Skip the calling test when Azurite is unavailable; fail instead if AZML_REQUIRE_AZURITE is set.

    CI sets AZML_REQUIRE_AZURITE=1 so that a broken install cannot turn storage tests into skips.
    """
    import pytest

    reason = azurite_missing_reason()
    if reason is None:
        return
    if os.environ.get(REQUIRE_ENV, "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason} ({REQUIRE_ENV} is set, so this is an error, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass


def _terminate(proc: subprocess.Popen[bytes], grace: float) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds. Safe to call twice."""
    if proc.poll() is not None:
        return
    _signal_group(proc.pid, signal.SIGCONT)  # a paused (SIGSTOPped) group cannot act on SIGTERM
    _signal_group(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=grace)
    except subprocess.TimeoutExpired:
        _signal_group(proc.pid, signal.SIGKILL)
        proc.wait(timeout=grace)


class AzuriteServer:
    """One ``azurite-blob`` process in its own process group, with its own data folder.

    ``start()`` (or ``with``) picks a free port on 127.0.0.1 unless ``port`` is given and waits
    until it accepts connections. ``location`` defaults to a temporary folder removed by
    ``stop()``; a folder you pass is kept, so a second server on it sees the same blobs.
    """

    def __init__(
        self,
        *,
        location: str | os.PathLike[str] | None = None,
        port: int | None = None,
        startup_timeout: float = 20.0,
        extra_args: tuple[str, ...] = (),
        env: dict[str, str] | None = None,
    ) -> None:
        self._extra_args = tuple(extra_args)  # e.g. ("--cert", pem, "--key", key) for HTTPS
        self._env = env  # added to the environment, e.g. AZURITE_ACCOUNTS="name:key" for other accounts
        self._location = Path(location) if location is not None else None
        self._requested_port = port
        self.startup_timeout = startup_timeout
        self._port: int | None = None
        self._proc: subprocess.Popen[bytes] | None = None
        self._stderr: IO[bytes] | None = None
        self._tmpdir: tempfile.TemporaryDirectory[str] | None = None
        self._finalizer: weakref.finalize | None = None
        self.startup_seconds: float | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> AzuriteServer:
        """Start Azurite and wait until its port answers; raise AzuriteError otherwise."""
        if self._proc is not None:
            raise AzuriteError("this AzuriteServer is already started")
        reason = azurite_missing_reason()
        if reason is not None:
            raise AzuriteError(reason)
        if self._location is None:
            self._tmpdir = tempfile.TemporaryDirectory(prefix="azurite-")
            self._location = Path(self._tmpdir.name)
        self._location.mkdir(parents=True, exist_ok=True)
        # A free port can be taken between probing and binding: retry with a new one then.
        attempts = 1 if self._requested_port is not None else 3
        for attempt in range(attempts):
            try:
                self._launch(self._requested_port or _free_port())
                return self
            except AzuriteError as exc:
                if attempt == attempts - 1 or "EADDRINUSE" not in str(exc):
                    self._cleanup_location()
                    raise
        raise AssertionError("unreachable")

    def _launch(self, port: int) -> None:
        if _port_answers(port):
            raise AzuriteError(f"cannot start azurite-blob: EADDRINUSE, 127.0.0.1:{port} is already in use")
        command = [
            str(AZURITE_BLOB),
            "--silent",
            "--disableTelemetry",
            "--skipApiVersionCheck",
            "--loose",
            "--location",
            str(self._location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(port),
            *self._extra_args,
        ]
        if self._stderr is not None:
            self._stderr.close()
        self._stderr = tempfile.TemporaryFile()
        began = time.monotonic()
        proc = subprocess.Popen(
            command,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
            env={**os.environ, **self._env} if self._env else None,
        )
        self._proc, self._port = proc, port
        self._finalizer = weakref.finalize(self, _terminate, proc, 2.0)
        deadline = began + self.startup_timeout
        while not _port_answers(port):
            if proc.poll() is not None:
                self._forget_process()
                raise AzuriteError(
                    f"azurite-blob exited with code {proc.returncode} before listening on "
                    f"127.0.0.1:{port}; stderr:\n{self._read_stderr()}"
                )
            if time.monotonic() > deadline:
                _terminate(proc, 2.0)
                self._forget_process()
                raise AzuriteError(
                    f"azurite-blob did not listen on 127.0.0.1:{port} within {self.startup_timeout:g} s; "
                    f"stderr:\n{self._read_stderr()}"
                )
            time.sleep(0.05)
        if proc.poll() is not None:  # someone else answered on the port and Azurite lost the race
            self._forget_process()
            raise AzuriteError(
                f"azurite-blob exited with code {proc.returncode}; stderr:\n{self._read_stderr()}"
            )
        self.startup_seconds = time.monotonic() - began

    def stop(self, grace: float = 3.0) -> None:
        """SIGTERM the process group, SIGKILL it after ``grace`` seconds; remove a temporary folder."""
        if self._proc is not None:
            _terminate(self._proc, grace)
            self._forget_process()
        self._cleanup_location()

    def pause(self) -> None:
        """SIGSTOP the group: connections still open, requests hang (a stalled service)."""
        _signal_group(self._running().pid, signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT the group after ``pause()``."""
        _signal_group(self._running().pid, signal.SIGCONT)

    def __enter__(self) -> AzuriteServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _running(self) -> subprocess.Popen[bytes]:
        if self._proc is None or self._proc.poll() is not None:
            raise AzuriteError("Azurite is not running: call start() first")
        return self._proc

    def _forget_process(self) -> None:
        if self._finalizer is not None:
            self._finalizer.detach()
        self._proc = self._finalizer = None

    def _read_stderr(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.seek(0)
        return self._stderr.read().decode(errors="replace").strip() or "(empty)"

    def _cleanup_location(self) -> None:
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None
        if self._tmpdir is not None:
            self._tmpdir.cleanup()
            self._tmpdir = None
            self._location = None

    # --- addresses and credentials ---------------------------------------------------------

    @property
    def port(self) -> int:
        if self._port is None:
            raise AzuriteError("Azurite has no port yet: call start() first")
        return self._port

    @property
    def location(self) -> Path:
        if self._location is None:
            raise AzuriteError("Azurite has no data folder yet: call start() first")
        return self._location

    @property
    def pid(self) -> int:
        return self._running().pid

    @property
    def blob_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    @property
    def connection_string(self) -> str:
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
            f"BlobEndpoint={self.blob_endpoint};"
        )

    def airflow_connection(self, conn_type: str = "wasb") -> dict[str, Any]:
        """The connection as a dict: ``conn_type`` "wasb" (WasbHook) or "adls" (ObjectStoragePath)."""
        if conn_type not in _CONN_TYPES:
            raise ValueError(f"conn_type must be one of {_CONN_TYPES}, got {conn_type!r}")
        return {"conn_type": conn_type, "extra": {"connection_string": self.connection_string}}

    def airflow_conn_json(self, conn_type: str = "wasb") -> str:
        """The JSON value for an ``AIRFLOW_CONN_<ID>`` environment variable."""
        return json.dumps(self.airflow_connection(conn_type))

    def airflow_conn_env(self, conn_id: str, conn_type: str = "wasb") -> dict[str, str]:
        """``{"AIRFLOW_CONN_<CONN_ID>": json}``, ready for ``os.environ`` or ``monkeypatch.setenv``."""
        return {f"AIRFLOW_CONN_{conn_id.upper()}": self.airflow_conn_json(conn_type)}

    # --- azure-storage-blob helpers -------------------------------------------------------

    def blob_service_client(self, **kwargs: Any) -> BlobServiceClient:
        """A client on this server; pass e.g. ``retry_total=0`` for fault-injection tests."""
        from azure.storage.blob import BlobServiceClient

        return BlobServiceClient.from_connection_string(self.connection_string, **kwargs)

    def create_container(self, name: str) -> ContainerClient:
        """Create ``name`` (no error if it already exists) and return its client."""
        from azure.core.exceptions import ResourceExistsError

        container = self.blob_service_client().get_container_client(name)
        try:
            container.create_container()
        except ResourceExistsError:
            pass
        return container


def blob_datastore(container: str, conn_id: str) -> dict[str, str]:
    """A workspace file's ``azure_blob`` datastore on the Azurite account: ``container`` through ``conn_id``."""
    return {
        "type": "azure_blob",
        "container_name": container,
        "account_name": ACCOUNT_NAME,
        "conn_id": conn_id,
    }


def azurite_server() -> Iterator[AzuriteServer]:
    """Body for a pytest fixture (tests/conftest.py's ``azurite``, one per test module)."""
    require_azurite()
    with AzuriteServer() as server:
        yield server
