"""Following one boot-test attempt through its stages: boot the ISO, drive the menu, follow
the install, boot the installed disk, check its report. Classifies any failure.

The flow, with a time limit per stage (bootproto.DEFAULT_TIMEOUTS):

  firmware  until the boot loader speaks on ttyS0 (SeaBIOS/OVMF failing → ``firmware``)
  menu      until the ISO's configured title and entries are all on the serial console
            (screenshot ``menu.png``; entries ≠ profile → ``wrong-menu``), then arrow
            keys + Enter on the serial-console install entry, as a person would
  kernel … reboot   the installer's BUILDISO-STAGE lines on ttyS1
  local-boot  after the guest's own reboot, the ISO's menu comes back (media still in):
            Enter on its default "Boot from local drive" (or wait for its timeout)
  firstboot until FIRSTBOOT-RESULT; the report is checked against the profile

The guest is reached only through a small interface (``Guest``) so the whole state
machine runs in unit tests against a scripted serial stream and a fake clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from buildiso.boottest import bootproto
from buildiso.boottest.bootproto import (
    LineReader,
    ProtocolLine,
    StageClock,
    last_lines,
    parse_line,
    strip_ansi,
)
from buildiso.boottest.cellfailure import (
    BOOTLOADER_BANNER,
    FIRMWARE_GAVE_UP,
    INSTALLER_CLASSES,
    LOADER_ERROR,
    NOTHING_TO_BOOT,
    PANIC,
    Cancelled,
    CellFailed,
    boot_loader_error,
)
from buildiso.boottest.filmstrip import DEFAULT_INTERVAL_S, FOLDER, Filmstrip
from buildiso.boottest.guest import Guest
from buildiso.boottest.isomenu import BootMenu, menu_on_screen, menu_problems, menu_texts
from buildiso.boottest.postreport import INSTALLED_PACKAGES, CheckResult, check_report
from buildiso.boottest.qemu import FIRMWARE_LOG
from buildiso.boottest.screendump import Screenshot
from buildiso.config import Accel
from buildiso.render.profile import Profile

# Keys are sent only once the menu is drawn completely; vesamenu draws its background
# after the text, and GRUB needs a moment before it reads the keyboard.
MENU_SETTLE_S = 1.0
POLL_S = 0.2


@dataclass(frozen=True)
class CellConfig:
    iso: Path
    profile: Profile
    menu: BootMenu  # the menu this cell's firmware shows, read from the ISO
    accel: Accel
    artifacts: Path  # this cell's folder
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(bootproto.DEFAULT_TIMEOUTS))
    wait_local_timeout: bool = False
    memory_mb: int = 2048
    install_set: frozenset[str] | None = None  # the manifest's (N-V-R.A); None: no manifest
    frame_every_s: float = DEFAULT_INTERVAL_S  # filmstrip: a frame this often within a stage
    on_stage: Callable[[str], None] | None = None  # live progress: told the stage every poll
    media_image: Path | None = None  # what is attached instead of the ISO (usb-files stick)
    timeout_scale: float = 1.0  # every stage limit times this (--timeout-scale)


class CellDriver:
    """Runs one attempt of a cell against a started guest."""

    def __init__(
        self,
        config: CellConfig,
        guest: Guest,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        cancelled: Callable[[], bool],
    ) -> None:
        self.config = config
        self.guest = guest
        self.clock = clock
        self.sleep = sleep
        self.cancelled = cancelled
        self.stages = StageClock(timeouts=bootproto.scaled(config.timeouts, config.timeout_scale))
        self.lines = LineReader()
        self.protocol_lines: list[ProtocolLine] = []
        self.install_result: ProtocolLine | None = None
        self.firstboot_result: ProtocolLine | None = None
        self.menu_screenshot: Screenshot | None = None
        self.checks: list[CheckResult] = []
        self.resets_before_install = 0
        self.install_console_offset = 0
        self._scanned: dict[str, int] = {}
        self.film = Filmstrip(
            config.artifacts / FOLDER,
            grab=guest.screendump,
            started=clock(),
            interval_s=config.frame_every_s,
        )

    # -- reading -------------------------------------------------------------------------

    def poll(self) -> None:
        self.guest.console.poll()
        now = self.clock()
        for raw in self.lines.feed(self.guest.protocol.poll()):
            line = parse_line(raw)
            if line is None:
                continue
            self.protocol_lines.append(line)
            if line.kind == "BUILDISO-STAGE":
                self.stages.feed(line, now)
            elif line.kind == "INSTALL-RESULT" and self.install_result is None:
                self.install_result = line
            elif line.kind == "FIRSTBOOT-RESULT" and self.firstboot_result is None:
                self.firstboot_result = line

    def firmware_log(self) -> str:
        # SeaBIOS logs to the debug console (port 0x402); OVMF prints BdsDxe lines on ttyS0.
        try:
            return (self.config.artifacts / FIRMWARE_LOG).read_text(errors="replace")
        except OSError:
            return ""

    def firmware_summary(self) -> str:
        lines = [ln for ln in last_lines(self.firmware_log(), 200) if "boot" in ln.lower()]
        lines += [ln for ln in last_lines(self.guest.console.text, 200) if "BdsDxe" in ln]
        return " / ".join(lines[-4:]) or "nothing"

    def console_since(self, offset: int) -> str:
        return strip_ansi(self.guest.console.text[offset:])

    def wait(
        self, done: Callable[[], bool], on_timeout: Callable[[str, float], CellFailed]
    ) -> None:
        """Poll until ``done()``; a stage over its limit raises ``on_timeout(stage, secs)``."""
        while True:
            self.poll()
            self.film.tick(self.stages.waiting_for(), self.clock())
            if self.config.on_stage is not None:
                self.config.on_stage(self.stages.waiting_for())
            if done():
                return
            if self.cancelled():
                raise Cancelled()
            now = self.clock()
            overdue = self.stages.overdue(now)
            if overdue is not None:
                self.stages.mark_timeout(now)
                raise on_timeout(overdue.stage, overdue.seconds)
            if not self.guest.running:
                stage = self.stages.waiting_for()
                why = self.guest.stderr_tail() or "no error output"
                failure_class = (
                    "qemu-exited"
                    if stage in bootproto.HOST_STAGES
                    else f"guest-stopped-in-stage-{stage}"
                )
                raise CellFailed(failure_class, f"QEMU exited during stage {stage} ({why})")
            self.sleep(POLL_S)

    def timeout_in_stage(self, stage: str, seconds: float) -> CellFailed:
        return CellFailed(
            f"timeout-in-stage-{stage}", f"stuck in stage {stage} after {seconds:.0f} s"
        )

    # -- the flow ------------------------------------------------------------------------

    def run(self) -> None:
        """The whole flow; the filmstrip's last frame shows where it ended."""
        try:
            self.flow()
        except Cancelled:
            raise
        except BaseException:
            last = self.stages.records[-1] if self.stages.records else None
            where = last.name if last and last.status != "ok" else self.stages.waiting_for()
            self.film.capture(where, self.clock(), reason="failed")
            raise
        self.film.capture("firstboot", self.clock(), reason="end")

    def flow(self) -> None:
        menu = self.config.menu
        self.stages.enter("firmware", self.clock())
        self.boot_to_menu()
        self.menu_screenshot = self.guest.screendump(self.config.artifacts / "menu.png")
        # The stage-change frame shows the menu half drawn; this one shows it complete.
        self.film.capture("menu", self.clock(), reason="menu drawn")
        self.check_menu()
        prof = self.config.profile.menu
        # Resets are counted from here: the installer may print its result and reboot
        # within one poll round, before the harness looks for the reset.
        self.resets_before_install = self.guest.event_names().count("RESET")
        self.install_console_offset = len(self.guest.console.text)
        self.guest.send_keys(menu.keys_to(prof.serial_install_label) + ["ret"])
        self.stages.enter("kernel", self.clock())
        self.follow_install()
        self.boot_installed_disk()

    def boot_to_menu(self) -> None:
        """Stages firmware (until the boot loader speaks) and menu (until it is all drawn)."""
        menu = self.config.menu
        offset = 0

        def loader_seen() -> bool:
            text = self.console_since(offset)
            if BOOTLOADER_BANNER.search(text) or len(menu_on_screen(menu, text)) < len(
                menu_texts(menu)
            ):
                return True
            gave_up = FIRMWARE_GAVE_UP.search(text + self.firmware_log())
            if gave_up:
                raise CellFailed(
                    "firmware", f"the firmware did not boot the media: {gave_up.group(0)!r}"
                )
            return False

        def on_firmware_timeout(stage: str, seconds: float) -> CellFailed:
            return CellFailed(
                "firmware",
                f"no boot loader started from the media within {seconds:.0f} s "
                f"(stage {stage}); firmware said: {self.firmware_summary()}",
            )

        self.wait(loader_seen, on_firmware_timeout)
        self.stages.enter("menu", self.clock())

        def menu_complete() -> bool:
            text = self.console_since(offset)
            if not menu_on_screen(menu, text):
                return True
            if "BUILDISO-STAGE" in text or "Linux version" in text:
                raise CellFailed(
                    "menu-not-found", "the boot loader started a kernel without showing the menu"
                )
            return False

        def on_menu_timeout(stage: str, seconds: float) -> CellFailed:
            missing = menu_on_screen(menu, self.console_since(offset))
            return CellFailed(
                "menu-not-found",
                f"after {seconds:.0f} s the {menu.loader} menu "
                f"({menu.source}) is not on the console; missing: {missing}",
            )

        self.wait(menu_complete, on_menu_timeout)
        # Let the boot loader finish drawing and start reading the keyboard.
        self.sleep(MENU_SETTLE_S)
        self.stages.finish("menu", self.clock())

    def check_menu(self) -> None:
        prof = self.config.profile.menu
        problems = menu_problems(
            self.config.menu,
            title=prof.title,
            install=prof.install_label,
            serial_install=prof.serial_install_label,
            local=prof.local_label,
            timeout_s=prof.timeout_s,
        )
        shot = self.menu_screenshot
        if shot is not None and shot.colours <= 1:
            problems.append(f"the menu screenshot {shot.path.name} is blank")
        if problems:
            raise CellFailed("wrong-menu", "; ".join(problems))

    def scan_console(self, pattern: re.Pattern[str], since: int) -> re.Match[str] | None:
        """``pattern`` in the raw console output after ``since``, scanning only new text."""
        text = self.guest.console.text
        start = max(since, self._scanned.get(pattern.pattern, since) - 200)
        self._scanned[pattern.pattern] = len(text)
        return pattern.search(text, start)

    def check_boot_loader(self, since: int, *, kernel: str) -> None:
        """GRUB printed an error on the way to ``kernel``: a flaw people see (and a pause)."""
        error = boot_loader_error(self.guest.console.text, since)
        if error:
            raise CellFailed(
                "boot-loader-error", f"the boot loader said {strip_ansi(error)!r} before {kernel}"
            )

    def follow_install(self) -> None:
        since = self.install_console_offset

        def finished() -> bool:
            panic = self.scan_console(PANIC, since)
            if panic:
                raise CellFailed(
                    "kernel-panic", f"in stage {self.stages.waiting_for()}: {panic.group(0)}"
                )
            if self.stages.waiting_for() == "kernel":
                loader = self.scan_console(LOADER_ERROR, since)
                if loader:
                    raise CellFailed(
                        "kernel-not-loaded",
                        f"the boot loader could not start the installer: {loader.group(0)}",
                    )
            self.check_boot_loader(0, kernel="the installer's kernel")  # the whole boot so far
            return self.install_result is not None

        self.wait(finished, self.timeout_in_stage)
        result = self.install_result
        assert result is not None
        if result.status != "ok":
            raw_class = result.fields.get("class", "internal")
            reason = result.fields.get("reason", "no reason given")
            failed = [r.name for r in self.stages.records if r.status == "failed"]
            where = f" (stage {failed[-1]})" if failed else ""
            raise CellFailed(INSTALLER_CLASSES.get(raw_class, raw_class), f"{reason}{where}")

    def install_end_offset(self) -> int:
        """Where the installer's output ends on the console: the new boot starts after it.

        The installer echoes INSTALL-RESULT on the console too; searching for it (rather
        than taking the log's length now) stays right when the reboot and the next
        firmware output already arrived within the same poll round.
        """
        text = self.guest.console.text
        found = text.rfind("INSTALL-RESULT")
        if found < 0:
            return len(text)
        end = text.find("\n", found)
        return len(text) if end < 0 else end + 1

    def boot_installed_disk(self) -> None:
        now = self.clock()
        cur = self.stages.current
        if cur is None or cur.name != "reboot":
            self.stages.enter("reboot", now)
        resets_before = self.resets_before_install
        console_mark = self.install_end_offset()
        firmware_mark = len(self.firmware_log())

        def rebooted() -> bool:
            return (
                self.guest.event_names().count("RESET") > resets_before
                or self.firstboot_result is not None
            )

        self.wait(rebooted, self.timeout_in_stage)
        # Everything after console_mark (the installer's last output) is the new boot.
        self.stages.enter("local-boot", self.clock())
        self.choose_local_boot(console_mark, firmware_mark)
        if self.firstboot_result is None:
            self.stages.enter("firstboot", self.clock())

        def reported() -> bool:
            panic = self.scan_console(PANIC, console_mark)
            if panic:
                raise CellFailed(
                    "installed-system-did-not-boot",
                    f"the installed kernel panicked: {panic.group(0)}",
                )
            self.check_firmware_gave_up(console_mark, firmware_mark)
            self.check_boot_loader(console_mark, kernel="the installed system's kernel")
            return self.firstboot_result is not None

        def did_not_boot(stage: str, seconds: float) -> CellFailed:
            return CellFailed(
                "installed-system-did-not-boot",
                f"no FIRSTBOOT-RESULT: stuck in stage {stage} after {seconds:.0f} s",
            )

        self.wait(reported, did_not_boot)
        now = self.clock()
        if self.stages.current is not None:
            self.stages.finish(self.stages.current.name, now)
        result = self.firstboot_result
        assert result is not None
        if result.status != "ok":
            raise CellFailed("firstboot", result.fields.get("reason", "FIRSTBOOT-RESULT failed"))
        try:
            report = bootproto.decode_report(result.fields.get("report", ""))
        except ValueError as exc:
            raise CellFailed("firstboot", str(exc)) from None
        (self.config.artifacts / "postinstall-report.json").write_text(
            json.dumps(report, indent=2, sort_keys=True) + "\n", encoding="utf-8"
        )
        self.checks = check_report(report, self.config.profile, install_set=self.config.install_set)
        packages = next((c for c in self.checks if c.name == INSTALLED_PACKAGES), None)
        if packages is not None and not packages.ok:
            raise CellFailed("packages", f"{packages.name}: {packages.message}")
        bad = [c for c in self.checks if not c.ok]
        if bad:
            raise CellFailed("post-install-check", "; ".join(f"{c.name}: {c.message}" for c in bad))

    def check_firmware_gave_up(self, console_mark: int, firmware_mark: int) -> None:
        """After the install: the firmware found nothing to boot (no need to wait it out)."""
        since_reset = self.firmware_log()[firmware_mark:] + self.console_since(console_mark)
        gave_up = NOTHING_TO_BOOT.search(since_reset)
        if gave_up:
            raise CellFailed(
                "installed-system-did-not-boot",
                f"after 'Boot from local drive' the firmware found nothing to boot: "
                f"{gave_up.group(0)!r} (firmware said: {self.firmware_summary()})",
            )

    def choose_local_boot(self, offset: int, firmware_mark: int) -> None:
        """The ISO's menu again (media still attached), or straight to the disk (UEFI order)."""
        menu = self.config.menu
        local = self.config.profile.menu.local_label

        def menu_or_disk() -> bool:
            self.check_firmware_gave_up(offset, firmware_mark)
            text = self.console_since(offset)
            return (
                not menu_on_screen(menu, text)
                or self.firstboot_result is not None
                or "Linux version" in text
            )

        def did_not_boot(stage: str, seconds: float) -> CellFailed:
            return CellFailed(
                "installed-system-did-not-boot",
                f"after the install's reboot neither the menu nor the installed system "
                f"appeared: stuck in stage {stage} after {seconds:.0f} s",
            )

        self.wait(menu_or_disk, did_not_boot)
        if menu_on_screen(menu, self.console_since(offset)) or self.firstboot_result is not None:
            return  # the firmware booted the disk itself
        self.sleep(MENU_SETTLE_S)
        self.guest.screendump(self.config.artifacts / "local-menu.png")
        self.film.capture("local-boot", self.clock(), reason="menu drawn")
        if not self.config.wait_local_timeout:
            self.guest.send_keys(menu.keys_to(local) + ["ret"])
            return
        if menu.default_label != local:
            raise CellFailed(
                "wrong-menu", f"the default entry is {menu.default_label!r}, not {local!r}"
            )
        # The menu's own timeout now runs inside the next stage: allow for it.
        limits = dict(self.stages.timeouts)
        limits["firstboot"] = limits.get("firstboot", 0) + float(menu.timeout_s or 0)
        self.stages.timeouts = limits
