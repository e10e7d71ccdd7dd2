"""Output folders (``--out``): checked before any work, created only when needed,
removed again when a build that created one fails (no empty folder left behind), and
locked while a verb writes into them.

Every way an output path can be wrong — a file, a path under a file, ``/dev/null``,
``/proc/x``, a read-only file system, no permission — is one InputError naming the path.

``locked``: one writer per output folder (``boot-test --artifacts``, ``report --out``). The
lock is an ``flock`` on the folder itself, so no lock file is left behind and a killed
writer's lock goes with it. A second writer is refused at once in one line (exit 2)
rather than made to wait: two runs into one folder is a mistake (the second would replace
the first's results), and a boot test runs for many minutes. A verb that replaces the
folder by a new one (``report``) locks the new one too before renaming it into place
(``Lock.also``), so no one slips in between.
"""

from __future__ import annotations

import errno
import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from buildiso.errors import InputError

_HINT = "give {option} a folder (new or existing) on a writable file system"


def _nearest_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists() or candidate.is_symlink():
            return candidate
    return Path("/")


def _refuse(path: Path, why: str, *, option: str) -> InputError:
    return InputError(f"{option} {path}: {why}", hint=_HINT.format(option=option))


def check(path: Path, *, option: str = "--out") -> None:
    """Refuse an output folder that cannot be one, creating nothing."""
    path = Path(os.path.abspath(path))
    existing = _nearest_existing(path)
    if existing == path and not path.is_dir():
        raise _refuse(path, "exists and is not a folder", option=option)
    if existing != path and not existing.is_dir():
        raise _refuse(path, f"{existing} is not a folder", option=option)
    try:
        fs = os.statvfs(existing)
    except OSError as exc:
        raise _refuse(path, f"cannot look at {existing} ({exc.strerror})", option=option) from None
    if fs.f_flag & os.ST_RDONLY:
        raise _refuse(path, f"{existing} is on a read-only file system", option=option)
    if fs.f_blocks == 0:  # proc, sysfs, cgroup: the kernel's views, no room for files
        raise _refuse(path, f"{existing} is on a file system that stores no files",
                      option=option)  # fmt: skip
    if not os.access(existing, os.W_OK | os.X_OK):
        raise _refuse(path, f"no permission to write into {existing}", option=option)


def check_file(path: Path, *, option: str) -> None:
    """Refuse an output file that cannot be one (its folder as ``check``; the file itself,
    if there, a regular file and no link), creating nothing."""
    full = Path(os.path.abspath(path))
    if full.is_symlink():
        raise InputError(f"{option} {path}: a symbolic link; buildiso writes no file through "
                         "a link", hint="give the real path")  # fmt: skip
    if full.exists() and not full.is_file():
        what = "a folder" if full.is_dir() else "not a regular file"
        raise InputError(f"{option} {path}: {what}", hint=f"give {option} a file name to write")
    try:
        check(full.parent, option=option)
    except InputError as exc:
        raise InputError(f"{option} {path}: {exc.message.removeprefix(f'{option} ')}",
                         hint=f"give {option} a file in a writable folder") from None


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


class Lock:
    """The locks one writer holds (see ``locked``)."""

    def __init__(self, *, option: str, verb: str) -> None:
        self.option = option
        self.verb = verb
        self._fds: list[int] = []

    def take(self, path: Path) -> None:
        """Lock ``path`` (an existing folder) or refuse: another writer holds it."""
        for _attempt in range(20):
            fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise InputError(
                    f"{self.option} {path}: another buildiso {self.verb} is writing into it",
                    hint=f"wait until it ends, or give {self.option} another folder",
                ) from None
            try:
                same = os.path.samestat(os.fstat(fd), os.stat(path))
            except FileNotFoundError:
                same = False
            if same:
                self._fds.append(fd)
                return
            # replaced meanwhile (by the writer that just let go): lock the new one
            os.close(fd)
            make(path, option=self.option)
        raise _refuse(path, "replaced over and over while being locked", option=self.option)

    def also(self, path: Path) -> None:
        """Lock a folder about to take the locked one's place (nobody else knows it yet)."""
        self.take(path)

    def release(self) -> None:
        for fd in self._fds:
            os.close(fd)  # closing drops the flock
        self._fds.clear()


@contextmanager
def locked(path: Path, *, option: str, verb: str) -> Iterator[Lock]:
    """``path`` created if needed (``make``) and locked for this process until the block
    ends; InputError (exit 2) when another writer holds it."""
    make(path, option=option)
    lock = Lock(option=option, verb=verb)
    try:
        lock.take(path)
        yield lock
    finally:
        lock.release()
