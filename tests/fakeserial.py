"""A unix socket server standing in for QEMU's ttyS0 (a chardev socket) and its log file.

The code under test types lines into the socket; a subclass's ``reply(line)`` says what the
guest writes to the console log in answer (echo included, or not for passwords).
"""

from __future__ import annotations

import socket
import threading
from pathlib import Path


class FakeSerial:
    def __init__(self, socket_path: Path, log: Path) -> None:
        self.path = socket_path
        self.log = log
        self.typed: list[str] = []
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(socket_path))
        self.server.listen(1)
        threading.Thread(target=self._serve, daemon=True).start()

    def write(self, text: str) -> None:
        with self.log.open("a") as fh:
            fh.write(text)

    def connected(self) -> None:
        """Called when the code under test connects (e.g. the getty's first prompt)."""

    def reply(self, line: str) -> str:
        raise NotImplementedError

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        self.connected()
        buffer = b""
        while True:
            data = conn.recv(1)
            if not data:
                return
            buffer += data
            if not buffer.endswith(b"\r"):
                continue
            line, buffer = buffer[:-1].decode(), b""
            self.typed.append(line)
            self.write(self.reply(line))
