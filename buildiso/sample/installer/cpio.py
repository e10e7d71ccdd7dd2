"""A reproducible newc cpio writer (the initramfs format the kernel unpacks).

Written in Python rather than with cpio(1) so the archive holds exactly what we list, in a
fixed order, with fixed owners, inode numbers and timestamps, and so device nodes such as
/dev/console can be added without root.
"""

from __future__ import annotations

import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Entry:
    """One archive member. ``path`` is relative ("bin/busybox"), no leading slash."""

    path: str
    mode: int  # full st_mode: type bits + permissions
    data: bytes = b""  # file contents, or the target of a symlink
    rdev: tuple[int, int] = (0, 0)  # (major, minor) for device nodes


def directory(path: str, perm: int = 0o755) -> Entry:
    return Entry(path, stat.S_IFDIR | perm)


def file(path: str, data: bytes, perm: int = 0o644) -> Entry:
    return Entry(path, stat.S_IFREG | perm, data)


def symlink(path: str, target: str) -> Entry:
    return Entry(path, stat.S_IFLNK | 0o777, target.encode())


def char_device(path: str, major: int, minor: int, perm: int = 0o600) -> Entry:
    return Entry(path, stat.S_IFCHR | perm, rdev=(major, minor))


def _header(*, ino: int, entry: Entry, mtime: int, name: bytes) -> bytes:
    fields = [
        ino,
        entry.mode,
        0,  # uid
        0,  # gid
        2 if stat.S_ISDIR(entry.mode) else 1,  # nlink
        mtime,
        len(entry.data),
        0,  # devmajor
        0,  # devminor
        entry.rdev[0],
        entry.rdev[1],
        len(name) + 1,
        0,  # check
    ]
    return b"070701" + b"".join(b"%08X" % f for f in fields)


def _pad(length: int) -> bytes:
    return b"\0" * (-length % 4)


def archive(entries: Iterable[Entry], *, mtime: int) -> bytes:
    """The newc archive of ``entries`` (sorted by path, parents first) plus the trailer."""
    out = bytearray()
    for ino, entry in enumerate(sorted(entries, key=lambda e: e.path), start=1):
        name = entry.path.encode()
        head = _header(ino=ino, entry=entry, mtime=mtime, name=name)
        out += head + name + b"\0"
        out += _pad(len(head) + len(name) + 1)
        out += entry.data + _pad(len(entry.data))
    trailer = Entry("TRAILER!!!", 0)
    head = _header(ino=0, entry=trailer, mtime=0, name=b"TRAILER!!!")
    out += head + b"TRAILER!!!\0"
    out += _pad(len(head) + 11)
    return bytes(out)


def tree_entries(root: Path, *, prefix: str = "") -> list[Entry]:
    """Entries for everything under ``root`` (dirs, regular files, symlinks), sorted walk."""
    result: list[Entry] = []
    for path in sorted(root.rglob("*")):
        rel = (Path(prefix) / path.relative_to(root)).as_posix()
        info = path.lstat()
        if stat.S_ISLNK(info.st_mode):
            result.append(symlink(rel, str(path.readlink())))
        elif stat.S_ISDIR(info.st_mode):
            result.append(directory(rel))
        elif stat.S_ISREG(info.st_mode):
            result.append(file(rel, path.read_bytes(), 0o755 if info.st_mode & 0o111 else 0o644))
    return result
