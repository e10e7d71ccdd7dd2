"""The repository server a scenario's machine reaches: the build's online tree over HTTP.

Appendix B installs from the vendor's web server. The ``appendix-b`` scenario serves the
document root ``buildiso build`` wrote (``OUT/EMAIL_490_190.online``, docs/online-repo.md)
from a server in this process, bound to 127.0.0.1 on a port the kernel picks; the guest
reaches it at 10.0.2.100:80 through QEMU's restricted user network and a relay per
connection (``boottest/reporelay.py``, ``qemu.VmSpec.forward_port``), and nothing else.

``RepoServer`` is a context manager: the session starts it for the step that asks for it
and stops it with the cell (passed, failed, cancelled), so it never outlives the run; as
threads of this process it cannot outlive the process either, however that ends. What it
serves is what a static web server would, and no more: GET and HEAD of regular files
under the root, found without following a symlink (one in the tree is a 404, as is a
folder: no listings). Each request is a line of the cell's ``repo-server.log`` and an
entry of ``requests``.
"""

from __future__ import annotations

import contextlib
import http.server
import logging
import os
import shutil
import socket
import stat
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from urllib.parse import unquote, urlsplit

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_REQUESTS = 10000  # kept in memory for the result; the log file has them all
REQUEST_TIMEOUT_S = 60.0  # a connection that says nothing for this long is dropped


@dataclass(frozen=True)
class Request:
    method: str
    path: str
    status: int
    size: int


class _Handler(http.server.BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection (and per relay)
    timeout = REQUEST_TIMEOUT_S
    server_version = "buildiso-repo-server"

    def setup(self) -> None:
        super().setup()
        self.server.opened(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.closed(self.connection)

    def do_GET(self) -> None:  # noqa: N802 - the name http.server dispatches to
        self._serve(body=True)

    def do_HEAD(self) -> None:  # noqa: N802
        self._serve(body=False)

    def _serve(self, *, body: bool) -> None:
        path = self.server.find(self.path)
        if path is None:
            self.send_error(404)
            return
        try:
            fh = path.open("rb")
        except OSError:
            self.send_error(404)
            return
        with fh:
            size = os.fstat(fh.fileno()).st_size
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(size))
            self.end_headers()
            if body:
                shutil.copyfileobj(fh, self.wfile)
        self.server.note(self.command, self.path, 200, size if body else 0)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        super().send_error(code, message, explain)
        self.server.note(self.command or "-", self.path or "-", code, 0)

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base's name
        pass  # every request is noted once, by note()


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, log_fd: int) -> None:
        self.root = root
        self.log_fd = log_fd
        self.requests: list[Request] = []
        self._lock = threading.Lock()
        self._open: set[socket.socket] = set()
        super().__init__((HOST, 0), _Handler)

    def opened(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.add(connection)

    def closed(self, connection: socket.socket) -> None:
        with self._lock:
            self._open.discard(connection)

    def handle_error(self, request: object, client_address: object) -> None:
        # a client gone mid-reply (a guest stopped, the cell ended): nothing to print
        log.debug("repository server: request from %s ended early", client_address,
                  exc_info=True)  # fmt: skip

    def hang_up(self) -> None:
        """End every connection still open (a relay waiting on one then ends too)."""
        with self._lock:
            connections = list(self._open)
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def find(self, target: str) -> Path | None:
        """The regular file a request target names under the root, reached without a
        symlink, or None."""
        if not target.startswith("/"):
            return None
        parts = unquote(urlsplit(target).path).split("/")
        if any(p in (".", "..") or "\0" in p for p in parts):
            return None
        path, mode = self.root, 0
        for part in (p for p in parts if p):
            path = path / part
            try:
                mode = path.lstat().st_mode
            except OSError:
                return None
            if stat.S_ISLNK(mode):
                return None
        return path if stat.S_ISREG(mode) else None

    def note(self, method: str, target: str, status: int, size: int) -> None:
        entry = Request(method[:16], target[:500], status, size)
        line = f"{time.strftime('%H:%M:%S')} {entry.method} {entry.path!r} {status} {size}\n"
        with self._lock:
            if len(self.requests) < MAX_REQUESTS:
                self.requests.append(entry)
            if self.log_fd >= 0:  # a request still being answered as the server stops
                os.write(self.log_fd, line.encode("utf-8", "backslashreplace"))

    def close_log(self) -> None:
        with self._lock:
            fd, self.log_fd = self.log_fd, -1
        if fd >= 0:
            os.close(fd)


class RepoServer:
    """``with RepoServer(root, log_path=path) as server:`` serves ``root`` on
    ``127.0.0.1:server.port`` until the block ends (``requests``: what was asked, also
    after the end)."""

    def __init__(self, root: Path, *, log_path: Path) -> None:
        self.root = root
        self.log_path = log_path
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._requests: list[Request] = []

    def __enter__(self) -> RepoServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        # a log of this run, never written through a link planted in its place
        log_fd = os.open(self.log_path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW
                         | os.O_CLOEXEC, 0o644)  # fmt: skip
        try:
            self._server = _Server(self.root, log_fd)
        except BaseException:
            os.close(log_fd)
            raise
        self._requests = self._server.requests
        try:
            self._thread = threading.Thread(target=self._server.serve_forever,
                                            name="repo-server", daemon=True,
                                            kwargs={"poll_interval": 0.2})  # fmt: skip
            self._thread.start()
        except BaseException:
            self.close()
            raise
        log.debug("repository server for %s on %s:%d", self.root, HOST, self.port)
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        """Stop accepting, close the socket and every connection, wait for the serving
        thread; idempotent."""
        server, self._server = self._server, None
        if server is not None:
            if self._thread is not None and self._thread.is_alive():
                server.shutdown()  # waits for serve_forever: only if it runs
            server.server_close()
            server.hang_up()
            server.close_log()
        if self._thread is not None:
            self._thread.join(5)
            self._thread = None

    @property
    def port(self) -> int:
        return self.address[1]

    @property
    def address(self) -> tuple[str, int]:
        assert self._server is not None, "the server is not running"
        host, port = self._server.server_address[:2]
        return str(host), int(port)

    @property
    def requests(self) -> list[Request]:
        return list(self._requests)
