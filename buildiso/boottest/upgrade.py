"""``buildiso boot-test NEW.iso --scenario upgrade --from OLD.iso``: the offline upgrade (§4).

A gateway is installed from the previous release exactly as a fresh-install cell does it
(``CellDriver``: menu, unattended install, first boot, the post-install checks against the
previous release's profile). With the machine still running, the release engineer's new
ISO goes into its DVD drive. The appliance admin logs in on the serial console as the
product's admin user with the password OLD.iso was built with; the product expired it at
install (``chage -d 0``), so the system makes them change it: a fresh policy-compliant
password is typed, made for this run, never written anywhere. The admin first edits a
setting (the %config(noreplace) file), then runs the Server Console's "Apply Updates" in
offline mode (``sudo cs-console apply-updates --offline``: mount the media, yum update
from the cs-* repositories only). Each command is typed as a person would, and the
console log shows it with its output.

Checks afterwards: the gateway's packages at the versions of NEW.iso's ``cs-repo``
(its repodata, not hard-coded), what NEW obsoletes gone, what NEW's cs-email adds present,
the edited configuration and the data under /var/lib/cs-email/data unchanged, postfix,
rsyslog and samba-common absent, the cs-* repositories disabled, the vendor key imported,
and the firewall rules and boot services as the fresh install left them.

Artifacts (one folder): console.log (install, first boot, the session), protocol.log,
menu.png and the filmstrip, postinstall-report.json (the previous release's fresh
install), transcript.json, result.json, timings.json, failure.png on failure.
"""

from __future__ import annotations

import logging
import re
import secrets
import shutil
import string
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from buildiso import paths
from buildiso.boottest import bootproto
from buildiso.boottest.bootcell import Cell, CellResult
from buildiso.boottest.celldriver import CellConfig, CellDriver
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.console import SerialShell
from buildiso.boottest.guest import Guest
from buildiso.boottest.isomenu import read_menu
from buildiso.boottest.mediachecks import FORBIDDEN_QUERY
from buildiso.boottest.postreport import CheckResult, install_set_beside
from buildiso.boottest.qemu import VmSpec, create_disk
from buildiso.boottest.scenarios import reason, record_result, signing_key_id
from buildiso.boottest.upgradechecks import Inventory, ReleaseRepo, read_release, upgrade_checks
from buildiso.boottest.vm import QemuStartError, Vm
from buildiso.config import Accel, Firmware, Media, Variant
from buildiso.errors import InputError
from buildiso.log import step
from buildiso.render import layout
from buildiso.render.password import policy_failures, read_custom_password
from buildiso.render.profile import Profile, load_profile
from buildiso.render.shacrypt import sha512_crypt
from buildiso.run import run

log = logging.getLogger(__name__)

# The gateway's Server Console command (cs-email-core), run through its sudoers rule.
CONSOLE = "sudo cs-console"
EDITED_SETTING = ("max_message_size_mb", "37")  # neither release's default
# What the admin types after logging in: stage, command, failure class.
ADMIN_EDIT = ("admin-edit", f"{CONSOLE} set {' '.join(EDITED_SETTING)}", "console")
APPLY_UPDATES = ("apply-updates", f"{CONSOLE} apply-updates --offline", "packages")
# Read before and after the update (stage "inventory" before, "checks" after).
INVENTORY_COMMANDS = {
    "rpms": "rpm -qa --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' 'cs-*'",
    "config": "md5sum /etc/cs-email/cs-email.conf",
    "setting": f"grep ^{EDITED_SETTING[0]} /etc/cs-email/cs-email.conf",
    "data": "md5sum /var/lib/cs-email/data/*",
    "status": f"{CONSOLE} status",
}
AFTER_ONLY = {
    "forbidden": FORBIDDEN_QUERY,
    "repos": "yum repolist --all",
    "keys": "rpm -q gpg-pubkey --qf '%{VERSION}\\n'",
}
# A serial line has no window size: bash's line editor assumes 80 columns and scrolls a
# longer line sideways, redrawing its echo. Commands stay short enough to echo on one
# line after a prompt such as "[cs-admin@localhost ~]$ ".
MAX_COMMAND = 54
UPGRADE_TIMEOUTS: Mapping[str, float] = {
    "media-change": 30,
    "login": 180,  # the getty prompt, login, the forced password change
    "admin-edit": 60,
    "inventory": 180,
    "apply-updates": 900,  # yum: metadata, gpg checks, the transaction
    "checks": 300,
}


