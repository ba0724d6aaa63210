"""The work board of a ParallelRunStep spread over several Airflow task instances (its nodes).

Nodes share nothing but the default datastore, so the board is a folder on it, under the
step's run-record folder (``<records>/<task>/parallel_board/``):

- ``state.json``: written by node 0 (the step's own task, which runs the step lifecycle and
  gathers): ``running`` with the cut's fingerprint, then ``finished``/``failed``/``reused``,
  and a ``beat`` time it refreshes while it lives;
- ``claims/c<chunk>``: a chunk of consecutive mini-batches belongs to the node whose name the
  claim holds. A claim is created only if absent (``O_EXCL`` on a local folder, a conditional
  upload on Blob storage), so two nodes never take the same chunk; a node that is retried finds
  its own claims again and runs only what its earlier try did not finish;
- ``nodes/node<k>.json``: each node's heartbeat and progress (done/failed mini-batches, items,
  items/s, its worker host), which the step view and ``azml run`` read.

Finished mini-batches themselves go to the checkpoint parts (``parallel_checkpoint.py``), one
series per node, so node 0 can gather everything when no chunk is left and every node is done.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from typing import Any

__all__ = ["Board", "chunk_size", "create_if_absent", "claim_order"]


def chunk_size(total: int, node_count: int, per_node: int) -> int:
    """Mini-batches per claim: about eight claims per worker process, so a slow node holds back
    at most one small chunk, while a node asks the datastore once per several mini-batches."""
    return max(1, total // max(1, node_count * per_node * 8))


def claim_order(chunks: int, node: int, node_count: int) -> list[int]:
    """The chunks in the order node ``node`` tries them: from its own share onwards, wrapping,
    so nodes start apart and meet only at the end (where a fast node takes a slow one's rest)."""
    start = (node * chunks) // max(1, node_count)
    return [(start + i) % chunks for i in range(chunks)] if chunks else []


def create_if_absent(store: Any, rel: str, data: bytes) -> bool:
    """Create ``rel`` holding ``data`` unless it exists; True if this call created it."""
    local = store.local_path(rel) if hasattr(store, "local_path") else None
    if local is not None:
        local.parent.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(local, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            return False
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        return True
    fs, key = getattr(store, "fs", None), getattr(store, "_key", None)
    if fs is not None and callable(key) and hasattr(fs, "pipe_file"):
        try:  # adlfs: upload_blob(overwrite=False) fails if the blob exists (atomic on the service)
            fs.pipe_file(key(rel), data, overwrite=False)
        except FileExistsError:
            return False
        return True
    if store.exists(rel):  # a store without a conditional write: last writer wins, read back
        return False
    store.write_bytes(rel, data)
    return store.read_bytes(rel) == data


class Board:
    """The board of one step run at ``prefix`` on ``store``, as seen by node ``node``."""

    def __init__(self, store: Any, prefix: str, node: int):
        self.store, self.prefix, self.node = store, prefix.rstrip("/"), int(node)
        self.name = f"node{self.node:03d}"

    # -- node 0's state ---------------------------------------------------------------------
    def state(self) -> dict[str, Any] | None:
        rel = f"{self.prefix}/state.json"
        try:
            return json.loads(self.store.read_bytes(rel))
        except Exception:  # noqa: BLE001 - absent or being written: no state yet
            return None

    def set_state(self, status: str, **fields: Any) -> None:
        body = {**(self.state() or {}), **fields, "status": status, "beat": time.time()}
        self.store.write_bytes(f"{self.prefix}/state.json", json.dumps(body, default=str).encode())

    # -- claims -----------------------------------------------------------------------------
    def claim(self, chunk: int) -> bool:
        return create_if_absent(self.store, f"{self.prefix}/claims/c{chunk:06d}", self.name.encode())

    def claims(self) -> dict[int, str]:
        """chunk -> the node that holds it."""
        folder = f"{self.prefix}/claims"
        if not self.store.exists(folder):
            return {}
        out = {}
        for rel in self.store.list_files(folder):
            leaf = rel.rsplit("/", 1)[-1]
            if leaf.startswith("c") and leaf[1:].isdigit():
                with contextlib.suppress(Exception):
                    out[int(leaf[1:])] = self.store.read_bytes(rel).decode()
        return out

    # -- heartbeats and progress ------------------------------------------------------------
    def beat(self, status: str, **progress: Any) -> None:
        body = {"node": self.node, "status": status, "beat": time.time(), **progress}
        self.store.write_bytes(
            f"{self.prefix}/nodes/{self.name}.json", json.dumps(body, default=str).encode()
        )

    def nodes(self) -> dict[str, dict[str, Any]]:
        return read_nodes(self.store, self.prefix)


def read_nodes(store: Any, prefix: str) -> dict[str, dict[str, Any]]:
    """Every node's last heartbeat on the board at ``prefix``: name -> body."""
    folder = f"{prefix.rstrip('/')}/nodes"
    if store is None or not store.exists(folder):
        return {}
    out = {}
    for rel in sorted(store.list_files(folder)):
        leaf = rel.rsplit("/", 1)[-1]
        if leaf.endswith(".json"):
            with contextlib.suppress(Exception):
                out[leaf[:-5]] = json.loads(store.read_bytes(rel))
    return out
