"""Logging setup: one logger tree under "buildiso", plain messages on stderr."""

from __future__ import annotations

import logging
import sys

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


def step(message: str) -> None:
    """A top-level progress line (what the user watches on a long build)."""
    log.info("==> %s", message)
