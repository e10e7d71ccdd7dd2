"""buildiso.boottest.console: the serial shell against a fake QEMU socket and a log file."""

from __future__ import annotations

from pathlib import Path

import pytest
from fakeserial import FakeSerial

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


class FakeGuest(FakeSerial):
    """ttyS0 of a root login: echoes typed lines and answers like a shell (one command, its
    exit status)."""

    def __init__(self, tmp: Path, *, status: int) -> None:
        (tmp / "console.log").write_text("localhost login: ")
        self.status = status
        super().__init__(tmp / "console.sock", tmp / "console.log")

    def reply(self, line: str) -> str:
        if len(self.typed) == 1:
            return f"{line}\r\nPassword: "
        if len(self.typed) == 2:
            return "\r\n[root@localhost ~]# "  # the password is not echoed
        if line == "echo BUILDISO-RC=$?":
            return f"{line}\r\nBUILDISO-RC={self.status}\r\n[root@localhost ~]# "
        return f"{line}\r\nsome output\r\n[root@localhost ~]# "


@pytest.mark.parametrize("status", [0, 1])
def test_login_then_a_command_and_its_exit_status(tmp_path: Path, status: int) -> None:
    guest = FakeGuest(tmp_path, status=status)
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        shell.login_changing_expired(user="root", password="Secret-Only-9x",
                                     new_password="Unused-Only-8y", since=0, timeout=10)
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
            shell.login_changing_expired(user="root", password="x", new_password="y", since=0,
                                         timeout=0.5)
    finally:
        shell.close()
    assert caught.value.failure_class == "timeout-in-stage-login"


class ExpiringGuest(FakeSerial):
    """ttyS0 of a system whose admin password expired (chage -d 0): login, then PAM's
    forced change, with RHEL 6's or newer prompts; typed passwords are never echoed."""

    def __init__(
        self, tmp: Path, *, prompts: tuple[str, str, str] | None, verdict: str = ""
    ) -> None:
        (tmp / "console.log").write_text("FIRSTBOOT-RESULT status=ok\r\n\r\ngateway login: ")
        self.prompts = list(prompts or ())
        self.expired = prompts is not None
        self.verdict = verdict  # what the system says after the retyped password
        super().__init__(tmp / "console.sock", tmp / "console.log")

    def reply(self, line: str) -> str:
        if len(self.typed) == 1:
            return f"{line}\r\nPassword: "
        if len(self.typed) == 2 and self.expired:
            return (
                "\r\nYou are required to change your password immediately "
                "(administrator enforced)\r\n" + self.prompts.pop(0)
            )
        if self.prompts:
            return "\r\n" + self.prompts.pop(0)
        if line == "echo BUILDISO-RC=$?":
            return f"{line}\r\nBUILDISO-RC=0\r\n[cs-admin@gateway ~]$ "
        if self.verdict:
            return f"\r\n{self.verdict}\r\n\r\ngateway login: "
        if len(self.typed) <= 5:
            return "\r\n[cs-admin@gateway ~]$ "
        return f"{line}\r\nok\r\n[cs-admin@gateway ~]$ "


RHEL6_PROMPTS = ("Changing password for cs-admin.\r\n(current) UNIX password: ",
                 "New password: ", "Retype new password: ")
NEWER_PROMPTS = ("Current password: ", "New password: ", "Retype new password: ")


@pytest.mark.parametrize("prompts", [RHEL6_PROMPTS, NEWER_PROMPTS], ids=["rhel6", "pam-1.5"])
def test_an_expired_password_is_changed_at_login_and_no_password_is_logged(
    tmp_path: Path, prompts: tuple[str, str, str]
) -> None:
    guest = ExpiringGuest(tmp_path, prompts=prompts)
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        changed = shell.login_changing_expired(
            user="cs-admin", password="Old-Secret-71q", new_password="New-Secret-82w",
            since=0, timeout=10,
        )
        result = shell.run("rpm -q cs-email", timeout=10, stage="checks")
    finally:
        shell.close()
    assert changed is True
    assert guest.typed[:5] == ["cs-admin", "Old-Secret-71q", "Old-Secret-71q",
                               "New-Secret-82w", "New-Secret-82w"]
    assert result.status == 0 and result.output == "ok"
    log = guest.log.read_text()
    assert "Old-Secret" not in log and "New-Secret" not in log


def test_a_password_that_has_not_expired_logs_straight_in(tmp_path: Path) -> None:
    guest = ExpiringGuest(tmp_path, prompts=None)
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        changed = shell.login_changing_expired(
            user="cs-admin", password="Old-Secret-71q", new_password="unused", since=0, timeout=10
        )
    finally:
        shell.close()
    assert changed is False
    assert guest.typed == ["cs-admin", "Old-Secret-71q"]


@pytest.mark.parametrize("verdict", ["Login incorrect",
                                     "passwd: Authentication token manipulation error"])
def test_a_refused_login_or_change_fails_with_class_login_and_the_systems_words(
    tmp_path: Path, verdict: str
) -> None:
    guest = ExpiringGuest(tmp_path, prompts=NEWER_PROMPTS, verdict=verdict)
    shell = SerialShell(socket_path=guest.path, console=SerialLog(guest.log), running=lambda: True)
    try:
        with pytest.raises(CellFailed) as caught:
            shell.login_changing_expired(
                user="cs-admin", password="Old-Secret-71q", new_password="New-Secret-82w",
                since=0, timeout=10,
            )
    finally:
        shell.close()
    assert caught.value.failure_class == "login"
    assert verdict.split(": ")[-1] in caught.value.message
    assert "Secret" not in caught.value.message