@dataclass(frozen=True)
class UpgradeConfig:
    new_iso: Path
    old_iso: Path
    old_profile: Profile
    # what OLD.iso was built with: only typed, never written (nor shown by repr)
    admin_password: str = field(repr=False)
    cell: CellConfig  # for the previous release's install (its profile, its menu)
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(UPGRADE_TIMEOUTS))


def fresh_password() -> str:
    """A new admin password for the forced change: random, meeting the vendor policy."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "Up-" + "".join(secrets.choice(alphabet) for _ in range(18)) + "4q"
        if not policy_failures(candidate):
            return candidate


def check_upgrade_args(*, scenario_is_upgrade: bool, from_iso: Path | None) -> None:
    """One-line InputErrors for --from (checked before anything boots)."""
    if not scenario_is_upgrade:
        if from_iso is not None:
            raise InputError(
                "--from is only for --scenario upgrade",
                hint="drop --from, or add --scenario upgrade",
            )
        return
    if from_iso is None:
        raise InputError(
            "--scenario upgrade needs --from OLD.iso (the previous release it upgrades from)",
            hint="e.g. --from out/EMAIL_480_150.iso (buildiso build --profile "
            "profiles/email-480.toml)",
        )
    if not from_iso.is_file():
        raise InputError(
            f"{from_iso}: --from is not a file", hint="pass the previous release's ISO"
        )


def profile_of(iso: Path, *, variant: Variant, profile_path: Path | None) -> Profile:
    """The profile OLD.iso was built from: ``profile_path``, or the shipped one naming it."""
    if profile_path is not None:
        return load_profile(profile_path, variant)
    for candidate in sorted(paths.PROFILES_DIR.glob("*.toml")):
        profile = load_profile(candidate, variant)
        if profile.iso_name == iso.name:
            return profile
    raise InputError(
        f"{iso}: no profile in {paths.PROFILES_DIR} builds an ISO of this name",
        hint="pass --from-profile PROFILE.toml (the profile OLD.iso was built from)",
    )


def admin_password(*, iso: Path, user: str, password_file: Path | None, work: Path) -> str:
    """The admin password OLD.iso was built with, checked against its ks.cfg hash."""
    custom = read_custom_password(password_file=password_file)
    if custom is None:
        raise InputError(
            f"--scenario upgrade logs in as {user} on {iso.name}: it needs the password "
            "that ISO was built with",
            hint="pass --password-file FILE or set BUILDISO_CS_ADMIN_PASSWORD, as for "
            "buildiso build (the vendor default's plain text is not in this repository)",
        )
    password, source = custom
    work.mkdir(parents=True, exist_ok=True)
    ks = work / "old-ks.cfg"
    ks.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract", "/ks.cfg", ks])
    found = re.search(
        rf"^user --name={re.escape(user)} .*--password=(\$6\$([^$\s]+)\$\S+)",
        ks.read_text(encoding="utf-8", errors="replace"),
        re.MULTILINE,
    )
    ks.unlink()
    if found is None:
        raise InputError(
            f"{iso}: its ks.cfg creates no user {user} with a SHA-512 password",
            hint="--from takes an ISO made by buildiso build",
        )
    if sha512_crypt(password, found.group(2)) != found.group(1):
        raise InputError(
            f"the {user} password from {source} is not the one {iso.name} was built with",
            hint="give the password file (or variable) used for buildiso build of that ISO",
        )
    return password


class UpgradeGuest(Guest, Protocol):
    """A running machine whose DVD drive can take another disc (vm.Vm; tests fake it)."""

    def change_media(self, iso: Path) -> None: ...


def run_upgrade(
    config: UpgradeConfig,
    *,
    release: ReleaseRepo,
    key_id: str | None,
    guest_factory: Callable[[Path], AbstractContextManager[UpgradeGuest]],
    shell_factory: Callable[[UpgradeGuest], SerialShell],
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> CellResult:
    """Install OLD, put NEW in the drive, update as the admin, check. ``guest_factory``
    starts the machine (logs in the artifacts folder it is given)."""
    art = config.cell.artifacts
    art.mkdir(parents=True, exist_ok=True)
    started = clock()
    transcript: list[dict[str, object]] = []
    failure: CellFailed | None = None
    driver: CellDriver | None = None
    session: _Session | None = None
    try:
        with guest_factory(art) as guest:
            driver = CellDriver(config.cell, guest, clock=clock, sleep=sleep, cancelled=_never)
            stages = driver.stages
            session = _Session(config, guest, stages, clock, transcript, shell_factory)
            try:
                driver.run()  # the previous release's fresh install, checked as a cell is
                stages.enter("media-change", clock())
                try:
                    guest.change_media(config.new_iso)
                except Exception as exc:  # noqa: BLE001 - QMP's error says what went wrong
                    raise CellFailed(
                        "infrastructure", f"could not insert {config.new_iso.name}: {exc}"
                    ) from exc
                stages.finish("media-change", clock())
                session.run(release=release, key_id=key_id)
                _screenshot(guest, art / "upgraded.png")
            except CellFailed as exc:
                failure = exc
                stages.fail_current(clock())
                _screenshot(guest, art / "failure.png")
    except QemuStartError as exc:
        failure = CellFailed("infrastructure", str(exc))
    checks = session.checks if session else []
    result = CellResult(
        cell=Cell(Firmware.BIOS, Media.DVD),
        passed=failure is None,
        failure_class=failure.failure_class if failure else None,
        message=failure.message
        if failure
        else f"{config.old_iso.name} installed, updated from {config.new_iso.name}; "
        "all checks passed",
        stages=driver.stages.timings() if driver else {},
        checks=checks,
        artifacts=art,
        accel=config.cell.accel.value,
        seconds=clock() - started,
    )
    return record_result(result, transcript=transcript, disk=art / "disk.qcow2")


def _never() -> bool:
    return False


@dataclass
class _Session:
    """The admin at the serial console: log in, edit, apply updates, look around."""

    config: UpgradeConfig
    guest: UpgradeGuest
    stages: bootproto.StageClock
    clock: Callable[[], float]
    transcript: list[dict[str, object]]
    shell_factory: Callable[[UpgradeGuest], SerialShell]
    checks: list[CheckResult] = field(default_factory=list)  # once judged, passed or not

    def run(self, *, release: ReleaseRepo, key_id: str | None) -> None:
        # the stage clock's limits are scaled already (CellDriver), the upgrade's are not
        own = bootproto.scaled(self.config.timeouts, self.config.cell.timeout_scale)
        self.limits = {**self.stages.timeouts, **own}
        self.shell = self.shell_factory(self.guest)
        try:
            self.stages.enter("login", self.clock())
            # The getty prompt came after the first boot's report.
            since = max(0, self.guest.console.text.rfind("FIRSTBOOT-RESULT"))
            self.shell.login_changing_expired(
                user=self.config.old_profile.admin_user,
                password=self.config.admin_password,
                new_password=fresh_password(),
                since=since,
                timeout=self.limits["login"],
            )
            self.stages.enter("admin-edit", self.clock())
            self.typed(*ADMIN_EDIT)
            self.stages.enter("inventory", self.clock())
            before = self.inventory("inventory")
            self.stages.enter("apply-updates", self.clock())
            self.typed(*APPLY_UPDATES)
            self.stages.enter("checks", self.clock())
            after = self.inventory("checks")
            extra = {k: self.typed("checks", c, "") for k, c in AFTER_ONLY.items()}
        finally:
            self.shell.close()
        self.checks = upgrade_checks(
            before=before, after=after, extra=extra, release=release, edited=EDITED_SETTING,
            key_id=key_id,
        )  # fmt: skip
        bad = [c for c in self.checks if not c.ok]
        if bad:
            raise CellFailed("post-install-check", "; ".join(f"{c.name}: {c.message}" for c in bad))
        self.stages.finish("checks", self.clock())

    def typed(self, stage: str, command: str, klass: str) -> str:
        """Type ``command``; a non-zero status fails the cell with ``klass`` (if given)."""
        done = self.shell.run(command, timeout=self.limits[stage], stage=stage)
        self.transcript.append(
            {"stage": stage, "command": command, "status": done.status,
             "seconds": round(done.seconds, 1), "output": done.output}
        )  # fmt: skip
        if done.status != 0 and klass:
            raise CellFailed(klass, f"{stage} `{command}` exited {done.status}: {reason(done)}")
        return done.output

    def inventory(self, stage: str) -> Inventory:
        return Inventory(**{k: self.agreed(stage, c) for k, c in INVENTORY_COMMANDS.items()})

    def agreed(self, stage: str, command: str, *, tries: int = 4) -> str:
        """The output of ``command`` once two readings in a row agree. The serial console
        drops or doubles a character now and then under load (seen: one firewall line of
        twelve lost), and before/after are compared line by line."""
        last = self.typed(stage, command, "")
        for _ in range(tries - 1):
            again = self.typed(stage, command, "")
            if again == last:
                break
            last = again
        return last


def _screenshot(guest: UpgradeGuest, path: Path) -> None:
    try:
        if guest.running:
            guest.screendump(path)
    except Exception as exc:  # noqa: BLE001 - evidence is best effort, the result is the point
        log.debug("screenshot %s: %s", path.name, exc)


def upgrade_results(
    *,
    new_iso: Path,
    old_iso: Path,
    old_profile_path: Path | None,
    variant: Variant,
    password_file: Path | None,
    accel: Accel,
    artifacts: Path,
    timeouts: Mapping[str, float] | None,
    timeout_scale: float = 1.0,
) -> list[CellResult]:
    """``boot-test --scenario upgrade``: the real machine (QEMU), one BIOS + DVD cell."""

    cell = Cell(Firmware.BIOS, Media.DVD)
    art = artifacts / f"{cell.name}-upgrade"
    shutil.rmtree(art, ignore_errors=True)
    art.mkdir(parents=True)
    old_profile = profile_of(old_iso, variant=variant, profile_path=old_profile_path)
    password = admin_password(
        iso=old_iso, user=old_profile.admin_user, password_file=password_file, work=art
    )
    release = read_release(new_iso, work=art / "new-release")
    config = UpgradeConfig(
        new_iso=new_iso,
        old_iso=old_iso,
        old_profile=old_profile,
        admin_password=password,
        cell=CellConfig(
            iso=old_iso,
            profile=old_profile,
            menu=read_menu(old_iso, Firmware.BIOS),
            accel=accel,
            artifacts=art,
            timeouts={**(timeouts or bootproto.DEFAULT_TIMEOUTS), **UPGRADE_TIMEOUTS},
            install_set=install_set_beside(old_iso),
            timeout_scale=timeout_scale,
        ),
    )

    @contextmanager
    def machine(folder: Path) -> Iterator[Vm]:
        disk = folder / "disk.qcow2"
        create_disk(disk, size_mb=layout.disk_mb(old_profile))
        spec = VmSpec(
            firmware=Firmware.BIOS, media=Media.DVD, iso=old_iso, disk=disk, accel=accel,
            memory_mb=config.cell.memory_mb, reboot=True, console_input=True,
        )  # fmt: skip
        with Vm(spec, artifacts=folder) as vm:
            yield vm

    def shell_for(guest: UpgradeGuest) -> SerialShell:
        assert isinstance(guest, Vm)
        vm = guest
        return SerialShell(
            socket_path=vm.files.console_socket, console=vm.console, running=lambda: vm.running
        )

    step(f"{cell.name}: {old_iso.name} installed, then updated from {new_iso.name}")
    result = run_upgrade(
        config,
        release=release,
        key_id=signing_key_id(new_iso, art),
        guest_factory=machine,
        shell_factory=shell_for,
    )
    verdict = "passed" if result.passed else f"FAILED [{result.failure_class}] {result.message}"
    log.info("%s upgrade: %s in %.0f s", cell.name, verdict, result.seconds)
    return [result]
