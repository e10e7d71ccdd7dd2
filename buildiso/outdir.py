"""Output folders (``--out``): checked before any work, created only when needed, and
removed again when a build that created one fails (no empty folder left behind).

Every way an output path can be wrong — a file, a path under a file, ``/dev/null``,
``/proc/x``, a read-only file system, no permission — is one InputError naming the path.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from buildiso.errors import InputError

_HINT = "give --out a folder (new or existing) on a writable file system"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path("/")


def _refuse(path: Path, why: str, *, option: str) -> InputError:
    return InputError(f"{option} {path}: {why}", hint=_HINT)


def check(path: Path, *, option: str = "--out") -> None:
    """Refuse an output folder that cannot be one, creating nothing."""
    path = Path(os.path.abspath(path))
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        raise _refuse(path, "exists and is not a folder", option=option)
    if existing != path and not existing.is_dir():
        raise _refuse(path, f"{existing} is not a folder", option=option)
    try:
        readonly = os.statvfs(existing).f_flag & os.ST_RDONLY
    except OSError as exc:
        raise _refuse(path, f"cannot look at {existing} ({exc.strerror})", option=option) from None
    if readonly:
        raise _refuse(path, f"{existing} is on a read-only file system", option=option)
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _refuse(path, f"no permission to write into {existing}", option=option)


def make(path: Path, *, option: str = "--out") -> bool:
    """Create the folder (parents too); True if it did not exist before."""
    check(path, option=option)
    if path.is_dir():
        return False
    try:
        path.mkdir(parents=True)
    except FileExistsError:
        if path.is_dir():
            return False  # another build created it meanwhile
        raise _refuse(path, "exists and is not a folder", option=option) from None
    except OSError as exc:
        why = exc.strerror or errno.errorcode.get(exc.errno or 0, "error")
        raise _refuse(path, f"cannot create it ({why})", option=option) from None
    return True


@contextmanager
def removed_if_left_empty(path: Path) -> Iterator[None]:
    """On any error, remove ``path`` and the parents this block created, if empty."""
    path = Path(os.path.abspath(path))
    new = [p for p in (path, *path.parents) if not p.exists()]
    try:
        yield
    except BaseException:
        for folder in new:  # deepest first
            try:
                folder.rmdir()
            except OSError:
                break  # not empty, or gone: leave it
        raise
