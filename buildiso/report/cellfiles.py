"""The files of a results folder, read without following links and within size bounds.

``buildiso report`` publishes what a shard folder holds (CI puts the report on Pages), so a
link planted in it (``console.log -> /etc/shadow``, a screenshot, a filmstrip frame, the
whole cell folder) must never be read. The shard folders themselves are named on the
command line: a link there is the user's own choice and is followed. Below them, every
component is checked and opened relative to its parent's descriptor with ``O_NOFOLLOW``,
so nothing swapped in between the check and the open is followed either. A link, or
anything that is not a regular file where a file is read (a FIFO would block the report, a
device would never end), is ``Refused``: one line naming it, which the report shows as a
broken artifact.

Every read is bounded: JSON by its reader (``boottest/results.py``), a picture by
``MAX_PICTURE_BYTES`` (a larger one is refused; a 1280x800 screen's PNG is far smaller),
a serial log by ``MAX_LOG_BYTES`` (a larger one is published as its last part: the end of
a log is where a failure shows).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

MAX_LOG_BYTES = 8 * 2**20
MAX_PICTURE_BYTES = 16 * 2**20
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
LINK = "a symbolic link (not followed)"
_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC
# O_NONBLOCK: opening a FIFO swapped in after the check must not wait for a writer
_FILE_FLAGS = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


class Refused(Exception):
    """A file the report does not read; the message is the broken artifact's line."""


@dataclass(frozen=True)
class Tail:
    """The last ``MAX_LOG_BYTES`` (at most) of a log; ``skipped`` bytes before them."""

    data: bytes
    skipped: int


@dataclass(frozen=True)
class ResultsFolder:
    """A folder below a shard folder (``parts`` from the shard folder ``root``)."""

    root: Path  # named by the user: followed
    parts: tuple[str, ...] = ()

    def sub(self, *names: str) -> ResultsFolder:
        return ResultsFolder(self.root, (*self.parts, *names))

    def shown(self, names: Sequence[str] = ()) -> str:
        """How a path below the shard folder is named in the report's lines."""
        return "/".join((*self.parts, *names)) or "."

    # -- opening -------------------------------------------------------------------------

    def _open(self, names: Sequence[str], *, want_dir: bool) -> int:
        """A descriptor for ``names`` below this folder, no link followed below ``root``;
        FileNotFoundError when something on the way is missing, Refused when it is a
        link or of the wrong type."""
        walk = (*self.parts, *names)
        fd = os.open(self.root, _DIR_FLAGS)
        try:
            for index, name in enumerate(walk):
                last = index == len(walk) - 1
                as_dir = want_dir or not last
                shown = "/".join(walk[: index + 1])
                info = os.stat(name, dir_fd=fd, follow_symlinks=False)
                _check_type(info.st_mode, shown, as_dir=as_dir)
                try:
                    new = os.open(name, (_DIR_FLAGS | os.O_NOFOLLOW) if as_dir else _FILE_FLAGS,
                                  dir_fd=fd)  # fmt: skip
                except OSError as exc:  # replaced since the check (ELOOP, ENOTDIR, ...)
                    raise Refused(f"{shown}: changed while read ({exc.strerror})") from None
                os.close(fd)
                fd = new
                _check_type(os.fstat(fd).st_mode, shown, as_dir=as_dir)
            return fd
        except BaseException:
            os.close(fd)
            raise

    def kind(self, name: str) -> str:
        """What ``name`` in this folder is, not following a link: ``missing``, ``link``,
        ``dir``, ``file`` or ``other`` (``missing`` too when this folder cannot be read)."""
        try:
            fd = self._open((), want_dir=True)
        except (OSError, Refused):
            return "missing"
        try:
            mode = os.stat(name, dir_fd=fd, follow_symlinks=False).st_mode
        except FileNotFoundError:
            return "missing"
        finally:
            os.close(fd)
        return _kind(mode)

    def entries(self) -> list[tuple[str, str]]:
        """(name, kind) of everything in this folder, sorted; [] when it cannot be read."""
        try:
            fd = self._open((), want_dir=True)
        except (OSError, Refused):
            return []
        try:
            with os.scandir(fd) as found:
                listed = []
                for entry in found:
                    listed.append((entry.name, _kind(entry.stat(follow_symlinks=False).st_mode)))
        finally:
            os.close(fd)
        return sorted(listed)

    # -- reading -------------------------------------------------------------------------

    def read(self, *names: str, max_bytes: int) -> bytes:
        """The file's bytes; FileNotFoundError if absent, Refused if a link, not a regular
        file or larger than ``max_bytes``."""
        fd = self._open(names, want_dir=False)
        with os.fdopen(fd, "rb") as handle:
            data = handle.read(max_bytes + 1)
        if len(data) > max_bytes:
            raise Refused(f"{self.shown(names)}: larger than {max_bytes} bytes")
        return data

    def read_picture(self, *names: str) -> bytes:
        """A PNG (checked by its signature), at most ``MAX_PICTURE_BYTES``."""
        data = self.read(*names, max_bytes=MAX_PICTURE_BYTES)
        if not data.startswith(PNG_SIGNATURE):
            raise Refused(f"{self.shown(names)}: not a PNG file")
        return data

    def read_tail(self, *names: str, max_bytes: int = MAX_LOG_BYTES) -> Tail:
        """The last ``max_bytes`` of the file (a log: its end is what matters)."""
        fd = self._open(names, want_dir=False)
        with os.fdopen(fd, "rb") as handle:
            size = os.fstat(handle.fileno()).st_size
            skipped = max(0, size - max_bytes)
            handle.seek(skipped)
            data = handle.read(max_bytes)
        return Tail(data, skipped)


def _kind(mode: int) -> str:
    if stat.S_ISLNK(mode):
        return "link"
    return "dir" if stat.S_ISDIR(mode) else "file" if stat.S_ISREG(mode) else "other"


def _check_type(mode: int, shown: str, *, as_dir: bool) -> None:
    if stat.S_ISLNK(mode):
        raise Refused(f"{shown}: {LINK}")
    if as_dir and not stat.S_ISDIR(mode):
        raise Refused(f"{shown}: not a folder")
    if not as_dir and not stat.S_ISREG(mode):
        raise Refused(f"{shown}: not a regular file")
