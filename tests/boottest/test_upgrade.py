"""buildiso.boottest.upgrade: the offline upgrade's flow against a scripted machine.

The previous release's install is the bootfakes script (the real CellDriver follows it);
the serial console after it is a fake gateway behind a real unix socket, driven by the
real SerialShell: it asks for the expired password's change, answers the typed commands
from its state, and ``apply-updates`` changes that state as yum would (or fails as dnf
does).
"""

from __future__ import annotations

import contextlib
import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from bootfakes import MENU, TIMEOUTS, FakeClock, FakeGuest, good_report, install_script, quick
from dvd_factory import _pkg
from fakeserial import FakeSerial
from repo_factory import write_media

from buildiso import paths
from buildiso.boottest.celldriver import CellConfig
from buildiso.boottest.console import SerialShell
from buildiso.boottest.upgrade import (
    ADMIN_EDIT,
    AFTER_ONLY,
    APPLY_UPDATES,
    INVENTORY_COMMANDS,
    MAX_COMMAND,
    UPGRADE_TIMEOUTS,
    UpgradeConfig,
    admin_password,
    fresh_password,
    profile_of,
    run_upgrade,
)
from buildiso.boottest.upgradechecks import ReleaseRepo, read_release
from buildiso.config import Accel, Variant
from buildiso.errors import InputError
from buildiso.render.password import ENV_VAR, hash_password, policy_failures
from buildiso.render.profile import Profile, load_profile

OLD_PASSWORD = "Old-Secret-Zk71q"
KEY = "d5308a1a"
RELEASE = ReleaseRepo(
    versions={"cs-email": "4.9.0-190", "cs-email-core": "4.9.0-190", "cs-email-web": "4.9.0-190",
              "cs-email-syslog": "4.9.0-190", "cs-email-repo-conf": "3.6.3-1"},
    obsoletes=frozenset({"cs-email-legacy"}),
    requires=frozenset({"cs-email-core", "cs-email-web", "cs-email-syslog",
                        "cs-email-repo-conf"}),
)  # fmt: skip


class FakeGateway(FakeSerial):
    """The installed 4.8 gateway's serial console after first boot."""

    def __init__(self, log: Path, socket_path: Path, *, update_fails: bool = False,
                 update_keeps: str = "") -> None:  # fmt: skip
        self.update_fails = update_fails
        self.update_keeps = update_keeps  # "legacy": yum left the obsoleted package
        self.rpms = {"cs-email": "4.8.0-150", "cs-email-core": "4.8.0-150",
                     "cs-email-web": "4.8.0-150", "cs-email-legacy": "4.8.0-150",
                     "cs-email-repo-conf": "3.6.3-1"}  # fmt: skip
        self.edited = False
        self.keys = ""
        self.prompts = iter(["Password: ", "Current password: ", "New password: ",
                             "Retype new password: "])  # fmt: skip
        self.last = 0
        super().__init__(socket_path, log)

    def answer(self, command: str) -> tuple[str, int]:
        if command == ADMIN_EDIT[1]:
            self.edited = True
            return "max_message_size_mb = 37", 0
        if command == APPLY_UPDATES[1]:
            if self.update_fails:
                return ("Error: Transaction test error:\n  file /etc/x conflicts between "
                        "attempted installs of cs-email-core and cs-email-web"), 1  # fmt: skip
            self.rpms = {n: v for n, v in RELEASE.versions.items()}
            if self.update_keeps == "legacy":
                self.rpms["cs-email-legacy"] = "4.8.0-150"
            self.keys = KEY
            return "Upgraded: cs-email-4.9.0-190.x86_64\nComplete!", 0
        if command == INVENTORY_COMMANDS["rpms"]:
            return "\n".join(f"{n} {v}" for n, v in sorted(self.rpms.items())), 0
        if command == INVENTORY_COMMANDS["config"]:
            return f"{'aa11' if self.edited else 'ff00'}  /etc/cs-email/cs-email.conf", 0
        if command == INVENTORY_COMMANDS["setting"]:
            return f"max_message_size_mb = {37 if self.edited else 25}", 0
        if command == INVENTORY_COMMANDS["data"]:
            return "0c1d  /var/lib/cs-email/data/policy.db", 0
        if command == INVENTORY_COMMANDS["status"]:
            version = self.rpms["cs-email"]
            return (f"version: {version}\n"
                    "firewall: -A INPUT -m state --state NEW -m tcp -p tcp --dport 25 -j ACCEPT\n"
                    "firewall: -A INPUT -m state --state NEW -m udp -p udp --dport 53 -j ACCEPT\n"
                    + ("" if self.update_keeps != "firewall" else
                       "firewall: -A INPUT -m state --state NEW -m tcp -p tcp --dport 8080 "
                       "-j ACCEPT\n" if version.startswith("4.9") else "")
                    + "service: sample-firstboot-report"), 0  # fmt: skip
        if command == AFTER_ONLY["forbidden"]:
            return ("package postfix is not installed\npackage rsyslog is not installed\n"
                    "package samba-common is not installed"), 3  # fmt: skip
        if command == AFTER_ONLY["repos"]:
            return ("repo id     repo name         status\ncs-email    Secure Email  disabled\n"
                    "cs-media    install media  disabled"), 0  # fmt: skip
        if command == AFTER_ONLY["keys"]:
            return self.keys, 0 if self.keys else 1
        return f"bash: {command.split()[0]}: command not found", 127

    def connected(self) -> None:
        self.write("\r\n\r\nlocalhost login: ")  # the getty, after the first boot

    def reply(self, line: str) -> str:
        if len(self.typed) == 1:
            return f"{line}\r\n{next(self.prompts)}"
        if len(self.typed) <= 4:
            return "\r\n" + next(self.prompts)
        if len(self.typed) == 5:
            return "\r\n[cs-admin@gw ~]$ "
        if line == "echo BUILDISO-RC=$?":
            return f"{line}\r\nBUILDISO-RC={self.last}\r\n[cs-admin@gw ~]$ "
        out, self.last = self.answer(line)
        return (f"{line}\r\n{out}\r\n" if out else f"{line}\r\n") + "[cs-admin@gw ~]$ "


