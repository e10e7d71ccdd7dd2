"""buildiso.boottest.pagesteps (answer-page) and the login that lands on a page: the shipped
first-login scenario run by the real runner against a scripted install and a fake gateway
console behind a real unix socket, driven by the real SerialShell.

The fake gateway is the guide's first login: a getty, cs-admin's password, then (once) the
First Boot Console's pages, each a title, its words and a prompt; the password page reads
with echo off and refuses what the vendor policy refuses (the product's own check stands in
for the gateway's); then the session ends and the getty asks again.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from bootfakes import (
    TIMEOUTS,
    FakeClock,
    FakeFactory,
    FakeGuest,
    good_report,
    install_script,
    iso_media,
    plan_for,
    quick,
)
from fakeserial import FakeSerial

from buildiso.boottest.checks import QUERIES
from buildiso.boottest.inputs import GUIDE_PASSWORD, Account
from buildiso.boottest.results import CellResult
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.scenarioreader import load_scenario, read_scenario
from buildiso.config import Firmware, Media
from buildiso.render.password import policy_failures
from buildiso.render.profile import Profile

CELL = Cell(Firmware.BIOS, Media.DVD)
PAGES = ("Locale Configuration", "Keyboard Configuration", "Time Zone", "Network Configuration",
         "cs-admin Password", "Repository Mode")  # fmt: skip
SHELL = "[cs-admin@localhost ~]$ "
GETTY = "\r\n\r\nlocalhost login: "


class FakeFirstBoot(FakeSerial):
    """The installed gateway's ttyS0: logins, the First Boot Console once, then a shell."""

    def __init__(self, log: Path, socket_path: Path, **state: Any) -> None:
        self.state = state
        self.password = GUIDE_PASSWORD
        self.pending = True
        self.where = "user"
        self.page = 0
        self.new = ""
        self.answers: dict[str, str] = {}
        self.last = 0
        self.logins: list[str] = []  # where each successful login landed
        super().__init__(socket_path, log)

    def connected(self) -> None:
        self.write(GETTY)

    def show(self, index: int) -> str:
        self.page, title = index, PAGES[index]
        prompt = {4: "New cs-admin password"}.get(index, f"{title.split()[0]} [default]")
        return (f"\r\nFirst Boot Console - page {index + 1} of 6: {title}\r\n"
                f"Choices: a b c\r\n{prompt}: ")

    def reply(self, line: str) -> str:
        where = self.where
        if where == "user":
            self.where = "password"
            return f"{line}\r\nPassword: "
        if where == "password":  # not echoed
            if line != self.password:
                self.where = "user"
                return "\r\nLogin incorrect" + GETTY
            if self.pending and not self.state.get("no_console"):
                self.logins.append("first boot console")
                self.where = "page"
                return "\r\nSecure Email Gateway - First Boot Console\r\n" + self.show(0)
            self.logins.append("shell")
            self.where = "shell"
            return "\r\n" + SHELL
        if where == "page":
            return self.answer(line)
        if where == "retype":
            self.where = "page"
            if line != self.new:
                return "\r\nRefused: the two passwords differ\r\n" + self.show(4)
            self.answers["password"] = line
            return "\r\n" + self.show(5)
        return self.command(line)

    def answer(self, line: str) -> str:
        title = PAGES[self.page]
        if self.page == 4:  # echo off: nothing of the line comes back
            shown = line if self.state.get("echo_password") else ""
            failures = policy_failures(line)
            if failures:
                return f"{shown}\r\nRefused: {'; '.join(failures)}\r\n" + self.show(4)
            self.new, self.where = line, "retype"
            return f"{shown}\r\nRetype new cs-admin password: "
        if line in self.state.get("refuse", ()):
            return f"{line}\r\nRefused: {line!r} is not one of the choices\r\n" + self.show(
                self.page)  # fmt: skip
        self.answers[title] = line
        if self.page < 5:
            return f"{line}\r\n" + self.show(self.page + 1)
        # the last page: applied, the session ends, the getty asks again
        self.password, self.pending, self.where = self.answers["password"], False, "user"
        return (f"{line}\r\n\r\nApplying the settings...\r\nFirst Boot Console complete. "
                "Log in again as cs-admin with the new password.\r\n" + GETTY)  # fmt: skip

    def command(self, line: str) -> str:
        if line == "echo BUILDISO-RC=$?":
            return f"{line}\r\nBUILDISO-RC={self.last}\r\n{SHELL}"
        out, self.last = self.run(line)
        return (f"{line}\r\n{out}\r\n" if out else f"{line}\r\n") + SHELL

    def run(self, line: str) -> tuple[str, int]:
        if line == "sudo cs-console status":
            return "version: 4.9.0-190\nservice: sample-firstboot-report", 0
        if line.startswith("grep -q '^LANG="):
            return "", 0 if self.answers.get("Locale Configuration", "") in line else 1
        if line.startswith("grep -q '^ZONE="):
            return "", 0 if self.answers.get("Time Zone", "") in line else 1
        if line == QUERIES["repos"](None):
            return ("repo id     repo name         status\ncs-email    Secure Email  disabled\n"
                    "cs-media    install media  disabled"), 0  # fmt: skip
        return f"bash: {line.split()[0]}: command not found", 127


