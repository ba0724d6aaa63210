"""Run a step's process: argv only (never a shell), output streamed to the log, killable as a group."""

from __future__ import annotations

import collections
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import IO, Any

__all__ = ["StepProcess"]


class StepProcess:
    """One child process in its own session; ``kill()`` ends it and everything it started."""

    def __init__(
        self, argv: list[str], *, cwd: Path, env: dict[str, str], log: Any, logdir: Path, prefix: str = ""
    ):
        self.argv = argv
        self.cwd = cwd
        self.env = env
        self.log = log
        self.logdir = logdir
        self.prefix = prefix
        self.stderr_tail: collections.deque[str] = collections.deque(maxlen=40)
        self.proc: subprocess.Popen[bytes] | None = None
        self._waiting_in: int | None = None  # the thread blocked in run()'s wait

    def run(self) -> int:
        """Start, stream stdout/stderr into the log and files, wait; kill the group if interrupted."""
        self.logdir.mkdir(parents=True, exist_ok=True)
        self.log.info("Running %s (cwd %s)", " ".join(self.argv), self.cwd)
        self.proc = subprocess.Popen(
            self.argv,
            cwd=self.cwd,
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        threads = [
            threading.Thread(
                target=self._pump, args=(self.proc.stdout, self.logdir / "stdout.txt", False), daemon=True
            ),
            threading.Thread(
                target=self._pump, args=(self.proc.stderr, self.logdir / "stderr.txt", True), daemon=True
            ),
        ]
        for t in threads:
            t.start()
        self._waiting_in = threading.get_ident()
        try:
            code = self.proc.wait()
        except BaseException:
            self._waiting_in = None
            self.kill()
            raise
        finally:
            self._waiting_in = None
        for t in threads:
            t.join(timeout=10)
        return code

    def _pump(self, stream: IO[bytes] | None, path: Path, is_err: bool) -> None:
        if stream is None:
            return
        with path.open("ab") as fh:
            for raw in iter(stream.readline, b""):
                fh.write(raw)
                fh.flush()
                line = raw.decode("utf-8", errors="replace").rstrip("\n")
                if is_err:
                    self.stderr_tail.append(line)
                self.log.info("%s%s", self.prefix, line)

    def kill(self, grace: float = 5.0) -> None:
        """SIGTERM the process group, then SIGKILL whatever is left after ``grace`` seconds."""
        proc = self.proc
        if proc is None or proc.poll() is not None:
            return
        try:
            pgid = os.getpgid(proc.pid)
        except ProcessLookupError:
            return
        self.log.warning("Stopping step process group %s", pgid)
        _signal_group(pgid, signal.SIGTERM)
        if self._waiting_in == threading.get_ident():
            # a signal handler (the task's SIGTERM -> on_kill) interrupting run()'s wait in this thread:
            # waiting here would deadlock on the Popen's wait lock, so a thread ends the group later
            threading.Thread(target=_kill_group_after, args=(pgid, grace), daemon=True).start()
            return
        deadline = time.monotonic() + grace
        while proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        _signal_group(pgid, signal.SIGKILL)
        proc.wait()


def _kill_group_after(pgid: int, grace: float) -> None:
    """SIGKILL the group if any member is still there after ``grace`` seconds."""
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline:
        try:
            os.killpg(pgid, 0)
        except (ProcessLookupError, PermissionError):
            return
        time.sleep(0.05)
    _signal_group(pgid, signal.SIGKILL)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except ProcessLookupError:
        pass
