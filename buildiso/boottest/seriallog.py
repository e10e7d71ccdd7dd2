"""A growing serial log file (a QEMU ``file`` chardev), read incrementally as the guest writes.

A log is opened without following a link (``O_NOFOLLOW``): the files QEMU writes are made
afresh by ``fresh_file`` in a folder of this run, and a link found in their place later is
not read. ``read_tail`` reads the end of a log within a bound (the firmware log, QEMU's
stderr: a guest decides how much it writes).
"""

from __future__ import annotations

import os
from pathlib import Path

_READ = os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC


def fresh_file(path: Path) -> Path:
    """An empty file at ``path`` made by this process: whatever was there (a planted link
    too, the link itself) removed first, then created exclusively, never through a link."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644)
    os.close(fd)
    return path


def read_tail(path: Path, *, max_bytes: int) -> str:
    """The last ``max_bytes`` of the log at ``path`` as text; OSError if it is not there or
    is a link."""
    with open(os.open(path, _READ), "rb") as fh:
        size = os.fstat(fh.fileno()).st_size
        fh.seek(max(0, size - max_bytes))
        return fh.read(max_bytes).decode("utf-8", "replace")


class SerialLog:
    """A growing serial log file, read incrementally; ``text`` holds everything read so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._chunks: list[str] = []
        self._partial = b""

    def poll(self) -> str:
        """Read what was appended since the last call; return it (decoded, may be '')."""
        try:
            with open(os.open(self.path, _READ), "rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except OSError:  # not there yet, or a link put in its place: nothing read
            return ""
        if not data:
            return ""
        self._offset += len(data)
        data = self._partial + data
        # Keep an incomplete UTF-8 sequence for the next read.
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            byte = data[-back]
            if byte & 0xC0 == 0x80:
                continue
            if byte >= 0xC0:
                needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                if needed > back:
                    cut = len(data) - back
            break
        self._partial = data[cut:]
        text = data[:cut].decode("utf-8", "replace")
        self._chunks.append(text)
        return text

    @property
    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""
