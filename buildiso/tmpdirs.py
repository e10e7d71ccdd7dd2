"""Private temporary folders under /tmp that a killed build cannot leave behind for good.

A SIGKILLed build (OOM killer, CI timeout, power loss) runs no cleanup, so its temporary
folders stay. Each folder made here holds a lock (``flock`` on ``.buildiso.lock`` inside it)
for as long as its owner lives; the kernel drops the lock when the owner dies, however it
dies. Before making a new folder, folders of ours whose lock can be taken are removed:
their owner is gone. A live build's folder is never touched (its lock is held), and this
also holds across PID namespaces, where a PID check would not.
"""

from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

log = logging.getLogger(__name__)

PREFIX = "buildiso-"
LOCK_NAME = ".buildiso.lock"
_PURPOSE = re.compile(r"^[a-z0-9]+$")


def _stale(folder: Path) -> bool:
    """Whether ``folder``'s lock can be taken (then its owner is gone); taken and kept
    only while the folder is removed."""
    try:
        fd = os.open(folder / LOCK_NAME, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError:
        return False  # no lock file: not ours, or its owner is still setting it up
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        os.close(fd)
        return False
    try:
        shutil.rmtree(folder, ignore_errors=True)
    finally:
        os.close(fd)
    return True


def remove_stale(root: Path | None = None) -> list[Path]:
    """Remove the folders of dead builds under ``root`` (default: the temp folder)."""
    base = Path(tempfile.gettempdir()) if root is None else root
    removed = []
    with suppress(OSError):
        for folder in sorted(base.glob(f"{PREFIX}*")):
            if folder.is_dir() and not folder.is_symlink() and _stale(folder):
                log.info("    removed %s, left by a killed build", folder)
                removed.append(folder)
    return removed


@contextmanager
def private_dir(purpose: str, *, root: Path | None = None) -> Iterator[Path]:
    """A fresh ``buildiso-<purpose>-XXXX`` folder, locked while in use, removed after."""
    if not _PURPOSE.match(purpose):
        raise ValueError(f"purpose {purpose!r}: lower-case letters and digits only")
    remove_stale(root)
    # Locked under a hidden name first, then renamed into view: remove_stale never sees
    # the folder before its lock is held.
    setup = Path(tempfile.mkdtemp(prefix=f".{PREFIX}{purpose}-", dir=root))
    folder = setup
    fd = os.open(setup / LOCK_NAME, os.O_RDONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        folder = setup.with_name(setup.name.removeprefix("."))
        os.rename(setup, folder)
        yield folder
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        os.close(fd)
