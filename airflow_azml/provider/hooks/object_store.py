"""ObjectStore: the Store interface over ``airflow.sdk.ObjectStoragePath`` (adlfs underneath).

A Blob container or ADLS Gen2 file system is addressed as ``abfs://<conn_id>@<container>/<key>``;
the Airflow connection ``conn_id`` holds the credentials, so none of them ever appear in a plan,
a log line or XCom. Transfers go through adlfs, which streams every object in parallel blocks
(``max_concurrency``) and never holds a whole object in memory.

Publishing a folder (``commit``) is made safe for readers with two marker objects:

1. the staged folder is uploaded under a hidden prefix ``.azml/incoming/<uuid>/``;
2. ``<dest>/_azml_pending`` is written: from now on readers treat ``<dest>`` as absent;
3. the previous content of ``<dest>`` is removed, and each uploaded object is copied
   server-side (Blob "Copy Blob", no bytes through the worker) to ``<dest>``;
4. ``<dest>/_azml_committed`` (the manifest: file list) is written, then the pending marker
   and the hidden upload are deleted.

Readers (``exists``/``list_files``/``version``) see a folder only when no pending marker is
present, and list only the files its manifest names, so a crash or retry at any point never
exposes partial output. A single file is published by one copy, which Azure makes atomic.
"""

from __future__ import annotations

import functools
import json
import logging
import time
import uuid
from functools import cached_property
from pathlib import Path
from typing import Any

from airflow_azml.data.stores.base import Store, check_relative
from airflow_azml.exceptions import DatastoreError

__all__ = ["ObjectStore", "COMMITTED_MARKER", "PENDING_MARKER", "INCOMING_PREFIX"]

COMMITTED_MARKER = "_azml_committed"
PENDING_MARKER = "_azml_pending"
INCOMING_PREFIX = ".azml/incoming"
_MARKERS = (COMMITTED_MARKER, PENDING_MARKER)
_COPY_THREADS = 8
#: parallel block transfers per worker: split over the files of one put/get
_STREAMS = 8

log = logging.getLogger(__name__)


