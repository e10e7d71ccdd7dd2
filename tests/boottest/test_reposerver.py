"""buildiso.boottest.reposerver: the online tree over HTTP, on 127.0.0.1 only, and only while
its block runs (an error, Ctrl-C or SIGTERM ends it)."""

from __future__ import annotations

import http.client
import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import pytest

from buildiso.boottest.reposerver import RepoServer


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    root = tmp_path / "online"
    (root / "rhel6/gw/os/x86_64/repodata").mkdir(parents=True)
    (root / "rhel6/gw/os/x86_64/repodata/repomd.xml").write_text("<repomd/>\n")
    (root / "it-pub.key").write_bytes(b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n" * 100)
    (tmp_path / "secret").write_text("outside the tree\n")
    return root


def _get(port: int, target: str, method: str = "GET") -> tuple[int, bytes, dict[str, str]]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        conn.request(method, target)
        reply = conn.getresponse()
        return reply.status, reply.read(), dict(reply.getheaders())
    finally:
        conn.close()


def _raw(port: int, request: bytes) -> bytes:
    """A request as bytes (no client library tidying the path), the reply as bytes."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(request)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
    return reply


def _refused(port: int, host: str = "127.0.0.1") -> bool:
    try:
        socket.create_connection((host, port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_it_serves_the_trees_files_and_logs_each_request(tree: Path, tmp_path: Path) -> None:
    log = tmp_path / "cell" / "repo-server.log"
    with RepoServer(tree, log_path=log) as server:
        status, body, headers = _get(server.port, "/it-pub.key")
        assert status == 200 and body == (tree / "it-pub.key").read_bytes()
        assert headers["Content-Length"] == str(len(body))
        status, body, _ = _get(server.port, "/rhel6/gw/os/x86_64/repodata/repomd.xml?x=1")
        assert (status, body) == (200, b"<repomd/>\n")
        status, body, headers = _get(server.port, "/it-pub.key", method="HEAD")
        assert (status, body, headers["Content-Length"]) == (200, b"", "3700")
        status, _, _ = _get(server.port, "/rhel6/gw/os/x86_64/Packages/none.rpm")
        assert status == 404
    assert [(r.method, r.path, r.status) for r in server.requests] == [
        ("GET", "/it-pub.key", 200),
        ("GET", "/rhel6/gw/os/x86_64/repodata/repomd.xml?x=1", 200),
        ("HEAD", "/it-pub.key", 200),
        ("GET", "/rhel6/gw/os/x86_64/Packages/none.rpm", 404),
    ]
    lines = log.read_text().splitlines()
    assert len(lines) == 4 and lines[0].endswith("GET '/it-pub.key' 200 3700")


def test_nothing_outside_the_tree_no_symlink_no_listing(tree: Path, tmp_path: Path) -> None:
    (tree / "link.key").symlink_to(tree / "it-pub.key")
    (tree / "away").symlink_to(tmp_path)  # a folder link out of the tree
    with RepoServer(tree, log_path=tmp_path / "log") as server:
        for target in ("/link.key", "/away/secret", "/rhel6/", "/", "/rhel6/gw"):
            assert _get(server.port, target)[0] == 404, target
        for raw in (b"GET /../secret HTTP/1.0\r\n\r\n", b"GET /rhel6/../../secret HTTP/1.0\r\n\r\n",
                    b"GET /%2e%2e/secret HTTP/1.0\r\n\r\n", b"GET secret HTTP/1.0\r\n\r\n",
                    b"GET http://repo.clearswift.net/it-pub.key HTTP/1.0\r\n\r\n"):  # fmt: skip
            reply = _raw(server.port, raw)
            assert reply.startswith(b"HTTP/1.0 404"), (raw, reply[:40])
            assert b"outside the tree" not in reply
        assert _get(server.port, "/it-pub.key", method="POST")[0] == 501
        assert _get(server.port, "/it-pub.key", method="PUT")[0] == 501


def test_it_listens_on_127_0_0_1_and_nothing_else(tree: Path, tmp_path: Path) -> None:
    with RepoServer(tree, log_path=tmp_path / "log") as server:
        assert server.address == ("127.0.0.1", server.port)
        # the rest of 127/8 reaches the host too, but not a socket bound to 127.0.0.1
        assert _refused(server.port, "127.0.0.2")
        assert _get(server.port, "/it-pub.key")[0] == 200


@pytest.mark.parametrize("stop", [RuntimeError, KeyboardInterrupt])
def test_an_error_or_ctrl_c_in_its_block_stops_it(
    tree: Path, tmp_path: Path, stop: type[BaseException]
) -> None:
    with pytest.raises(stop):
        with RepoServer(tree, log_path=tmp_path / "log") as server:
            port = server.port
            assert _get(port, "/it-pub.key")[0] == 200
            raise stop()
    assert _refused(port)
    assert not [t for t in threading.enumerate() if t.name == "repo-server"]
    server.close()  # idempotent


def test_a_sigterm_to_its_process_leaves_no_server(tree: Path, tmp_path: Path) -> None:
    """The server is threads of the process that runs it: a terminated boot-test takes it
    along (with the runner's SIGTERM handling its block ends first, as with Ctrl-C)."""
    script = textwrap.dedent(f"""\
        import sys, time
        from pathlib import Path
        from buildiso.boottest.reposerver import RepoServer
        with RepoServer(Path({str(tree)!r}), log_path=Path({str(tmp_path / "log")!r})) as s:
            print(s.port, flush=True)
            time.sleep(60)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    port = int(proc.stdout.readline())
    assert _get(port, "/it-pub.key")[0] == 200
    os.kill(proc.pid, signal.SIGTERM)
    assert proc.wait(10) == -signal.SIGTERM
    assert _refused(port)


def test_a_connection_that_says_nothing_does_not_hold_it(tree: Path, tmp_path: Path) -> None:
    server = RepoServer(tree, log_path=tmp_path / "log").__enter__()
    idle = socket.create_connection(("127.0.0.1", server.port))
    try:
        assert _get(server.port, "/it-pub.key")[0] == 200  # served meanwhile
        started = time.monotonic()
        server.close()
        assert time.monotonic() - started < 5  # stopping does not wait for the idle one
        assert _refused(_port_of(idle))
    finally:
        idle.close()


def _port_of(sock: socket.socket) -> int:
    return int(sock.getpeername()[1])


def test_the_log_is_not_written_through_a_planted_link(tree: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("keep\n")
    log = tmp_path / "repo-server.log"
    log.symlink_to(victim)
    with pytest.raises(OSError):
        RepoServer(tree, log_path=log).__enter__()
    assert victim.read_text() == "keep\n"
