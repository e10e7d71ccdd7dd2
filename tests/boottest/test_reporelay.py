"""buildiso.boottest.reporelay: one guest connection copied to the repository server and back,
run as QEMU runs it (``python3 -I -S reporelay.py PORT``, the connection on stdin/stdout)."""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from buildiso.boottest import reporelay
from buildiso.boottest.qemu import RELAY
from buildiso.boottest.reposerver import RepoServer


@pytest.fixture()
def server(tmp_path: Path) -> RepoServer:
    root = tmp_path / "online"
    root.mkdir()
    (root / "it-pub.key").write_bytes(b"KEY" * 50000)  # more than one read's worth
    with RepoServer(root, log_path=tmp_path / "log") as running:
        yield running  # type: ignore[misc]


def _read_all(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    return data


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_qemu_runs_it_isolated_on_the_guests_connection(server: RepoServer) -> None:
    """As slirp starts it: stdin, stdout (and stderr) are one end of a socket pair."""
    guest, qemu_end = socket.socketpair()
    proc = subprocess.Popen([sys.executable, "-I", "-S", str(RELAY), str(server.port)],
                            stdin=qemu_end, stdout=qemu_end, stderr=qemu_end)  # fmt: skip
    qemu_end.close()
    guest.sendall(b"GET /it-pub.key HTTP/1.0\r\nHost: repo.clearswift.net\r\n\r\n")
    reply = _read_all(guest)  # the relay exits when the server closes: EOF for the guest
    assert proc.wait(10) == 0
    head, _, body = reply.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.0 200") and body == b"KEY" * 50000
    guest.close()


def test_each_connection_gets_its_own_relay(server: RepoServer) -> None:
    for _ in range(3):  # what a tcp: target could not do: a second, a third request
        guest, relay_end = socket.socketpair()
        done = threading.Thread(target=reporelay.relay, args=(server.port,),
                                kwargs={"guest_in": relay_end.fileno(),
                                        "guest_out": relay_end.fileno()})  # fmt: skip
        done.start()
        guest.sendall(b"HEAD /it-pub.key HTTP/1.0\r\n\r\n")
        done.join(10)
        relay_end.close()
        assert _read_all(guest).startswith(b"HTTP/1.0 200")
        guest.close()
    assert [r.method for r in server.requests] == ["HEAD"] * 3


def test_a_server_that_is_gone_closes_the_guests_connection_at_once() -> None:
    guest, qemu_end = socket.socketpair()
    started = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-I", "-S", str(RELAY), str(_free_port())],
                            stdin=qemu_end, stdout=qemu_end, stderr=qemu_end)  # fmt: skip
    qemu_end.close()
    assert proc.wait(10) == 1
    assert _read_all(guest) == b""  # nothing written to the guest: no traceback, no text
    assert time.monotonic() - started < 10
    guest.close()


def test_a_relay_ends_when_the_server_stops(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    running = RepoServer(tmp_path / "t", log_path=tmp_path / "log").__enter__()
    guest, relay_end = socket.socketpair()
    result: list[int] = []
    thread = threading.Thread(target=lambda: result.append(reporelay.relay(
        running.port, guest_in=relay_end.fileno(), guest_out=relay_end.fileno())))
    thread.start()
    guest.sendall(b"GET /")  # half a request: the server's handler waits for the rest
    time.sleep(0.5)
    started = time.monotonic()
    running.close()  # the cell ends: its server stops, and with it the connection
    thread.join(10)
    assert not thread.is_alive() and result == [0]
    assert time.monotonic() - started < 5
    relay_end.close()  # the relay's process ends: QEMU's side of the connection closes
    assert _read_all(guest) == b""
    guest.close()


def test_an_idle_connection_ends(server: RepoServer) -> None:
    guest, relay_end = socket.socketpair()
    started = time.monotonic()
    code = reporelay.relay(server.port, guest_in=relay_end.fileno(),
                           guest_out=relay_end.fileno(), idle_s=0.5)  # fmt: skip
    assert code == 1 and time.monotonic() - started < 5
    guest.close()
    relay_end.close()


@pytest.mark.parametrize("argv", [[], ["x"], ["0"], ["70000"], ["80", "81"]])
def test_bad_arguments_exit_2_saying_nothing(argv: list[str], capsys: pytest.CaptureFixture[str]
                                             ) -> None:  # fmt: skip
    assert reporelay.main(argv) == 2
    assert capsys.readouterr() == ("", "")