@pytest.fixture(scope="module")
def old_profile() -> Profile:
    return load_profile(paths.PROFILES_DIR / "email-480.toml", Variant.TEST)


def _run(tmp_path: Path, old_profile: Profile, **gateway: object) -> tuple[object, FakeGateway]:
    clock = FakeClock()
    art = tmp_path / "bios-dvd-upgrade"
    script = install_script(report=good_report(old_profile))
    gateways: list[FakeGateway] = []
    inserted: list[Path] = []

    class Machine(FakeGuest):
        def change_media(self, iso: Path) -> None:
            inserted.append(iso)

    @contextlib.contextmanager
    def factory(folder: Path) -> Iterator[Machine]:
        yield Machine(folder, clock, quick(script, 1))

    def shell_for(guest: Machine) -> SerialShell:
        sock = tmp_path / "ttyS0.sock"
        gateways.append(FakeGateway(guest.files["console"], sock, **gateway))  # type: ignore[arg-type]
        return SerialShell(socket_path=sock, console=guest.console, running=lambda: True)

    config = UpgradeConfig(
        new_iso=tmp_path / "EMAIL_490_190.iso",
        old_iso=tmp_path / "EMAIL_480_150.iso",
        old_profile=old_profile,
        admin_password=OLD_PASSWORD,
        cell=CellConfig(iso=tmp_path / "EMAIL_480_150.iso", profile=old_profile, menu=MENU,
                        accel=Accel.TCG, artifacts=art,
                        timeouts={**TIMEOUTS, **UPGRADE_TIMEOUTS}),  # fmt: skip
        timeouts={**UPGRADE_TIMEOUTS, "login": 10, "apply-updates": 10, "checks": 10},
    )
    assert OLD_PASSWORD not in repr(config)  # e.g. in a traceback with locals
    result = run_upgrade(config, release=RELEASE, key_id=KEY, guest_factory=factory,
                         shell_factory=shell_for, clock=clock, sleep=clock.sleep)  # fmt: skip
    assert inserted == [config.new_iso]  # the new disc went into the running machine
    return result, gateways[0]