def _streams(files: int) -> dict[str, int]:
    """adlfs moves several files at once but each with one stream; a few big files get several each."""
    return {"max_concurrency": max(1, _STREAMS // max(files, 1))}


def _quiet_azure_logs() -> None:
    """The Azure SDK logs every HTTP request at INFO once Airflow configures logging."""
    for name in ("azure", "azure.core.pipeline.policies.http_logging_policy"):
        logging.getLogger(name).setLevel(logging.WARNING)


@functools.lru_cache(maxsize=32)
def _check_sign_in(conn_id: str, tenant_id: str, client_id: str, secret: str) -> None:
    """A service principal that cannot sign in fails at once, naming what to check.

    adlfs's own (async) credential retries a failing token request for minutes on every call
    (5+ minutes when the sign-in host is unreachable) and then raises a bare ServiceRequestError;
    one synchronous token request with a single retry, once per process, says why in seconds."""
    from azure.identity import ClientSecretCredential

    credential = ClientSecretCredential(tenant_id, client_id, secret, retry_total=1)
    try:
        credential.get_token("https://storage.azure.com/.default")
    except Exception as exc:
        why = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        raise DatastoreError(
            f"The Airflow connection {conn_id!r}: the service principal {client_id!r} of tenant {tenant_id!r} "
            f"could not sign in to Microsoft Entra ID: {why}. Check its tenant_id, client_id and client_secret "
            "(Datastore.register_* arguments, kept in that connection) and that this machine reaches "
            "login.microsoftonline.com (HTTPS_PROXY / NO_PROXY)."
        ) from exc
    finally:
        credential.close()


class ObjectStore(Store):
    """Files in one Blob container / ADLS Gen2 file system, reached through an Airflow connection."""

    scheme = "abfs"

    def __init__(self, conn_id: str, container: str, *, kind: str = "azure_blob"):
        if not conn_id or not container:
            raise DatastoreError(
                f"A {kind} datastore needs an Airflow connection id and a container (got conn_id={conn_id!r}, "
                f"container={container!r}); set conn_id and container_name in the workspace file."
            )
        self.conn_id = conn_id
        self.container = container
        self.kind = kind

    @classmethod
    def for_datastore(cls, datastore: Any) -> ObjectStore:
        """The store of an AzureBlobDatastore / AzureDataLakeGen2Datastore."""
        return cls(datastore.conn_id, datastore.container_name, kind=datastore.kind)

    # -- addressing ---------------------------------------------------------------------
    def path(self, rel: str = "") -> Any:
        """``ObjectStoragePath('abfs://conn_id@container/rel')`` (checked: cannot leave the container)."""
        from airflow.sdk import ObjectStoragePath

        key = check_relative(rel)
        return ObjectStoragePath(f"abfs://{self.conn_id}@{self.container}/{key}")

    @cached_property
    def fs(self) -> Any:
        """The adlfs file system built by the Azure provider from the Airflow connection."""
        _quiet_azure_logs()
        fs = self.path("").fs
        _quiet_azure_logs()
        if (
            getattr(fs, "client_id", None)
            and getattr(fs, "client_secret", None)
            and getattr(fs, "tenant_id", None)
        ):
            _check_sign_in(self.conn_id, fs.tenant_id, fs.client_id, fs.client_secret)
        return fs

    def _key(self, rel: str) -> str:
        key = check_relative(rel)
        return f"{self.container}/{key}" if key else self.container

    def uri(self, rel: str) -> str:
        key = check_relative(rel)
        return f"abfs://{self.conn_id}@{self.container}/{key}"

    def _fresh(self) -> Any:
        """adlfs caches listings per process; other workers write too, so always ask the service."""
        self.fs.invalidate_cache()
        return self.fs

    # -- reading ------------------------------------------------------------------------
    def _is_file(self, rel: str) -> bool:
        return bool(check_relative(rel)) and self._fresh().isfile(self._key(rel))

    def exists(self, rel: str) -> bool:
        """True for a file, or a folder that holds files and is not being published."""
        if self._is_file(rel):
            return True
        found = self._find(rel)
        return bool(found) and f"{check_relative(rel)}/{PENDING_MARKER}".strip("/") not in found

    def is_dir(self, rel: str) -> bool:
        return not self._is_file(rel) and self.exists(rel)

    def _find(self, rel: str) -> dict[str, dict[str, Any]]:
        """{relative file: info} of every object below ``rel``, markers included."""
        base = self._key(rel)
        try:
            found = self._fresh().find(base, detail=True)
        except FileNotFoundError:
            return {}
        prefix = f"{self.container}/"
        return {
            name[len(prefix) :]: info
            for name, info in found.items()
            if info.get("type") == "file" and name.startswith(prefix)
        }

    def _manifest(self, rel: str) -> list[str] | None:
        key = self._key(f"{rel}/{COMMITTED_MARKER}".strip("/"))
        try:
            return list(json.loads(self.fs.cat_file(key))["files"])
        except FileNotFoundError:
            return None

    def _committed(self, rel: str) -> dict[str, dict[str, Any]]:
        """Files of ``rel`` readers may see: none while pending, the manifest's when committed."""
        found = self._find(rel)
        names = {n.rsplit("/", 1)[-1] for n in found}
        base = check_relative(rel)
        if f"{base}/{PENDING_MARKER}".strip("/") in found:
            return {}
        files = {n: i for n, i in found.items() if n.rsplit("/", 1)[-1] not in _MARKERS}
        if COMMITTED_MARKER in names:
            listed = self._manifest(rel)
            if listed is not None:
                allowed = {f"{base}/{f}".strip("/") for f in listed}
                files = {n: i for n, i in files.items() if n in allowed}
        return files

    def list_files(self, rel: str) -> list[str]:
        if self._is_file(rel):
            return [check_relative(rel)]
        return sorted(self._committed(rel))

    def version(self, rel: str) -> str:
        """The object's etag; for a folder, a hash of its committed files' names and etags."""
        import hashlib

        if self._is_file(rel):
            return str(self.fs.info(self._key(rel))["etag"]).strip('"')
        files = self._committed(rel)
        if not files and self.exists(rel):
            files = {k: v for k, v in self._find(rel).items() if k.endswith(COMMITTED_MARKER)}
        if not files:
            raise DatastoreError(
                f"{self.uri(rel)} does not exist (or is being published), so it has no version."
            )
        digest = hashlib.sha256()
        for name in sorted(files):
            digest.update(f"{name}\0{files[name].get('etag')}\0{files[name].get('size')}\n".encode())
        return digest.hexdigest()[:32]

    def versions(self, rel: str) -> dict[str, str]:
        """{file: etag} of the committed files below ``rel``, from one listing."""
        if self._is_file(rel):
            return {check_relative(rel): self.version(rel)}
        return {
            name: str(info.get("etag") or "").strip('"')
            for name, info in sorted(self._committed(rel).items())
        }

    def sizes(self, rel: str) -> dict[str, int | None]:
        """{file: bytes} of the committed files below ``rel``, from one listing."""
        if self._is_file(rel):
            return {check_relative(rel): int(self.fs.info(self._key(rel))["size"])}
        return {name: info.get("size") for name, info in sorted(self._committed(rel).items())}

    def modified(self, rel: str) -> float | None:
        """Last-modified time (epoch seconds) of the newest object under ``rel``, or None."""
        found = {rel: self.fs.info(self._key(rel))} if self._is_file(rel) else self._find(rel)
        stamps = [i["last_modified"].timestamp() for i in found.values() if i.get("last_modified")]
        return max(stamps) if stamps else None

    def read_bytes(self, rel: str) -> bytes:
        try:
            return self.fs.cat_file(self._key(rel))
        except FileNotFoundError as exc:
            raise DatastoreError(f"{self.uri(rel)} does not exist.") from exc

    # -- writing ------------------------------------------------------------------------
    def write_bytes(self, rel: str, data: bytes) -> None:
        """One small object, written in a single request (Azure commits it atomically)."""
        self.fs.pipe_file(self._key(rel), data)

    def put(self, local: Path, rel: str, *, overwrite: bool = True) -> list[str]:
        local = Path(local)
        base = check_relative(rel)
        pairs = (
            [
                (src, f"{base}/{src.relative_to(local).as_posix()}".strip("/"))
                for src in sorted(p for p in local.rglob("*") if p.is_file())
            ]
            if local.is_dir()
            else [(local, base)]
        )
        if not overwrite:
            existing = set(self._find(rel)) if local.is_dir() else ({base} if self._is_file(rel) else set())
            pairs = [(s, r) for s, r in pairs if r not in existing]
        if pairs:
            self.fs.put([str(s) for s, _ in pairs], [self._key(r) for _, r in pairs], **_streams(len(pairs)))
        return [r for _, r in pairs]

    def get(self, rel: str, local: Path, *, overwrite: bool = True) -> Path:
        local = Path(local)
        if self._is_file(rel):
            if local.exists() and not overwrite:
                return local
            local.parent.mkdir(parents=True, exist_ok=True)
            self.fs.get_file(self._key(rel), str(local), max_concurrency=_STREAMS)
            return local
        base = check_relative(rel)
        files = self.list_files(rel)
        if not files and not self.exists(rel):
            raise DatastoreError(
                f"{self.uri(rel)} does not exist (or is being published); nothing to download."
            )
        targets = [local / f[len(base) :].lstrip("/") for f in files]
        wanted = [(f, t) for f, t in zip(files, targets, strict=True) if overwrite or not t.exists()]
        for _f, target in wanted:
            target.parent.mkdir(parents=True, exist_ok=True)
        if wanted:
            self.fs.get(
                [self._key(f) for f, _ in wanted], [str(t) for _, t in wanted], **_streams(len(wanted))
            )
        local.mkdir(parents=True, exist_ok=True)
        return local

    def delete(self, rel: str) -> None:
        key = self._key(rel)
        if not check_relative(rel):
            raise DatastoreError(f"Refusing to delete the whole container {self.container!r}.")
        if self._is_file(rel):
            self.fs.rm_file(key)
            return
        found = list(self._find(rel))
        if found:
            self.fs.rm([self._key(f) for f in found])
        self.fs.invalidate_cache()

    # -- publishing ---------------------------------------------------------------------
    def commit(self, staged: Path, rel: str) -> None:
        """Publish a staged file/folder at ``rel``; readers see the old state, nothing, or all of it."""
        staged = Path(staged)
        base = check_relative(rel, what="output path")
        if not base:
            raise DatastoreError("An output cannot be published at the root of a container; give it a path.")
        incoming = f"{INCOMING_PREFIX}/{uuid.uuid4().hex}"
        uploaded = self.put(staged, incoming)
        self._publish(incoming, uploaded, base, staged.is_file())

    def same_account(self, other: Any) -> bool:
        """True when ``other`` is an ObjectStore on the same connection (server-side copies work)."""
        return isinstance(other, ObjectStore) and other.conn_id == self.conn_id

    def commit_copy(self, source: ObjectStore, src_rel: str, rel: str) -> int:
        """Publish ``source/src_rel`` at ``rel`` with server-side copies only (same account); returns bytes."""
        base = check_relative(rel, what="output path")
        src_base = check_relative(src_rel)
        incoming = f"{INCOMING_PREFIX}/{uuid.uuid4().hex}"
        is_file = source._is_file(src_rel)
        files = [src_base] if is_file else source.list_files(src_rel)
        names = [""] if is_file else [f[len(src_base) :].lstrip("/") for f in files]
        staged = [f"{incoming}/{n}".rstrip("/") for n in names]
        self.fs.copy(
            [source._key(f) for f in files], [self._key(t) for t in staged], batch_size=_COPY_THREADS
        )
        self._wait_copied([self._key(t) for t in staged])
        size = sum(int(self.fs.info(self._key(t))["size"]) for t in staged)
        self._publish(incoming, staged, base, is_file)
        return size

    def _publish(self, incoming: str, uploaded: list[str], base: str, is_file: bool) -> None:
        try:
            if is_file:
                self._copy([(incoming, base)])
                return
            self._publish_folder(incoming, uploaded, base)
        finally:
            self.delete(incoming)

    def _publish_folder(self, incoming: str, uploaded: list[str], base: str) -> None:
        pending = f"{base}/{PENDING_MARKER}"
        self.write_bytes(pending, json.dumps({"since": time.time()}).encode())
        old = [f for f in self._find(base) if f != pending]
        if old:
            self.fs.rm([self._key(f) for f in old])
        names = [u[len(incoming) + 1 :] for u in uploaded]
        self._copy([(u, f"{base}/{n}") for u, n in zip(uploaded, names, strict=True)])
        manifest = {"files": sorted(names), "committed_at": time.time()}
        self.write_bytes(f"{base}/{COMMITTED_MARKER}", json.dumps(manifest).encode())
        self.fs.rm_file(self._key(pending))
        self.fs.invalidate_cache()

    def _wait_copied(self, keys: list[str], timeout: float = 3600.0) -> None:
        """Azure may finish a Copy Blob asynchronously (large blobs): wait until none is pending."""
        from fsspec.asyn import sync

        async def status(key: str) -> str | None:
            container, blob = key.split("/", 1)
            client = self.fs.service_client.get_container_client(container).get_blob_client(blob)
            props = await client.get_blob_properties()
            return getattr(props.copy, "status", None)

        deadline = time.monotonic() + timeout
        pending = list(keys)
        while pending:
            pending = [k for k in pending if sync(self.fs.loop, status, k) == "pending"]
            if pending and time.monotonic() > deadline:
                raise DatastoreError(f"{len(pending)} server-side copies still pending after {timeout:g} s.")
            if pending:
                time.sleep(0.5)

    def _copy(self, pairs: list[tuple[str, str]]) -> None:
        """Server-side copies (no bytes through this worker), several at a time."""
        if not pairs:
            return
        self.fs.copy(
            [self._key(s) for s, _ in pairs], [self._key(d) for _, d in pairs], batch_size=_COPY_THREADS
        )
        self._wait_copied([self._key(d) for _, d in pairs])

    def __repr__(self) -> str:
        return f"ObjectStore({self.uri('')!r})"
