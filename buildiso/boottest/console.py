"""A shell on the guest's serial console, driven as a person at the console would.

QEMU serves ttyS0 on a unix socket and copies everything the guest writes into the
console log (``VmSpec.console_input``). ``SerialShell`` connects to that socket, keeps it
drained (a full socket would stall the guest's output), logs in at the getty prompt and
types commands one line at a time, exactly as given; the console log shows each command as
the guest echoed it, followed by its output. A command's exit status is asked for after
its prompt came back (``echo BUILDISO-RC=$?``), so the command line itself is never altered.
"""

from __future__ import annotations

import re
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.cellfailure import GUEST_STOPPED, TIMEOUT, CellFailed
from buildiso.boottest.seriallog import SerialLog

LOGIN_PROMPT = re.compile(r"login: ?")
PASSWORD_PROMPT = re.compile(r"Password: ?")
# PAM's forced change of an expired password (chage -d 0): RHEL 6's pam_unix asks
# "(current) UNIX password:", newer ones "Current password:"; then the new one twice.
CURRENT_PROMPT = re.compile(r"(?:\(current\) UNIX password|Current password): ?$")
NEW_PROMPT = re.compile(r"New (?:UNIX )?password: ?$")
RETYPE_PROMPT = re.compile(r"Retype new (?:UNIX )?password: ?$")
LOGIN_REFUSED = re.compile(
    r"Login incorrect|Authentication token manipulation error|"
    r"BAD PASSWORD[^\n]*|Password unchanged|password change failed"
)
# The sample's (and RHEL's) root prompt: [root@host dir]#
SHELL_PROMPT = re.compile(r"\][#$] ?$")
RC_LINE = re.compile(r"^BUILDISO-RC=(\d+)\r?$", re.MULTILINE)
TYPE_GAP_S = 0.002  # between characters: the 16550 FIFO must not overflow under TCG


@dataclass(frozen=True)
class CommandResult:
    command: str
    output: str  # what the guest printed after the echoed command, ANSI stripped
    status: int
    seconds: float


