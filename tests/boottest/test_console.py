"""buildiso.boottest.console: the serial shell against a fake QEMU socket and a log file."""

from __future__ import annotations

import socket
import threading
from pathlib import Path

import pytest

from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.console import SerialShell, _after_echo, _strip_echo
from buildiso.boottest.seriallog import SerialLog

COMMAND = "rpm -ivh /media/os/cs-repo/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm"


def test_a_wrapped_echo_still_matches_and_the_output_is_what_follows() -> None:
    # busybox's line editor wrapped the echo at the terminal's 80 columns
    text = (
        "[root@localhost ~]# rpm -ivh /media/os/cs-repo/Packages/cs-email-repo-conf-3.6.3\n\n"
        "-1.x86_64.rpm\nUpdating / installing...\n   1:cs-email-repo-conf\n[root@localhost ~]# "
    )
    assert _after_echo(COMMAND).search(text)
    assert _strip_echo(text, COMMAND) == "Updating / installing...\n   1:cs-email-repo-conf"
    assert not _after_echo(COMMAND).search(text[:-25])  # no prompt yet: still running


class FakeGuest:
    """A unix socket server standing in for QEMU's ttyS0: echoes typed lines into the log
    and answers like a shell (login, one command, its exit status)."""

    def __init__(self, tmp: Path, *, status: int) -> None:
        self.path = tmp / "console.sock"
        self.log = tmp / "console.log"
        self.log.write_text("localhost login: ")
        self.status = status
        self.server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.server.bind(str(self.path))
        self.server.listen(1)
        self.typed: list[str] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _write(self, text: str) -> None:
        with self.log.open("a") as fh:
            fh.write(text)

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        buffer = b""
        while True:
            data = conn.recv(1)
            if not data:
                return
            buffer += data
            if not buffer.endswith(b"\r"):
                continue
            line = buffer[:-1].decode()
            buffer = b""
            self.typed.append(line)
            if len(self.typed) == 1:
                self._write(f"{line}\r\nPassword: ")
            elif len(self.typed) == 2:
                self._write("\r\n[root@localhost ~]# ")  # the password is not echoed
            elif line == "echo BUILDISO-RC=$?":
                self._write(f"{line}\r\nBUILDISO-RC={self.status}\r\n[root@localhost ~]# ")
            else:
                self._write(f"{line}\r\nsome output\r\n[root@localhost ~]# ")


@pytest.mark.parametrize("status", [0, 1])
def test_login_then_a_command_and_its_exit_status(tmp_path: Path, status: int) -> None:
    guest = FakeGuest(tmp_path, status=status)
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        shell.login(user="root", password="Secret-Only-9x", since=0, timeout=10)
        result = shell.run("yum remove -y postfix", timeout=10, stage="step-4")
    finally:
        shell.close()
    assert guest.typed == ["root", "Secret-Only-9x", "yum remove -y postfix",
                           "echo BUILDISO-RC=$?"]
    assert "Secret-Only-9x" not in guest.log.read_text()
    assert result.status == status
    assert result.output == "some output"


def test_a_guest_that_never_prompts_times_out_in_its_stage(tmp_path: Path) -> None:
    guest = FakeGuest(tmp_path, status=0)
    guest.log.write_text("booting...")
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        with pytest.raises(CellFailed) as caught:
            shell.login(user="root", password="x", since=0, timeout=0.5)
    finally:
        shell.close()
    assert caught.value.failure_class == "timeout-in-stage-login"
