"""Ctrl-C while a run is being submitted or canceled (no Airflow import).

A Ctrl-C (SIGINT) must cancel the local run this process is submitting or waiting for, and a second
Ctrl-C must not cut that cancel short. For the main thread:

* ``interrupt_scope(*cancels)``: a block in which the first SIGINT raises KeyboardInterrupt as usual and
  every later one, until the outermost scope has ended, is held back (remembered, never raised): what the
  first one set going (the ``except`` clauses, the cancels) runs to its end, then the KeyboardInterrupt
  goes on to the caller. ``cancels`` are armed as the scope opens (before the run is sent) and stay armed
  until the outermost scope ends: a KeyboardInterrupt anywhere inside (also after the function that
  started the run returned, before its caller holds the run) cancels the run before it leaves a scope.
* ``held_back()``: a critical section (start a process and keep its handle) that SIGINT does not split:
  one that comes is raised as KeyboardInterrupt when the section ends, inside the scope that cancels.

Python runs signal handlers in the main thread, between bytecodes, at calls and loops only; the few
plain loads and stores below that must not be split have no call between them. The handler here
replaces Python's own (``signal.default_int_handler``: the interpreter's, IPython's, a Jupyter kernel's
while it runs a cell) and puts it back when the outermost scope ends. In another thread, or when the
program has a SIGINT handler of its own, a scope is a plain block: a KeyboardInterrupt still runs its
cancels, without the shield.
"""

from __future__ import annotations

import signal
import sys
import threading
from collections.abc import Callable
from typing import Any

__all__ = ["interrupt_scope", "held_back"]


class _State:
    def __init__(self) -> None:
        self.depth = 0  # open scopes of the main thread (the handler is ours while > 0)
        self.holding = 0  # > 0: a SIGINT is remembered, not raised
        self.interrupted = False  # the first SIGINT has been raised: the rest are remembered
        self.pending = False  # a SIGINT was remembered
        self.cancels: list[Callable[[], None]] = []


_state = _State()


def _on_sigint(signum: int, frame: Any) -> None:
    s = _state
    if not s.depth:  # installed, its scope not open yet (or closed): Python's own behaviour and handler
        signal.signal(signal.SIGINT, signal.default_int_handler)
        raise KeyboardInterrupt
    if s.interrupted or s.holding:
        s.pending = True
        return
    s.interrupted = True
    raise KeyboardInterrupt


def _run_cancels(cancels: list[Callable[[], None]]) -> None:
    while cancels:
        cancel = cancels.pop()
        try:
            cancel()
        except Exception as exc:  # the others still run; the KeyboardInterrupt still goes on
            print(f"Canceling after Ctrl-C failed: {exc!r}", file=sys.stderr, flush=True)


class interrupt_scope:  # noqa: N801 - used as a function: ``with interrupt_scope(handle.cancel):``
    """A block in which Ctrl-C cancels (``cancels``) and a second Ctrl-C does not stop the cancel."""

    def __init__(self, *cancels: Callable[[], None], hold: bool = False):
        self._cancels = list(cancels)
        self._hold = hold
        self._active = False
        self._outermost = False

    def __enter__(self) -> bool:
        """True: the shield is on (main thread, Python's handler replaced); False: a plain block."""
        s = _state
        if threading.current_thread() is not threading.main_thread():
            return False
        if s.depth == 0:
            if signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
                return False
            signal.signal(signal.SIGINT, _on_sigint)  # a SIGINT before the next line: as Python's own
            self._outermost = True
        s.depth += 1  # this store and the next: no handler between them
        s.holding += 1
        self._active = True
        s.cancels.extend(self._cancels)
        if not self._hold:
            s.holding -= 1
        if s.pending and not s.holding and not s.interrupted:  # came while it opened: ends it now
            s.pending, s.interrupted = False, True
            self.__exit__(KeyboardInterrupt, None, None)
            raise KeyboardInterrupt
        return True

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> bool:
        if not self._active:
            if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
                _run_cancels(self._cancels)
            return False
        s = _state
        s.holding += 1  # closing: a SIGINT waits
        self._active = False
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            s.interrupted = True
            _run_cancels(s.cancels)
        late = exc_type is None and s.pending and not s.interrupted  # came while the block ended
        if late and self._outermost:  # the caller would not get the run: it is canceled
            s.interrupted = True
            _run_cancels(s.cancels)
        if self._outermost:
            signal.signal(signal.SIGINT, signal.default_int_handler)
            s.depth, s.holding, s.interrupted, s.pending = 0, 0, False, False
            s.cancels.clear()
        else:
            s.depth -= 1
            s.holding -= 2 if self._hold else 1
            if late and not s.holding:
                s.pending, s.interrupted = False, True
            else:
                late = False
        if late:  # raised into the enclosing scope, which cancels
            raise KeyboardInterrupt
        return False


def held_back() -> interrupt_scope:
    """A critical section SIGINT does not split; one that came is raised when it ends."""
    return interrupt_scope(hold=True)
