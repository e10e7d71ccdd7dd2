"""buildiso.boottest.consolesteps (and the server steps): the shipped upgrade and Appendix A
scenarios run by the real runner against scripted machines.

The installs are bootfakes scripts (the real install steps follow them); the serial console
after them is a fake system behind a real unix socket, driven by the real SerialShell: it
asks for the expired password's change, answers the typed commands from its state, and
``apply-updates`` (or yum) changes that state as yum would, or fails as dnf does.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest
from bootfakes import (
    TIMEOUTS,
    FakeClock,
    FakeFactory,
    FakeGuest,
    Script,
    clean_shutdown,
    disk_boot,
    good_report,
    install_script,
    iso_media,
    plan_for,
    quick,
)
from fakeserial import FakeSerial

from buildiso import paths
from buildiso.boottest import consolesteps
from buildiso.boottest.checks import QUERIES
from buildiso.boottest.console import CommandResult
from buildiso.boottest.consolesteps import fresh_password, reason
from buildiso.boottest.inputs import Account, Inputs, ServerMedia
from buildiso.boottest.release import ReleaseRepo
from buildiso.boottest.results import CellResult
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.scenarioreader import load_scenario, read_scenario
from buildiso.boottest.session import Session
from buildiso.compose.rpmversion import Evr
from buildiso.config import Firmware, Media, Variant
from buildiso.render.password import policy_failures
from buildiso.render.profile import Profile, load_profile

OLD_PASSWORD = "Old-Secret-Zk71q"
KEY = "d5308a1a"
RELEASE = ReleaseRepo(
    versions={"cs-email": "4.9.0-190", "cs-email-core": "4.9.0-190", "cs-email-web": "4.9.0-190",
              "cs-email-syslog": "4.9.0-190", "cs-email-repo-conf": "3.6.3-1"},
    obsoletes=frozenset({"cs-email-legacy"}),
    requires=frozenset({"cs-email-core", "cs-email-web", "cs-email-syslog",
                        "cs-email-repo-conf"}),
    evr=Evr(0, "4.9.0", "190"), location="Packages/cs-email-4.9.0-190.x86_64.rpm",
)  # fmt: skip
CELL = Cell(Firmware.BIOS, Media.DVD)
EDIT = "sudo cs-console set max_message_size_mb 37"
APPLY = "sudo cs-console apply-updates --offline"
SETTING = ("max_message_size_mb", "37")


def q(name: str) -> str:
    command = QUERIES[name](SETTING)
    assert command is not None
    return command


class FakeShell(FakeSerial):
    """A machine's ttyS0 after boot: a getty, a login, then a shell answering ``answer``."""

    prompt = "[cs-admin@gw ~]$ "
    logins = ("Password: ", "Current password: ", "New password: ", "Retype new password: ")

    def __init__(self, log: Path, socket_path: Path, **state: Any) -> None:
        self.state = state
        self.prompts = iter(self.logins)
        self.last = 0
        super().__init__(socket_path, log)

    def answer(self, command: str) -> tuple[str, int]:
        raise NotImplementedError

    def reply(self, line: str) -> str:
        if len(self.typed) == 1:
            return f"{line}\r\n{next(self.prompts)}"
        if len(self.typed) < len(self.logins) + 1:
            return "\r\n" + next(self.prompts)
        if len(self.typed) == len(self.logins) + 1:
            return "\r\n" + self.prompt
        if line == "echo BUILDISO-RC=$?":
            return f"{line}\r\nBUILDISO-RC={self.last}\r\n{self.prompt}"
        out, self.last = self.answer(line)
        return (f"{line}\r\n{out}\r\n" if out else f"{line}\r\n") + self.prompt


