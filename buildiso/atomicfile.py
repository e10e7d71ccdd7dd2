"""The one way buildiso puts a file in place: written beside it, fsynced, then renamed.

- ``write_bytes_atomic``, ``write_text_atomic``, ``write_json_atomic`` and ``open_atomic``
  (a file object, for writers that stream): the data goes to a fresh temporary file in the
  destination's folder, opened with ``O_CREAT | O_EXCL | O_NOFOLLOW`` (never an existing
  file, never through a link someone planted), is fsynced, and only then renamed over the
  destination. A failure at any point leaves the destination as it was and no temporary
  file behind: a reader sees the old file or the whole new one.
- ``temp_path``: a fresh name beside the destination for a program to write (xorriso,
  mkfs.fat, ...), renamed into place when the block ends without an error, removed when it
  does not. ``replace_file``: the same last step for a file made elsewhere on the same file
  system (a tool's scratch folder next to the destination).
- ``replace_dir``: a finished folder takes another's place (the old one moved aside to
  ``.NAME.old`` first, removed last). Its files are not fsynced one by one: the folders it
  swaps (the sample base, reports, caches) are rebuilt when damaged.
- ``durable=True`` also fsyncs the folder after the rename, so the new name itself survives a
  power cut (the build's published outputs); without it a crash may leave the old file, never
  a torn new one.

A destination that is a symbolic link is refused: buildiso follows no link it was not given,
and renaming over one would silently drop the link the user made. Temporary files are
``.NAME.XXXXXXXX.tmp`` in the destination's folder (same file system: the rename is atomic).
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from buildiso.errors import InputError

_OPEN_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
_NAME_ROOM = 200  # of 255 bytes per name: room for the dot, the random part and ".tmp"


def _refuse_link(dest: Path) -> None:
    if dest.is_symlink():
        raise InputError(
            f"{dest} is a symbolic link: buildiso does not write through links",
            hint="remove the link or give the real path",
        )


def _temp_name(dest: Path) -> Path:
    return dest.with_name(f".{dest.name[:_NAME_ROOM]}.{secrets.token_hex(4)}.tmp")


def fsync_path(path: Path) -> None:
    """fsync a file's data or a folder's entries (opened read-only: works for both)."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextmanager
def open_atomic(dest: Path, *, durable: bool = False) -> Iterator[IO[bytes]]:
    """A binary file that becomes ``dest`` when the block ends without an error."""
    _refuse_link(dest)
    while True:
        tmp = _temp_name(dest)
        try:
            fd = os.open(tmp, _OPEN_FLAGS, 0o666)  # the umask applies, as for open()
            break
        except FileExistsError:
            continue  # someone else's name: draw another
    try:
        with open(fd, "wb", closefd=True) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())  # on disk before the name points at it
        os.replace(tmp, dest)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_path(dest.parent)


def write_bytes_atomic(dest: Path, data: bytes, *, durable: bool = False) -> Path:
    with open_atomic(dest, durable=durable) as handle:
        handle.write(data)
    return dest


def write_text_atomic(
    dest: Path, text: str, *, encoding: str = "utf-8", durable: bool = False
) -> Path:
    return write_bytes_atomic(dest, text.encode(encoding), durable=durable)


def write_json_atomic(
    dest: Path, data: Any, *, indent: int = 2, sort_keys: bool = False, durable: bool = False
) -> Path:
    """``data`` as JSON plus a final newline (serialised first: bad data writes nothing)."""
    text = json.dumps(data, indent=indent, sort_keys=sort_keys) + "\n"
    return write_text_atomic(dest, text, durable=durable)


def replace_file(src: Path, dest: Path, *, durable: bool = False) -> Path:
    """Rename the finished file ``src`` (same file system) to ``dest``, fsynced first."""
    _refuse_link(dest)
    fsync_path(src)
    os.replace(src, dest)
    if durable:
        fsync_path(dest.parent)
    return dest


def move_aside(src: Path, dest: Path) -> Path:
    """Rename an old output (a file, a folder or a link) out of the way to ``dest``, a name
    that must not exist yet: no new data, so nothing to fsync first."""
    if dest.exists() or dest.is_symlink():
        raise FileExistsError(errno.EEXIST, "already there", str(dest))
    os.replace(src, dest)
    return dest


@contextmanager
def temp_path(dest: Path, *, durable: bool = False) -> Iterator[Path]:
    """A fresh, not yet existing path beside ``dest`` for a program to write.

    When the block ends without an error the file there becomes ``dest``
    (``replace_file``); otherwise whatever the program left is removed.
    """
    _refuse_link(dest)
    tmp = _temp_name(dest)
    try:
        yield tmp
        replace_file(tmp, dest, durable=durable)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def replace_dir(src: Path, dest: Path) -> Path:
    """The finished folder ``src`` (same file system) becomes ``dest``.

    An existing ``dest`` is moved aside to ``.NAME.old`` and removed only once ``src`` is in
    place; if that rename fails, the old folder is put back.
    """
    _refuse_link(dest)
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        os.rename(dest, old)
    try:
        os.rename(src, dest)
    except BaseException:
        if old.exists() and not dest.exists():
            os.rename(old, dest)
        raise
    shutil.rmtree(old, ignore_errors=True)
    return dest
