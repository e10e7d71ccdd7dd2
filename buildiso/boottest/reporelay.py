"""One guest connection to the repository server, relayed: QEMU's ``guestfwd`` ``cmd:`` target.

A guest on QEMU's restricted user network reaches the scenario's repository server
(``boottest/reposerver.py``, on the host's 127.0.0.1) at 10.0.2.100:80 only: QEMU starts
this program for each connection the guest opens there, with the connection as its stdin
and stdout (``guestfwd=tcp:10.0.2.100:80-cmd:python3 -I -S reporelay.py PORT``), and it
copies bytes both ways between that and 127.0.0.1:PORT until either side closes. A
``tcp:127.0.0.1:PORT`` target would not do: QEMU makes it one connection for the guest's
whole life (measured on QEMU 7.2: the guest's first HTTP request is answered, the second
hangs), and yum opens many.

QEMU runs it with ``-I -S`` (isolated, no site packages), so it imports the standard
library only, nothing of buildiso. It prints nothing: its stdout is the guest's
connection. It ends when either side closes, when the server cannot be reached (the guest
then sees its connection closed), or after ``IDLE_S`` without a byte either way, so no
relay outlives the test's server or its QEMU for long.
"""

from __future__ import annotations

import os
import selectors
import socket
import sys

HOST = "127.0.0.1"  # the only address a relay connects to: nothing leaves the machine
IDLE_S = 120.0
CHUNK = 65536


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view) :]


def relay(port: int, *, guest_in: int = 0, guest_out: int = 1, idle_s: float = IDLE_S) -> int:
    """Copy between the guest's connection (``guest_in``/``guest_out``) and HOST:``port``
    until one side closes: 0; 1 when the server cannot be reached or a side fails."""
    try:
        server = socket.create_connection((HOST, port), timeout=idle_s)
    except OSError:
        return 1
    with server, selectors.DefaultSelector() as sel:
        sel.register(guest_in, selectors.EVENT_READ, "guest")
        sel.register(server, selectors.EVENT_READ, "server")
        try:
            while True:
                ready = sel.select(timeout=idle_s)
                if not ready:
                    return 1  # idle: neither side said anything for idle_s
                for key, _ in ready:
                    if key.data == "guest":
                        data = os.read(guest_in, CHUNK)
                        if not data:  # the guest closed its sending side
                            sel.unregister(guest_in)
                            server.shutdown(socket.SHUT_WR)
                            continue
                        server.sendall(data)
                    else:
                        data = server.recv(CHUNK)
                        if not data:  # the server answered and closed: so does the relay
                            return 0
                        _write_all(guest_out, data)
        except OSError:
            return 1


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not argv[0].isdigit() or not 0 < int(argv[0]) < 65536:
        return 2  # nothing printed: stdout is a guest's connection
    return relay(int(argv[0]))


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