class FakeGateway(FakeShell):
    """The installed 4.8 gateway's serial console after first boot."""

    def __init__(self, log: Path, socket_path: Path, **state: Any) -> None:
        self.rpms = {"cs-email": "4.8.0-150", "cs-email-core": "4.8.0-150",
                     "cs-email-web": "4.8.0-150", "cs-email-legacy": "4.8.0-150",
                     "cs-email-repo-conf": "3.6.3-1"}  # fmt: skip
        self.edited = False
        self.keys = ""
        super().__init__(log, socket_path, **state)

    def connected(self) -> None:
        self.write("\r\n\r\nlocalhost login: ")  # the getty, after the first boot

    def answer(self, command: str) -> tuple[str, int]:
        keeps = self.state.get("update_keeps", "")
        if command == EDIT:
            self.edited = True
            return "max_message_size_mb = 37", 0
        if command == APPLY:
            if self.state.get("update_fails"):
                return ("Error: Transaction test error:\n  file /etc/x conflicts between "
                        "attempted installs of cs-email-core and cs-email-web"), 1  # fmt: skip
            self.rpms = dict(RELEASE.versions)
            if keeps == "legacy":
                self.rpms["cs-email-legacy"] = "4.8.0-150"
            self.keys = KEY
            return "Upgraded: cs-email-4.9.0-190.x86_64\nComplete!", 0
        if command == q("rpms"):
            return "\n".join(f"{n} {v}" for n, v in sorted(self.rpms.items())), 0
        if command == q("config"):
            return f"{'aa11' if self.edited else 'ff00'}  /etc/cs-email/cs-email.conf", 0
        if command == q("setting"):
            return f"max_message_size_mb = {37 if self.edited else 25}", 0
        if command == q("data"):
            return "0c1d  /var/lib/cs-email/data/policy.db", 0
        if command == q("status"):
            new = self.rpms["cs-email"].startswith("4.9")
            extra = ("firewall: -A INPUT -m state --state NEW -m tcp -p tcp --dport 8080 "
                     "-j ACCEPT\n") if keeps == "firewall" and new else ""  # fmt: skip
            return (f"version: {self.rpms['cs-email']}\n"
                    "firewall: -A INPUT -m state --state NEW -m tcp -p tcp --dport 25 -j ACCEPT\n"
                    "firewall: -A INPUT -m state --state NEW -m udp -p udp --dport 53 -j ACCEPT\n"
                    + extra + "service: sample-firstboot-report"), 0  # fmt: skip
        return _common(command, forbidden=(), keys=self.keys)


def _common(command: str, *, forbidden: tuple[str, ...], keys: str) -> tuple[str, int]:
    if command == q("forbidden"):
        lines = [f"{n}-2.6.6-8.el6.x86_64" if n in forbidden else f"package {n} is not installed"
                 for n in ("postfix", "rsyslog", "samba-common")]  # fmt: skip
        return "\n".join(lines), 3
    if command == q("repos"):
        return ("repo id     repo name         status\ncs-email    Secure Email  disabled\n"
                "cs-media    install media  disabled"), 0  # fmt: skip
    if command == q("keys"):
        return keys, 0 if keys else 1
    return f"bash: {command.split()[0]}: command not found", 127


@pytest.fixture(scope="module")
def old_profile() -> Profile:
    return load_profile(paths.PROFILES_DIR / "email-480.toml", Variant.TEST)


@dataclass
class Ran:
    result: CellResult
    console: FakeShell
    factory: FakeFactory


def _run(tmp_path: Path, scenario: Scenario, inputs: dict[str, Any], scripts: dict[str, Script],
         console: type[FakeShell], **state: Any) -> Ran:  # fmt: skip
    clock = FakeClock()
    consoles: list[FakeShell] = []

    class Machine(FakeGuest):
        def __post_init__(self) -> None:
            super().__post_init__()
            consoles.append(console(self.files["console"], self.console_socket, **state))

    factory = FakeFactory(clock, scripts, guest_type=Machine)
    plan = plan_for(tmp_path, inputs["iso"].profile, factory, scenario=scenario, inputs=inputs,
                    limits={**TIMEOUTS, "login": 10, "apply-updates": 10, "checks": 10})
    result = plan.run_cell(CELL, clock=clock, sleep=clock.sleep)
    return Ran(result, consoles[-1], factory)


def _upgrade(tmp_path: Path, profile: Profile, old_profile: Profile, **state: Any) -> Ran:
    inputs = {
        "iso": iso_media(tmp_path, profile, release=RELEASE, signer=KEY),
        "old": iso_media(tmp_path, old_profile, name="old",
                         account=Account("cs-admin", OLD_PASSWORD)),
    }  # fmt: skip
    # key1: the menu entry, key2: boot from local drive, key3: Ctrl-Alt-Delete (publish-disk)
    installed = [*quick(install_script(report=good_report(old_profile)), 1),
                 ("key2", 5.0, "console", "\r\nlocalhost login: "), *clean_shutdown("key3")]
    return _run(tmp_path, load_scenario("upgrade"), inputs,
                {CELL.name: installed, f"{CELL.name}#2": disk_boot()}, FakeGateway,
                **state)  # fmt: skip


