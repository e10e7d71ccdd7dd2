"""A growing serial log file (a QEMU ``file`` chardev), read incrementally as the guest writes."""

from __future__ import annotations

from pathlib import Path


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
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
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