def test_the_upgrade_passes_and_every_artifact_is_free_of_passwords(
    tmp_path: Path, old_profile: Profile
) -> None:
    result, gateway = _run(tmp_path, old_profile)
    assert result.passed, result.message  # type: ignore[attr-defined]
    checks = {c.name: c for c in result.checks}  # type: ignore[attr-defined]
    assert set(checks) == {
        "gateway-version", "obsoleted-removed", "added-installed", "config-kept", "data-kept",
        "forbidden-absent", "cs-repos-disabled", "vendor-key-imported", "firewall-unchanged",
        "services-unchanged",
    }  # fmt: skip
    assert all(c.ok for c in checks.values())
    assert "cs-email-legacy" in checks["obsoleted-removed"].message
    assert "cs-email-syslog" in checks["added-installed"].message
    # what was typed: user, old password (twice: login and PAM's "current"), the fresh
    # one twice, then the commands in order
    new_password = gateway.typed[3]
    assert gateway.typed[:5] == ["cs-admin", OLD_PASSWORD, OLD_PASSWORD, new_password,
                                  new_password]  # fmt: skip
    assert new_password != OLD_PASSWORD and not policy_failures(new_password)
    commands = [t for t in gateway.typed[5:] if t != "echo BUILDISO-RC=$?"]
    assert commands[:2] == [ADMIN_EDIT[1], INVENTORY_COMMANDS["rpms"]]
    assert APPLY_UPDATES[1] in commands
    art: Path = result.artifacts  # type: ignore[attr-defined]
    for path in art.rglob("*"):
        if path.is_file():
            text = path.read_bytes()
            assert OLD_PASSWORD.encode() not in text, path
            assert new_password.encode() not in text, path
    transcript = json.loads((art / "transcript.json").read_text())
    assert [t["command"] for t in transcript][:2] == [ADMIN_EDIT[1], INVENTORY_COMMANDS["rpms"]]
    console = (art / "console.log").read_text()
    assert f"$ {APPLY_UPDATES[1]}\nUpgraded: cs-email-4.9.0-190.x86_64\nComplete!" in console
    stages = result.stages  # type: ignore[attr-defined]
    for stage in ("packages", "firstboot", "media-change", "login", "admin-edit",
                  "apply-updates", "checks"):  # fmt: skip
        assert stages[stage]["status"] == "ok", stage
    assert json.loads((art / "result.json").read_text())["passed"] is True


def test_a_failing_update_fails_with_class_packages_and_dnfs_reason(
    tmp_path: Path, old_profile: Profile
) -> None:
    result, _ = _run(tmp_path, old_profile, update_fails=True)
    assert not result.passed  # type: ignore[attr-defined]
    assert result.failure_class == "packages"  # type: ignore[attr-defined]
    assert "apply-updates" in result.message  # type: ignore[attr-defined]
    assert "conflicts between attempted installs" in result.message  # type: ignore[attr-defined]
    assert result.stages["apply-updates"]["status"] == "failed"  # type: ignore[attr-defined]
    assert "checks" not in result.stages  # type: ignore[attr-defined]


def test_an_obsoleted_package_left_behind_fails_the_check(
    tmp_path: Path, old_profile: Profile
) -> None:
    result, _ = _run(tmp_path, old_profile, update_keeps="legacy")
    assert result.failure_class == "post-install-check"  # type: ignore[attr-defined]
    bad = [c.name for c in result.checks if not c.ok]  # type: ignore[attr-defined]
    assert bad == ["obsoleted-removed"]
    assert "still there: ['cs-email-legacy']" in result.message  # type: ignore[attr-defined]


def test_a_port_opened_by_the_update_fails_the_firewall_check(
    tmp_path: Path, old_profile: Profile
) -> None:
    result, _ = _run(tmp_path, old_profile, update_keeps="firewall")
    assert result.failure_class == "post-install-check"  # type: ignore[attr-defined]
    bad = {c.name: c.message for c in result.checks if not c.ok}  # type: ignore[attr-defined]
    assert list(bad) == ["firewall-unchanged"]
    assert "8080/tcp" in bad["firewall-unchanged"]


