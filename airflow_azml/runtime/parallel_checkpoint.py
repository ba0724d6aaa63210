"""Progress of a ParallelRunStep kept on the datastore, so a retried attempt redoes nothing finished.

Finished mini-batches (their item counts and append_row rows) are written in small parts under
the step's run-record folder, a few seconds' worth at a time. A later attempt of the same step
in the same pipeline run reads them back and hands out only the rest. Parts carry a fingerprint
of the mini-batch cut, so a changed input never mixes with old progress.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from typing import Any

__all__ = ["Checkpoint", "fingerprint"]


def fingerprint(batch_ids: list[str], extra: str = "") -> str:
    return hashlib.sha256(("\n".join(batch_ids) + "\0" + extra).encode()).hexdigest()[:24]


class Checkpoint:
    """Parts ``<prefix>/part-[<node>-]<attempt>-<seq>.json`` on a datastore ``store``."""

    def __init__(self, store: Any, prefix: str, fp: str, attempt: int, every: float = 2.0, tag: str = ""):
        self.store, self.prefix, self.fp, self.attempt, self.every = (
            store,
            prefix.rstrip("/"),
            fp,
            attempt,
            every,
        )
        self.tag = f"{tag}-" if tag else ""  # one series of parts per node of a multi-node step
        self.pending: dict[str, dict[str, Any]] = {}
        self.seq = 0
        self.last = time.monotonic()

    def parts(self) -> Iterator[dict[str, dict[str, Any]]]:
        """The mini-batch records of each part written for this fingerprint, in write order."""
        if self.store is None or not self.store.exists(self.prefix):
            return
        for rel in sorted(self.store.list_files(self.prefix)):
            if not rel.rsplit("/", 1)[-1].startswith("part-"):
                continue
            part = json.loads(self.store.read_bytes(rel))
            if part.get("fingerprint") == self.fp:
                yield part["batches"]

    def load(self) -> dict[str, dict[str, Any]]:
        """Finished mini-batches of earlier attempts: id -> {items, results, rows}."""
        done: dict[str, dict[str, Any]] = {}
        for batches in self.parts():
            done.update(batches)
        return done

    def add(self, batch_id: str, record: dict[str, Any]) -> None:
        if self.store is None:  # nowhere to keep progress: holding every row in memory would buy nothing
            return
        self.pending[batch_id] = record
        if time.monotonic() - self.last >= self.every or len(self.pending) >= 500:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.pending or self.store is None:
            return
        self.seq += 1
        body = {"fingerprint": self.fp, "batches": self.pending}
        self.store.write_bytes(
            f"{self.prefix}/part-{self.tag}{self.attempt:03d}-{self.seq:06d}.json", json.dumps(body).encode()
        )
        self.pending = {}