def test_the_upgrade_passes_and_every_artifact_is_free_of_passwords(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    ran = _upgrade(tmp_path, profile, old_profile)
    result, gateway = ran.result, ran.console
    assert result.passed, result.message
    checks = {c.name: c for c in result.checks}
    upgrade = {"gateway-version", "obsoleted-removed", "added-installed", "config-kept",
               "data-kept", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
               "firewall-unchanged", "services-unchanged"}  # fmt: skip
    assert upgrade <= set(checks) and "installed-packages" not in checks  # no manifest given
    # the old release's install checked too (installed-packages: skipped without a manifest)
    assert set(checks) - upgrade == set(result.expected_checks) - upgrade - {"installed-packages"}
    assert all(c.ok for c in checks.values())
    assert "cs-email-legacy" in checks["obsoleted-removed"].message
    assert "cs-email-syslog" in checks["added-installed"].message
    assert "(want 4.9.0-190, was 4.8.0-150)" in checks["gateway-version"].message
    # the installed gateway was shut down in order, then booted its disk again with the old
    # disc in its drive; the new disc went into that running machine
    installer, gateway_machine = ran.factory.started
    assert installer.keys[-1] == ["ctrl-alt-delete"] and installer.reboot_ends
    assert ran.factory.new_disks[1] == () and not ran.factory.specs[1].boot_media
    assert ran.factory.specs[1].iso == tmp_path / "old.iso"
    assert gateway_machine.inserted == [tmp_path / "iso.iso"] and not installer.inserted
    assert result.disk is None  # no --disk-cache
    # typed: user, old password (login and PAM's "current"), the fresh one twice, commands
    new_password = gateway.typed[3]
    assert gateway.typed[:5] == ["cs-admin", OLD_PASSWORD, OLD_PASSWORD, new_password,
                                  new_password]  # fmt: skip
    assert new_password != OLD_PASSWORD and not policy_failures(new_password)
    commands = [t for t in gateway.typed[5:] if t != "echo BUILDISO-RC=$?"]
    assert commands[:2] == [EDIT, q("rpms")] and APPLY in commands
    art = Path(result.artifacts)
    for path in art.rglob("*"):
        if path.is_file():
            assert OLD_PASSWORD.encode() not in path.read_bytes(), path
            assert new_password.encode() not in path.read_bytes(), path
    transcript = json.loads((art / "transcript.json").read_text())
    assert [t["command"] for t in transcript][:2] == [EDIT, q("rpms")]
    console = (art / "console.log").read_text()
    assert f"$ {APPLY}\nUpgraded: cs-email-4.9.0-190.x86_64\nComplete!" in console
    for stage in ("packages", "firstboot", "publish-disk", "gateway-boot", "media-change",
                  "login", "admin-edit", "apply-updates", "checks"):  # fmt: skip
        assert result.stage_map[stage].status == "ok", stage
    assert (art / "old-install" / "console.log").is_file()  # the install's own logs
    assert json.loads((art / "result.json").read_text())["passed"] is True
    assert (art / "upgraded.png").is_file()


def test_a_failing_update_fails_with_class_packages_and_dnfs_reason(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    result = _upgrade(tmp_path, profile, old_profile, update_fails=True).result
    assert result.failure_class == "packages"
    assert "apply-updates" in result.message
    assert "conflicts between attempted installs" in result.message
    assert result.stage_map["apply-updates"].status == "failed"
    assert "checks" not in result.stage_map


def test_an_obsoleted_package_left_behind_fails_the_check(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    result = _upgrade(tmp_path, profile, old_profile, update_keeps="legacy").result
    assert result.failure_class == "post-install-check"
    assert [c.name for c in result.checks if not c.ok] == ["obsoleted-removed"]
    assert "still there: ['cs-email-legacy']" in result.message


def test_a_port_opened_by_the_update_fails_the_firewall_check(
    tmp_path: Path, profile: Profile, old_profile: Profile
) -> None:
    result = _upgrade(tmp_path, profile, old_profile, update_keeps="firewall").result
    bad = {c.name: c.message for c in result.checks if not c.ok}
    assert result.failure_class == "post-install-check" and list(bad) == ["firewall-unchanged"]
    assert "8080/tcp" in bad["firewall-unchanged"]


# --- Appendix A: a Minimal server installed, booted with the ISO in its drive ---------------


class FakeServer(FakeShell):
    """The Minimal server's console: root logs in, the guide's commands change its state."""

    prompt = "[root@localhost ~]# "
    logins = ("Password: ",)

    def __init__(self, log: Path, socket_path: Path, **state: Any) -> None:
        self.installed = {"postfix", "rsyslog", "samba-common"}
        self.rpms: dict[str, str] = {}
        super().__init__(log, socket_path, **state)

    def answer(self, command: str) -> tuple[str, int]:
        if command in ("mkdir -p /media/os", "mount /dev/cdrom /media/os"):
            return "", 0
        if command.startswith("rpm -ivh /media/os/cs-repo/Packages/cs-email-repo-conf"):
            self.rpms["cs-email-repo-conf"] = "3.6.3-1"
            return "   1:cs-email-repo-conf", 0
        if command == "yum remove -y postfix rsyslog samba-common":
            self.installed.clear()
            return "Removed: postfix rsyslog samba-common\nComplete!", 0
        if command == "yum install -y cs-email --enablerepo=cs-*":
            if "postfix" in self.installed:
                return ("Error: \n Problem: package cs-email-4.9.0-190.x86_64 conflicts with "
                        "postfix provided by postfix-2:2.6.6-8.el6.x86_64"), 1  # fmt: skip
            self.rpms.update({n: v for n, v in RELEASE.versions.items() if n != "cs-email-legacy"})
            return "Installed: cs-email-4.9.0-190.x86_64\nComplete!", 0
        if command == q("rpms"):
            return "\n".join(f"{n} {v}" for n, v in sorted(self.rpms.items())), 0
        return _common(command, forbidden=tuple(sorted(self.installed)),
                       keys=KEY if "cs-email" in self.rpms else "")  # fmt: skip


def _server_install() -> Script:
    """The Minimal server's install, PXE-style: stage lines, the result, then QEMU exits."""
    script: Script = []
    for t, name in enumerate(("kernel", "media", "packages", "post"), start=1):
        script.append(("start", float(t), "protocol", f"BUILDISO-STAGE name={name} "
                       f"status=start t={t}\n"))  # fmt: skip
    return script + [("start", 5.0, "protocol", "INSTALL-RESULT status=ok\n"),
                     ("start", 5.4, "console", "[  50.2] reboot: Restarting system\r\n"),
                     ("start", 5.5, "exit", "")]  # fmt: skip


def _appendix_a(tmp_path: Path, profile: Profile, scenario: Scenario) -> Ran:
    server = ServerMedia(name="server", dvd=tmp_path / "rhel.iso", kernel=tmp_path / "vmlinuz",
                         initrd=tmp_path / "initrd.img", ks_iso=tmp_path / "ks.iso",
                         account=Account("root", "Bt-Throwaway-9x"))  # fmt: skip
    inputs = {"iso": iso_media(tmp_path, profile, release=RELEASE, signer=KEY), "server": server}
    booted: Script = [("start", 2.0, "console", "\r\nlocalhost login: ")]
    return _run(tmp_path, scenario, inputs, {"bios-dvd": _server_install(),
                                             "bios-dvd#2": booted}, FakeServer)  # fmt: skip


def test_appendix_a_as_printed_passes(tmp_path: Path, profile: Profile) -> None:
    ran = _appendix_a(tmp_path, profile, load_scenario("appendix-a"))
    result = ran.result
    assert result.passed, result.message
    assert result.name == "bios-dvd-appendix-a"
    assert {c.name for c in result.checks} == {"gateway-version", "forbidden-absent",
                                               "cs-repos-disabled", "vendor-key-imported"}
    install, booted = ran.factory.specs
    assert install.kernel is not None and not install.reboot and not install.boot_media
    assert booted.iso == tmp_path / "iso.iso" and not booted.boot_media and booted.console_input
    assert ran.factory.new_disks == [(Path(result.artifacts) / "disk.qcow2",), ()]
    commands = [c for c in ran.console.typed[2:] if c != "echo BUILDISO-RC=$?"]
    guide = [c.params["command"] for c in load_scenario("appendix-a").steps if c.kind == "type"]
    assert commands[: len(guide)] == guide
    for stage in ("kernel", "reboot", "server-boot", "login", "step-5", "checks"):
        assert result.stage_map[stage].status == "ok", stage
    art = Path(result.artifacts)
    assert (art / "server-install" / "console.log").is_file()
    assert (art / "appendix-a" / "console.log").is_file()


def test_a_scenario_file_without_step_4_fails_at_step_5_naming_the_conflict(
    tmp_path: Path, profile: Profile
) -> None:
    shipped = load_scenario("appendix-a").source
    text = Path(shipped).read_text()
    step4 = re.search(r'\[\[steps\]\]\ndo = "type"\ncommand = "yum remove[^\[]*', text)
    assert step4 is not None
    mine = tmp_path / "no-step-4.toml"
    mine.write_text(text.replace(step4.group(0), ""))
    result = _appendix_a(tmp_path / "run", profile, read_scenario(mine)).result
    assert result.failure_class == "packages"
    assert "step-5" in result.message and "conflicts with postfix" in result.message
    assert result.stage_map["step-5"].status == "failed" and "step-4" not in result.stage_map


def test_the_reason_of_a_failed_command_names_the_conflict() -> None:
    out = (
        "Error: \n Problem: package cs-email-4.9.0-190.x86_64 conflicts with postfix provided "
        "by postfix-2:2.6.6-8.el6.x86_64\n  - conflicting requests\n"
    )
    found = reason(CommandResult(command="yum", output=out, status=1, seconds=1))
    assert found == "conflicts with postfix provided by postfix-2:2.6.6-8.el6.x86_64"
    tail = reason(CommandResult(command="x", output="a\nb\nlast words\n", status=1, seconds=1))
    assert tail == "b; last words"


def test_fresh_passwords_meet_the_policy_and_differ() -> None:
    made = {fresh_password() for _ in range(20)}
    assert len(made) == 20
    assert not any(policy_failures(p) for p in made)


def test_inputs_keep_passwords_out_of_their_repr(tmp_path: Path, profile: Profile) -> None:
    old = iso_media(tmp_path, profile, account=Account("cs-admin", OLD_PASSWORD))
    assert OLD_PASSWORD not in repr(Inputs({"old": old}))


def test_a_reading_is_taken_once_any_two_agree(monkeypatch: pytest.MonkeyPatch) -> None:
    readings = iter(["a udp", "a uddp", "a udp", "a sttate", "never read"])
    calls: list[str] = []

    def typed(s: object, stage: str, command: str, failure_class: str | None) -> str:
        calls.append(command)
        return next(readings)

    monkeypatch.setattr(consolesteps, "typed", typed)
    session = cast(Session, None)
    assert consolesteps.agreed(session, "inventory", "status") == "a udp"
    assert len(calls) == 3  # the 1st and 3rd agree, though not in a row
    # no two whole readings agree: every try is read (8 by default), and each line is
    # taken as most readings have it (as seen: a different line garbled in each reading)
    lines = ["v 4.8.0", "fw 22/tcp", "fw 53/udp", "fw 636/tcp"]
    garbled = [[*lines] for _ in range(8)]
    for n, reading in enumerate(garbled):
        k = n % len(lines)
        reading[k] = reading[k].replace(" ", "  ") if n >= len(lines) else reading[k][:-1]
    readings = iter(["\n".join(r) for r in garbled] + ["never read"])
    calls.clear()
    assert consolesteps.agreed(session, "inventory", "status") == "\n".join(lines)
    assert len(calls) == 8


def test_majority_lines_drop_what_most_readings_lack() -> None:
    assert consolesteps.majority_lines(["a\nb\nc", "a\nc", "a\nbb\nc"]) == "a\nc"
    assert consolesteps.majority_lines(["x", "y"]) == ""  # no majority: nothing invented
