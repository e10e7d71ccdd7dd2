"""Logging setup: one logger tree under "buildiso", plain messages on stderr."""

from __future__ import annotations

import logging
import sys
import time
from types import TracebackType

log = logging.getLogger("buildiso")


class _CurrentStderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever ``sys.stderr`` is at emit time.

    A handler bound to the stderr of the moment breaks when that stream is replaced and
    closed (pytest's capture, a redirected CLI run inside a long-lived process); worker
    threads of the boot-test matrix would then log into a closed file.
    """

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def setup_logging(*, debug: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = _CurrentStderrHandler()
    fmt = "%(levelname)s %(name)s: %(message)s" if debug else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


class Step:
    """A top-level progress line (what the user watches on a long build), printed at once.

    Used as a context manager it is a timed step (as mkosi's): when the block ends without
    an error, ``<== message (1.2 s)`` says how long it took.
    """

    def __init__(self, message: str) -> None:
        self.message = message
        self.started = time.monotonic()
        self.seconds: float | None = None
        log.info("==> %s", message)

    def __enter__(self) -> Step:
        self.started = time.monotonic()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.seconds = time.monotonic() - self.started
            log.info("<== %s (%.1f s)", self.message, self.seconds)


def step(message: str) -> Step:
    """``step("...")`` announces; ``with step("..."):`` also reports the duration."""
    return Step(message)