class SerialShell:
    """Type into ttyS0 through QEMU's socket; read replies from the console log."""

    def __init__(
        self,
        *,
        socket_path: Path,
        console: SerialLog,
        running: Callable[[], bool],
        connect_timeout: float = 10.0,
    ) -> None:
        self.console = console
        self.running = running
        self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                self._sock.connect(str(socket_path))
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        self._stop = threading.Event()
        self._drain = threading.Thread(target=self._discard, name="console-drain", daemon=True)
        self._drain.start()

    def _discard(self) -> None:
        # The log file (QEMU's logfile) has the same bytes; here they only must be read.
        self._sock.settimeout(0.2)
        while not self._stop.is_set():
            try:
                if not self._sock.recv(65536):
                    return
            except TimeoutError:
                continue
            except OSError:
                return

    def close(self) -> None:
        self._stop.set()
        self._sock.close()
        self._drain.join(2)

    def type_line(self, text: str) -> None:
        for char in text + "\r":
            self._sock.sendall(char.encode())
            time.sleep(TYPE_GAP_S)

    def text_since(self, offset: int) -> str:
        self.console.poll()
        text = strip_ansi(self.console.text[offset:]).replace("\r", "")
        return text.replace(" \x08", "").replace("\x08", "")

    def wait_for(
        self, pattern: re.Pattern[str], *, since: int, timeout: float, what: str
    ) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while True:
            found = pattern.search(self.text_since(since))
            if found:
                return found
            if not self.running():
                raise CellFailed(
                    GUEST_STOPPED + what, f"the guest stopped while waiting for {what}"
                )
            if time.monotonic() > deadline:
                tail = self.text_since(since)[-300:].strip().splitlines()[-3:]
                raise CellFailed(
                    TIMEOUT + what,
                    f"no {what} within {timeout:.0f} s; console: {' / '.join(tail)}",
                )
            time.sleep(0.2)

    def mark(self) -> int:
        self.console.poll()
        return len(self.console.text)

    def _type_then(
        self, text: str, expect: re.Pattern[str], *, timeout: float, what: str = "login"
    ) -> str:
        """Type one line (a password is not echoed: never in the log), then wait for
        ``expect``; what matched."""
        mark = self.mark()
        self.type_line(text)
        return self.wait_for(expect, since=mark, timeout=timeout, what=what).group(0)

    def login_changing_expired(
        self,
        *,
        user: str,
        password: str,
        new_password: str,
        since: int,
        timeout: float,
        lands: re.Pattern[str] = SHELL_PROMPT,
        stage: str = "login",
    ) -> bool:
        """Log in; if the system says the password expired, change it to ``new_password``
        as the person at the console would. True if it was changed. No password is echoed.
        The login ends where ``lands`` appears: the shell's prompt, or what the account's
        login program shows first (a console's page; a shell prompt then fails it)."""
        elsewhere = () if lands is SHELL_PROMPT else (SHELL_PROMPT,)

        def answer(text: str, *prompts: re.Pattern[str], timeout: float) -> str:
            either = re.compile("|".join(p.pattern for p in (*prompts, LOGIN_REFUSED)))
            found = self._type_then(text, either, timeout=timeout, what=stage)
            self._refused(found, user)
            if elsewhere and not lands.search(found) and SHELL_PROMPT.search(found):
                raise CellFailed("login", f"{user} got a shell prompt, not its login "
                                 "program's first page")  # fmt: skip
            return found

        self.wait_for(LOGIN_PROMPT, since=since, timeout=timeout, what=stage)
        short, long = min(30.0, timeout), min(60.0, timeout)  # each answer, within the limit
        self._type_then(user, PASSWORD_PROMPT, timeout=short, what=stage)
        found = answer(password, lands, *elsewhere, CURRENT_PROMPT, NEW_PROMPT, timeout=long)
        if lands.search(found):
            return False
        if CURRENT_PROMPT.search(found):
            answer(password, NEW_PROMPT, timeout=short)
        answer(new_password, RETYPE_PROMPT, timeout=short)
        answer(new_password, lands, *elsewhere, timeout=long)
        return True

    @staticmethod
    def _refused(answer: str, user: str) -> None:
        if LOGIN_REFUSED.fullmatch(answer):
            raise CellFailed("login", f"{user} could not log in on the serial console: {answer}")

    def run(self, command: str, *, timeout: float, stage: str) -> CommandResult:
        """Type ``command``; wait for the prompt; ask for its exit status."""
        started = time.monotonic()
        mark = self.mark()
        self.type_line(command)
        self.wait_for(_after_echo(command), since=mark, timeout=timeout, what=stage)
        output = self.text_since(mark)
        mark = self.mark()
        self.type_line("echo BUILDISO-RC=$?")
        found = self.wait_for(RC_LINE, since=mark, timeout=30, what=stage)
        self.wait_for(SHELL_PROMPT, since=mark + found.end(), timeout=30, what=stage)
        return CommandResult(
            command=command,
            output=_strip_echo(output, command),
            status=int(found.group(1)),
            seconds=time.monotonic() - started,
        )


def echoed(command: str) -> str:
    """A regex of ``command`` as the guest echoes it."""
    # The shell's line editor wraps a line longer than the terminal: line breaks (and the
    # blanks it redraws) may appear anywhere in the echo.
    return "[ \n]*".join(re.escape(c) for c in command)


def _after_echo(command: str) -> re.Pattern[str]:
    """The echoed command, its output, and the next prompt at the very end."""
    return re.compile(echoed(command) + r"\n(?:.*\n)*?.*\][#$] ?$")


def _strip_echo(text: str, command: str) -> str:
    """The output between the echoed command line and the final prompt line."""
    found = re.search(echoed(command), text)
    body = text[found.end() :] if found else text
    lines = body.split("\n")[1:]
    if lines and SHELL_PROMPT.search(lines[-1]):
        lines = lines[:-1]
    return "\n".join(lines)
