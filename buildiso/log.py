"""Logging setup: one logger tree under "buildiso", plain messages on stderr."""

from __future__ import annotations

import logging
import sys

log = logging.getLogger("buildiso")


def setup_logging(*, debug: bool = False, quiet: bool = False) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    fmt = "%(levelname)s %(name)s: %(message)s" if debug else "%(message)s"
    handler.setFormatter(logging.Formatter(fmt))
    log.handlers[:] = [handler]
    log.setLevel(level)
    log.propagate = False


def step(message: str) -> None:
    """A top-level progress line (what the user watches on a long build)."""
    log.info("==> %s", message)
