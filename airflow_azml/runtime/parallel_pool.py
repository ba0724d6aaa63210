"""The ParallelRunStep's worker processes, each on its own pipe to the driver.

One pipe per worker (not a queue shared by all) so that the driver always knows which
mini-batch each worker holds, and a worker that dies — killed for a timeout, ``os._exit``, a
crash in native code — breaks only its own pipe: the driver sees it at once (the pipe's end of
file or the process sentinel), counts the held mini-batch's try as failed and starts a new
worker in its place. Workers are forked, so they inherit the driver's imports, compat switch
and the cut of mini-batches without pickling them.
"""

from __future__ import annotations

import multiprocessing as mp
import select
import time
from typing import Any

from airflow_azml.runtime.parallel_worker import worker_main

__all__ = ["WorkerPool"]


class WorkerPool:
    """Workers ``0..n-1``: ``give`` one a mini-batch index, read what they say with ``events``.

    Each worker holds up to ``depth`` mini-batches (the one it runs and the next, waiting in its
    pipe), so it never waits for the driver between two mini-batches on a busy machine.
    """

    def __init__(self, cfg: dict[str, Any], batches: list[Any], depth: int = 2):
        self.cfg, self.batches, self.depth = cfg, batches, depth
        self.ctx = mp.get_context("fork")
        self.conns: dict[int, Any] = {}
        self.procs: dict[int, Any] = {}
        self.held: dict[int, list[list[float]]] = {}  # worker -> [[mini-batch index, since], ...] in order
        self.ready: set[int] = set()  # workers whose init() is done
        self.born: dict[int, float] = {}  # worker -> when it was started (bounds its init())
        self._poll: Any = None  # every pipe and process sentinel, built again whenever a worker starts

    def spawn(self, worker: int) -> None:
        parent, child = self.ctx.Pipe()
        # The child inherits the driver's ends of the other workers' pipes: it closes them at
        # once, so each worker sees end of file when the driver (the only other holder) is gone.
        others = [c.fileno() for c in self.conns.values()] + [parent.fileno()]
        proc = self.ctx.Process(
            target=worker_main, args=(worker, self.cfg, self.batches, child, others), daemon=True
        )
        proc.start()
        child.close()
        self.conns[worker], self.procs[worker] = parent, proc
        self.born[worker] = time.monotonic()
        self._poll = None

    def replace(self, worker: int) -> None:
        """Forget a dead worker (killed here if it still lives) and start a new one under the same number."""
        self.conns.pop(worker).close()
        proc = self.procs.pop(worker)
        if proc.is_alive():
            proc.kill()
        proc.join(timeout=5)
        self.held.pop(worker, None)
        self.ready.discard(worker)
        self.spawn(worker)

    def free(self) -> list[int]:
        """Ready workers with room for another mini-batch, the least loaded first."""
        room = [w for w in self.ready if len(self.held.get(w, [])) < self.depth]
        return sorted(room, key=lambda w: (len(self.held.get(w, [])), w))

    def give(self, worker: int, index: int) -> None:
        """Hand a mini-batch over; if the worker just died the next ``events()`` reports it and
        the held mini-batch is handed out again."""
        self.held.setdefault(worker, []).append([index, time.monotonic()])
        try:
            self.conns[worker].send(index)
        except OSError:  # its end is closed: dead (or dying); killed so the sentinel fires
            self.procs[worker].kill()

    def finished(self, worker: int) -> None:
        """The worker answered for its oldest mini-batch; the next one's clock starts now."""
        queue = self.held.get(worker) or []
        if queue:
            queue.pop(0)
        if queue:
            queue[0][1] = time.monotonic()

    def running(self, worker: int) -> int | None:
        queue = self.held.get(worker) or []
        return int(queue[0][0]) if queue else None

    def events(self, timeout: float) -> list[tuple[int, tuple | None]]:
        """What workers said within ``timeout`` seconds; ``None`` for a worker that died.

        One poll object for all the driver's waits (``multiprocessing.connection.wait`` builds and
        fills a selector per call, i.e. per mini-batch); any event on a descriptor (readable, hung
        up, error) counts as ready, as for ``wait``."""
        if self._poll is None:
            self._poll = select.poll()
            for worker, conn in self.conns.items():
                self._poll.register(conn.fileno(), select.POLLIN)
                self._poll.register(self.procs[worker].sentinel, select.POLLIN)
        ready = {fd for fd, _event in self._poll.poll(max(0, int(timeout * 1000)))}
        out: list[tuple[int, tuple | None]] = []
        for worker, conn in list(self.conns.items()):
            dead = self.procs[worker].sentinel in ready
            if conn.fileno() in ready or (dead and conn.poll()):
                try:
                    out.append((worker, conn.recv()))
                except (EOFError, OSError):
                    out.append((worker, None))
            elif dead:
                out.append((worker, None))
        return out

    def stuck(self, limit: float, init_limit: float) -> list[int]:
        """Workers that cannot answer: holding a mini-batch for longer than ``limit`` seconds (deaf
        to run_invocation_timeout), or not ready ``init_limit`` seconds after they were started
        (init() hangs, or the fork inherited a lock that no thread of the child will release)."""
        now = time.monotonic()
        busy = [w for w, queue in self.held.items() if queue and now - queue[0][1] > limit]
        unborn = [w for w in self.procs if w not in self.ready and now - self.born.get(w, now) > init_limit]
        return sorted(set(busy + unborn))

    def holding(self) -> set[int]:
        """Every mini-batch index some worker holds (running or waiting in its pipe)."""
        return {int(i) for queue in self.held.values() for i, _ in queue}

    def kill(self, worker: int) -> None:
        if self.procs[worker].is_alive():
            self.procs[worker].kill()

    def stop(self, quick: bool) -> None:
        """Tell every worker to end (its shutdown() runs), then kill what is left."""
        for conn in self.conns.values():
            try:
                conn.send(None)
            except (OSError, ValueError):
                pass
        deadline = time.monotonic() + (2.0 if quick else 30.0)
        for proc in self.procs.values():
            proc.join(timeout=max(0.1, deadline - time.monotonic()))
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
        for conn in self.conns.values():
            conn.close()