def _run(tmp_path: Path, profile: Profile, scenario: Scenario | None = None, *,
         seconds: float = 10.0, **state: Any) -> tuple[CellResult, FakeFirstBoot]:  # fmt: skip
    """The scenario's cell; its console stages wait ``seconds`` (real time) at most."""
    clock = FakeClock()
    consoles: list[FakeFirstBoot] = []

    class Machine(FakeGuest):
        def __post_init__(self) -> None:
            super().__post_init__()
            consoles.append(FakeFirstBoot(self.files["console"], self.console_socket, **state))

    script = quick(install_script(report=good_report(profile)), 1)
    factory = FakeFactory(clock, {CELL.name: script}, guest_type=Machine)
    iso = iso_media(tmp_path, profile, account=Account("cs-admin", GUIDE_PASSWORD))
    scenario = scenario or load_scenario("first-login")
    limits = {**dict.fromkeys(scenario.limits(), seconds), **TIMEOUTS}
    plan = plan_for(tmp_path, profile, factory, scenario=scenario, inputs={"iso": iso},
                    limits=limits)  # fmt: skip
    result = plan.run_cell(CELL, clock=clock, sleep=clock.sleep)
    return result, consoles[-1]


def _typed_passwords(console: FakeFirstBoot) -> list[str]:
    return [t for t in console.typed if t.startswith("Up-")]


def test_the_guides_first_login_passes_and_no_password_is_in_an_artifact(
    tmp_path: Path, profile: Profile
) -> None:
    result, console = _run(tmp_path, profile)
    assert result.passed, f"[{result.failure_class}] {result.message}"
    assert result.name == "bios-dvd-first-login"
    # the first login landed on the First Boot Console, the second (new password) on a shell
    assert console.logins == ["first boot console", "shell"]
    new = console.password
    assert new != GUIDE_PASSWORD and not policy_failures(new)
    assert console.typed[:2] == ["cs-admin", GUIDE_PASSWORD]
    assert console.answers == {"Locale Configuration": "en_GB.UTF-8",
                               "Keyboard Configuration": "uk", "Time Zone": "Europe/London",
                               "Network Configuration": "dhcp", "password": new,
                               "Repository Mode": "offline"}  # fmt: skip
    # the refused example, then the new password twice; the second login types the new one
    assert "Pa55word" in console.typed
    assert console.typed.count(new) == 3 and console.typed[-1] != GUIDE_PASSWORD
    for stage in ("first-login", "fbc-locale", "fbc-policy", "fbc-password", "fbc-repository",
                  "login-again", "server-console", "locale-set", "time-zone-set", "checks"):
        assert result.stage_map[stage].status == "ok", stage
    assert [c.name for c in result.checks if c.name == "cs-repos-disabled"] == [
        "cs-repos-disabled"]  # fmt: skip
    art = Path(result.artifacts)
    for path in art.rglob("*"):
        if path.is_file():
            assert new.encode() not in path.read_bytes(), path
            # the default is never typed where it shows (prompts say "password", it is not)
            assert not re.search(rb"[Pp]assword: *password\b", path.read_bytes()), path
    transcript = json.loads((art / "transcript.json").read_text())
    pages = [t for t in transcript if "page" in t]
    assert [t["stage"] for t in pages] == ["fbc-locale", "fbc-keyboard", "fbc-time-zone",
                                           "fbc-network", "fbc-policy", "fbc-password",
                                           "fbc-repository"]  # fmt: skip
    assert pages[5]["answers"] == ["{new-password}", "{new-password}"]
    assert "Refused: must not resemble a dictionary word" in pages[4]["output"]


def test_a_login_that_lands_on_a_shell_instead_of_the_first_page_fails(
    tmp_path: Path, profile: Profile
) -> None:
    result, _ = _run(tmp_path, profile, seconds=3, no_console=True)
    assert result.failure_class == "login"
    assert result.message.startswith("cs-admin got a shell prompt, not its login program's first")
    assert result.stage_map["first-login"].status == "failed"
    assert "fbc-locale" not in result.stage_map


def test_a_refused_answer_fails_the_page_with_the_refusal(tmp_path: Path, profile: Profile) -> None:
    result, _ = _run(tmp_path, profile, refuse=("uk",))
    assert result.failure_class == "first-boot-console"
    assert "Keyboard Configuration: the answer was refused" in result.message
    assert "'uk' is not one of the choices" in result.message
    assert result.stage_map["fbc-keyboard"].status == "failed"


def test_a_page_that_echoes_the_password_fails_the_cell(tmp_path: Path, profile: Profile) -> None:
    result, console = _run(tmp_path, profile, echo_password=True)
    assert result.failure_class == "first-boot-console"
    assert "showed the typed password" in result.message
    assert console.password == GUIDE_PASSWORD  # stopped before the last page
    new = _typed_passwords(console)[0]
    art = Path(result.artifacts)
    # the console log has it (the guest printed it: that is the defect shown), nothing else
    for path in art.rglob("*"):
        if path.is_file() and path.name != "console.log":
            assert new.encode() not in path.read_bytes(), path


def test_a_policy_step_whose_password_is_accepted_fails(tmp_path: Path, profile: Profile) -> None:
    """A page that accepts the guide's refused example does not show THEN (the refusal):
    the next page comes instead, and the step times out rather than passing."""
    shipped = Path(load_scenario("first-login").source).read_text()
    mine = tmp_path / "accepting.toml"
    mine.write_text(shipped.replace('answers = ["Pa55word"]', 'answers = ["Up-Fine-Kq7x"]'))
    result, _ = _run(tmp_path / "run", profile, read_scenario(mine), seconds=3)
    assert not result.passed
    assert result.stage_map["fbc-policy"].status != "ok"
    assert "fbc-password" not in result.stage_map


@pytest.mark.parametrize("count", [1, 2])
def test_the_new_password_is_made_once_per_account(count: int) -> None:
    from buildiso.boottest.session import Session

    made: list[str] = []

    def make() -> str:
        made.append(f"Up-Made-{len(made)}x9Q")
        return made[-1]

    session = Session.__new__(Session)
    session._fresh = {}
    got = {session.fresh_password("iso", make) for _ in range(count)}
    assert got == {made[0]} and len(made) == 1
