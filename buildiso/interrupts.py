"""Ctrl-C, SIGTERM and SIGHUP: one way to stop, whichever arrives.

CI runners send SIGTERM when a job is cancelled or times out, systemd on a stop, a closed
terminal or SSH session sends SIGHUP. Left to their defaults, both kill the process at
once: no ``finally`` runs, so QEMU and other children are orphaned under PID 1, private
folders stay and nothing is written. ``terminate_as_interrupt`` turns them into
``Terminated``, a ``KeyboardInterrupt`` (what Ctrl-C raises), so every verb that starts
children cleans up the same way for all three; ``signal_of`` tells which one it was.

``signals_held`` holds them (noted, not lost) while a few renames must happen together,
then delivers the first: with Python-level handlers, not a signal mask, because a mask
covers the calling thread only and the kernel hands a process-directed signal to any
thread that does not block it (a hashing or QMP thread), after which Python runs the
handler in the main thread anyway, inside the block.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType

log = logging.getLogger(__name__)

TERMINATING = (signal.SIGTERM, signal.SIGHUP)  # handled as Ctrl-C (SIGINT) is


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP, raised where Ctrl-C's KeyboardInterrupt would be."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def signal_of(exc: BaseException) -> signal.Signals:
    """The signal behind a KeyboardInterrupt: SIGTERM/SIGHUP for ``Terminated``, else SIGINT."""
    return signal.Signals(exc.signum if isinstance(exc, Terminated) else signal.SIGINT)


def exit_code(exc: BaseException) -> int:
    """128 + the signal's number, as a shell reports a process stopped by it."""
    return 128 + int(signal_of(exc))


@contextmanager
def terminate_as_interrupt() -> Iterator[None]:
    """Within the block, SIGTERM and SIGHUP raise ``Terminated`` in the main thread."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise Terminated(signum)

    previous = {signum: signal.signal(signum, interrupt) for signum in TERMINATING}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextmanager
def signals_held(*, deliver: bool = True) -> Iterator[None]:
    """Ctrl-C, SIGTERM and SIGHUP are held (not lost) until the block ends, then the first
    is delivered again, to this thread, with the handlers of before. ``deliver=False``:
    they are only noted (the block is already the clean-up of an interrupt)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pending.append(signum)
        if not deliver:
            log.warning("%s: already stopping", signal.Signals(signum).name)

    held = (signal.SIGINT, *TERMINATING)
    previous = {signum: signal.signal(signum, hold) for signum in held}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
        if pending and deliver:
            signal.raise_signal(pending[0])