def test_the_expected_versions_come_from_the_new_isos_cs_repo(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    write_media(tree, [
        _pkg("bash", "4.1.2"),
        _pkg("cs-email", "4.9.0", release="190", repo="cs-repo",
             requires=["cs-email-core = 4.9.0-190", "cs-email-syslog"]),
        _pkg("cs-email-core", "4.9.0", release="190", repo="cs-repo",
             obsoletes=["cs-email-legacy < 4.9.0"]),
        _pkg("cs-email-syslog", "4.9.0", release="190", repo="cs-repo"),
    ], [])  # fmt: skip
    iso = tmp_path / "NEW.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(iso), str(tree)],
                   check=True)  # fmt: skip
    release = read_release(iso, work=tmp_path / "work")
    assert release.versions == {"cs-email": "4.9.0-190", "cs-email-core": "4.9.0-190",
                                "cs-email-syslog": "4.9.0-190"}  # fmt: skip
    assert release.obsoletes == {"cs-email-legacy"}
    assert release.requires == {"cs-email-core", "cs-email-syslog"}


def _iso_with_ks(tmp_path: Path, ks: str) -> Path:
    tree = tmp_path / "tree"
    tree.mkdir()
    (tree / "ks.cfg").write_text(ks)
    iso = tmp_path / "EMAIL_480_150.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-R", "-o", str(iso), str(tree)],
                   check=True)  # fmt: skip
    return iso


def test_the_admin_password_must_be_the_one_the_old_iso_was_built_with(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashed = hash_password(OLD_PASSWORD, salt="abcdefgh12345678")
    iso = _iso_with_ks(tmp_path, f"rootpw --iscrypted --lock {hashed}\n"
                                 f"user --name=cs-admin --iscrypted --password={hashed}\n")
    right, wrong = tmp_path / "right.txt", tmp_path / "wrong.txt"
    right.write_text(OLD_PASSWORD + "\n")
    wrong.write_text("Other-Secret-Qx52\n")
    monkeypatch.delenv(ENV_VAR, raising=False)
    work = tmp_path / "work"
    assert admin_password(iso=iso, user="cs-admin", password_file=right, work=work) == OLD_PASSWORD
    with pytest.raises(InputError) as caught:
        admin_password(iso=iso, user="cs-admin", password_file=wrong, work=work)
    assert "is not the one EMAIL_480_150.iso was built with" in str(caught.value)
    assert "Other-Secret" not in str(caught.value)
    with pytest.raises(InputError, match="needs the password that ISO was built with"):
        admin_password(iso=iso, user="cs-admin", password_file=None, work=work)
    monkeypatch.setenv(ENV_VAR, OLD_PASSWORD)
    assert admin_password(iso=iso, user="cs-admin", password_file=None, work=work) == OLD_PASSWORD
    assert not list(work.glob("*ks*"))  # the extracted kickstart is not left behind


def test_the_old_profile_is_found_by_the_isos_name_or_refused(tmp_path: Path) -> None:
    found = profile_of(tmp_path / "EMAIL_480_150.iso", variant=Variant.TEST, profile_path=None)
    assert (found.version, found.build) == ("4.8.0", 150)
    with pytest.raises(InputError, match="--from-profile"):
        profile_of(tmp_path / "renamed.iso", variant=Variant.TEST, profile_path=None)


def test_fresh_passwords_meet_the_policy_and_differ() -> None:
    made = {fresh_password() for _ in range(20)}
    assert len(made) == 20
    assert not any(policy_failures(p) for p in made)


def test_every_typed_command_echoes_on_one_line_of_a_serial_console() -> None:
    # bash on a serial line assumes 80 columns and scrolls a longer line sideways,
    # redrawing its echo: the console log would no longer show the command as typed
    prompt = "[cs-admin@localhost ~]$ "
    typed = [ADMIN_EDIT[1], APPLY_UPDATES[1], *INVENTORY_COMMANDS.values(), *AFTER_ONLY.values()]
    assert all(len(c) <= MAX_COMMAND for c in typed)
    assert len(prompt) + MAX_COMMAND < 79
