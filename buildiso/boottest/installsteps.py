"""Steps that install from the media and boot the result, as a person at the machine would.

    boot-media        start the machine from the media with fresh disks (stage firmware:
                      until the boot loader speaks; SeaBIOS/OVMF giving up → firmware)
    choose-entry      until the ISO's title and entries are all on the serial console
                      (stage menu; screenshot menu.png; entries ≠ profile → wrong-menu),
                      then arrow keys + Enter on the chosen entry
    follow-install    the installer's BUILDISO-STAGE lines on ttyS1 (kernel … post), then
                      its reboot (reboot)
    boot-local        the ISO's menu again (media still in): Enter on "Boot from local
                      drive", or the firmware boots the disk itself (local-boot)
    firstboot-report  until FIRSTBOOT-RESULT; its report is checked against the profile
                      (firstboot)

The guest is reached only through the session, so every step runs in unit tests against
a scripted serial stream and a fake clock (tests/bootfakes.py).
"""

from __future__ import annotations

from collections.abc import Iterable

from buildiso.boottest import bootproto
from buildiso.boottest.artifacts import LOCAL_MENU_PNG, MENU_PNG, write_json
from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.cellfailure import (
    BOOTLOADER_BANNER,
    FIRMWARE_GAVE_UP,
    INSTALLER_CLASSES,
    LOADER_ERROR,
    NOTHING_TO_BOOT,
    PANIC,
    CellFailed,
    boot_loader_error,
)
from buildiso.boottest.isomenu import BootMenu, menu_on_screen, menu_problems, menu_texts
from buildiso.boottest.postreport import INSTALLED_PACKAGES, check_report
from buildiso.boottest.qemu import VmSpec
from buildiso.boottest.session import Session
from buildiso.boottest.steps import (
    INSTALL_SET,
    MENUS,
    STICK,
    Need,
    Param,
    StepCall,
    StepKind,
    folder_param,
    media_param,
)
from buildiso.config import Media
from buildiso.render import layout
from buildiso.render.profile import Profile

# Keys are sent only once the menu is drawn completely; vesamenu draws its background
# after the text, and GRUB needs a moment before it reads the keyboard.
MENU_SETTLE_S = 1.0
INSTALL_STAGES = bootproto.INSTALL_STAGES  # kernel … reboot: follow-install's limits
DID_NOT_BOOT = "installed-system-did-not-boot"


def _booted(s: Session) -> tuple[BootMenu, Profile]:
    media = s.inputs.iso(s.booted or "")
    return media.menu(s.cell.firmware), media.profile


# -- boot-media ------------------------------------------------------------------------


def boot_media(s: Session, call: StepCall) -> None:
    media = s.inputs.iso(call.text("media"))
    menu = media.menu(s.cell.firmware)  # an ISO without this firmware's menu fails here
    profile = media.profile
    disks = [s.folder.disk(i) for i in range(1, profile.disk_layout.disks + 1)]
    attached = media.stick if s.cell.media is Media.USB_FILES else media.path
    assert attached is not None  # resolved for usb-files cells (needs)
    spec = VmSpec(
        firmware=s.cell.firmware, media=s.cell.media, iso=attached, disk=disks[0],
        accel=s.options.accel, memory_mb=s.options.memory_mb, reboot=True,
        extra_disks=tuple(disks[1:]),  # the disks the profile's layout installs onto
        console_input=s.options.console_input,
    )  # fmt: skip
    s.start_machine(spec, call.text("folder"), new_disks=disks,
                    disk_mb=layout.disk_mb(profile))  # fmt: skip
    s.booted = call.text("media")

    def loader_seen() -> bool:
        text = s.console_since(0)
        if BOOTLOADER_BANNER.search(text) or len(menu_on_screen(menu, text)) < len(
            menu_texts(menu)
        ):
            return True
        gave_up = FIRMWARE_GAVE_UP.search(text + s.firmware_log())
        if gave_up:
            raise CellFailed("firmware", f"the firmware did not boot the media: {gave_up[0]!r}")
        return False

    def no_loader(stage: str, seconds: float) -> CellFailed:
        return CellFailed(
            "firmware",
            f"no boot loader started from the media within {seconds:.0f} s (stage {stage}); "
            f"firmware said: {s.firmware_summary()}",
        )

    s.wait(loader_seen, no_loader)


def _boot_media_needs(call: StepCall) -> Iterable[Need]:
    media = call.text("media")
    return [(media, MENUS), (media, INSTALL_SET), (media, STICK)]


# -- choose-entry ----------------------------------------------------------------------

ENTRIES = ("serial-install", "install", "local")


def choose_entry(s: Session, call: StepCall) -> None:
    menu, profile = _booted(s)

    def menu_complete() -> bool:
        text = s.console_since(0)
        if not menu_on_screen(menu, text):
            return True
        if "BUILDISO-STAGE" in text or "Linux version" in text:
            raise CellFailed(
                "menu-not-found", "the boot loader started a kernel without showing the menu"
            )
        return False

    def not_shown(stage: str, seconds: float) -> CellFailed:
        missing = menu_on_screen(menu, s.console_since(0))
        return CellFailed(
            "menu-not-found",
            f"after {seconds:.0f} s the {menu.loader} menu ({menu.source}) is not on the "
            f"console; missing: {missing}",
        )

    s.wait(menu_complete, not_shown)
    s.sleep(MENU_SETTLE_S)  # let the boot loader finish drawing and read the keyboard
    guest = s.running()
    s.menu_screenshot = guest.screendump(s.folder.screenshot(MENU_PNG))
    # The stage-change frame shows the menu half drawn; this one shows it complete.
    s.film.capture(call.stage or "menu", s.clock(), reason="menu drawn")
    prof = profile.menu
    problems = menu_problems(menu, title=prof.title, install=prof.install_label,
                             serial_install=prof.serial_install_label, local=prof.local_label,
                             timeout_s=prof.timeout_s)  # fmt: skip
    shot = s.menu_screenshot
    if shot.colours <= 1:
        problems.append(f"the menu screenshot {shot.path.name} is blank")
    if problems:
        raise CellFailed("wrong-menu", "; ".join(problems))
    label = {"serial-install": prof.serial_install_label, "install": prof.install_label,
             "local": prof.local_label}[call.text("entry")]  # fmt: skip
    # The installer may print its result and reboot within one poll round: the new boot
    # is counted (resets, console) from before the key that starts it.
    s.resets_mark, s.boot_mark = s.resets(), len(guest.console.text)
    guest.send_keys(menu.keys_to(label) + ["ret"])


# -- follow-install --------------------------------------------------------------------


def check_boot_loader(s: Session, since: int, *, kernel: str) -> None:
    """GRUB printed an error on the way to ``kernel``: a flaw people see (and a pause)."""
    error = boot_loader_error(s.running().console.text, since)
    if error:
        raise CellFailed(
            "boot-loader-error", f"the boot loader said {strip_ansi(error)!r} before {kernel}"
        )


def follow_install(s: Session, call: StepCall | None = None) -> None:
    """The installer's stages until INSTALL-RESULT, then its reboot (install-server too)."""
    s.stages.enter("kernel", s.clock())
    s.entered("kernel")
    since = s.boot_mark

    def finished() -> bool:
        panic = s.scan_console(PANIC, since)
        if panic:
            raise CellFailed("kernel-panic", f"in stage {s.stages.waiting_for()}: {panic[0]}")
        if s.stages.waiting_for() == "kernel":
            loader = s.scan_console(LOADER_ERROR, since)
            if loader:
                raise CellFailed("kernel-not-loaded",
                                 f"the boot loader could not start the installer: {loader[0]}")
        check_boot_loader(s, 0, kernel="the installer's kernel")  # the whole boot so far
        return s.install_result is not None

    s.wait(finished, s.timeout_in_stage)
    result = s.install_result
    assert result is not None
    if result.status != "ok":
        raw_class = result.fields.get("class", "internal")
        reason = result.fields.get("reason", "no reason given")
        failed = [r.name for r in s.stages.records if r.status == "failed"]
        where = f" (stage {failed[-1]})" if failed else ""
        raise CellFailed(INSTALLER_CLASSES.get(raw_class, "installer-internal"),
                         f"{reason}{where}")  # fmt: skip
    _await_reboot(s)


def _install_end_offset(s: Session) -> int:
    """Where the installer's output ends on the console: the next boot starts after it.

    The installer echoes INSTALL-RESULT on the console too; searching for it (rather than
    taking the log's length now) stays right when the reboot and the next firmware output
    already arrived within the same poll round.
    """
    text = s.running().console.text
    found = text.rfind("INSTALL-RESULT")
    if found < 0:
        return len(text)
    end = text.find("\n", found)
    return len(text) if end < 0 else end + 1


def _await_reboot(s: Session) -> None:
    cur = s.stages.current
    if cur is None or cur.name != "reboot":
        s.stages.enter("reboot", s.clock())
    console_mark, firmware_mark = _install_end_offset(s), len(s.firmware_log())
    resets = s.resets_mark
    reboots = s.spec is None or s.spec.reboot
    guest = s.running()

    def rebooted() -> bool:
        if not reboots:  # -no-reboot: the installer's reboot ends QEMU
            return not guest.running
        return s.resets() > resets or s.firstboot_result is not None

    s.wait(rebooted, s.timeout_in_stage)
    s.boot_mark, s.firmware_mark = console_mark, firmware_mark
    if not reboots:
        s.stages.finish("reboot", s.clock())


# -- boot-local ------------------------------------------------------------------------


def _firmware_gave_up(s: Session) -> None:
    """After the install: the firmware found nothing to boot (no need to wait it out)."""
    since_reset = s.firmware_log()[s.firmware_mark :] + s.console_since(s.boot_mark)
    gave_up = NOTHING_TO_BOOT.search(since_reset)
    if gave_up:
        raise CellFailed(
            DID_NOT_BOOT,
            f"after 'Boot from local drive' the firmware found nothing to boot: "
            f"{gave_up[0]!r} (firmware said: {s.firmware_summary()})",
        )


def boot_local(s: Session, call: StepCall) -> None:
    menu, profile = _booted(s)
    local = profile.menu.local_label

    def menu_or_disk() -> bool:
        _firmware_gave_up(s)
        text = s.console_since(s.boot_mark)
        return (not menu_on_screen(menu, text) or s.firstboot_result is not None
                or "Linux version" in text)  # fmt: skip

    def did_not_boot(stage: str, seconds: float) -> CellFailed:
        return CellFailed(
            DID_NOT_BOOT,
            f"after the install's reboot neither the menu nor the installed system "
            f"appeared: stuck in stage {stage} after {seconds:.0f} s",
        )

    s.wait(menu_or_disk, did_not_boot)
    if menu_on_screen(menu, s.console_since(s.boot_mark)) or s.firstboot_result is not None:
        return  # the firmware booted the disk itself
    s.sleep(MENU_SETTLE_S)
    s.running().screendump(s.folder.screenshot(LOCAL_MENU_PNG))
    s.film.capture(call.stage or "local-boot", s.clock(), reason="menu drawn")
    if not s.options.wait_local_timeout:
        s.running().send_keys(menu.keys_to(local) + ["ret"])
        return
    if menu.default_label != local:
        raise CellFailed("wrong-menu", f"the default entry is {menu.default_label!r}, "
                                       f"not {local!r}")  # fmt: skip
    # The menu's own timeout now runs inside the first boot's stage: allow for it.
    limits = dict(s.stages.timeouts)
    limits["firstboot"] = limits.get("firstboot", 0) + float(menu.timeout_s or 0)
    s.stages.timeouts = limits


# -- firstboot-report ------------------------------------------------------------------


def firstboot_report(s: Session, call: StepCall) -> None:
    _menu, profile = _booted(s)
    media = s.inputs.iso(s.booted or "")

    def reported() -> bool:
        panic = s.scan_console(PANIC, s.boot_mark)
        if panic:
            raise CellFailed(DID_NOT_BOOT, f"the installed kernel panicked: {panic[0]}")
        _firmware_gave_up(s)
        check_boot_loader(s, s.boot_mark, kernel="the installed system's kernel")
        return s.firstboot_result is not None

    def did_not_boot(stage: str, seconds: float) -> CellFailed:
        return CellFailed(
            DID_NOT_BOOT, f"no FIRSTBOOT-RESULT: stuck in stage {stage} after {seconds:.0f} s"
        )

    s.wait(reported, did_not_boot)
    result = s.firstboot_result
    assert result is not None
    if result.status != "ok":
        raise CellFailed("firstboot", result.fields.get("reason", "FIRSTBOOT-RESULT failed"))
    try:
        report = bootproto.decode_report(result.fields.get("report", ""))
    except ValueError as exc:
        raise CellFailed("firstboot", str(exc)) from None
    write_json(s.folder.postinstall_report, report)
    checks = check_report(report, profile, install_set=media.install_set)
    s.checks.extend(checks)
    packages = next((c for c in checks if c.name == INSTALLED_PACKAGES), None)
    if packages is not None and not packages.ok:
        raise CellFailed("packages", f"{packages.name}: {packages.message}")
    bad = [c for c in checks if not c.ok]
    if bad:
        raise CellFailed("post-install-check", "; ".join(f"{c.name}: {c.message}" for c in bad))


def _report_checks(profile: Profile) -> tuple[str, ...]:
    return tuple(c.name for c in check_report({}, profile, install_set=()))


# -- the kinds -------------------------------------------------------------------------

KINDS = (
    StepKind(
        name="boot-media",
        summary="start the machine from MEDIA as the cell attaches it (DVD drive, USB stick, "
        "or the Rufus-style stick for usb-files), with fresh target disks as its profile's "
        "layout needs; ends when the boot loader speaks",
        example='{ do = "boot-media", media = "iso", limit = 90 }',
        run=boot_media,
        params=(media_param(doc="the ISO the machine boots"),
                folder_param("", "subfolder for the machine's logs (default: the cell's)")),
        stage="firmware",
        classes=("firmware", "menu-not-found", "qemu-exited"),
        needs_machine=False, starts=True, boots="media", marks=("disk",),
        needs=_boot_media_needs,
    ),  # fmt: skip
    StepKind(
        name="choose-entry",
        summary="wait until the boot menu is completely drawn (title and every entry on the "
        "serial console), save menu.png, check the menu against the profile, then press "
        "arrow keys and Enter on ENTRY",
        example='{ do = "choose-entry", entry = "serial-install", limit = 60 }',
        run=choose_entry,
        params=(Param("entry", "the menu entry, named as in the profile's [menu]",
                      default="serial-install", choices=ENTRIES),),
        stage="menu",
        classes=("menu-not-found", "wrong-menu", "qemu-exited"),
        needs_booted=True,
    ),  # fmt: skip
    StepKind(
        name="follow-install",
        summary="follow the installer's stages on its protocol port until INSTALL-RESULT, "
        "then wait for its reboot; the installer's failure becomes the cell's",
        example='{ do = "follow-install", limits = { kernel = 120, media = 90, '
        "kickstart = 60, partitioning = 180, packages = 900, bootloader = 180, post = 600, "
        "reboot = 120 } }",
        run=follow_install,
        stages=INSTALL_STAGES,
        classes=("kernel-panic", "kernel-not-loaded", "boot-loader-error", "media-not-found",
                 "kickstart", "kickstart-unsupported", "disk", "packages", "bootloader", "post",
                 "installer-internal"),
        needs_booted=True,
    ),  # fmt: skip
    StepKind(
        name="boot-local",
        summary="after the install's reboot, the ISO's menu again: Enter on its 'Boot from "
        "local drive' (with --wait-local-timeout: its own timeout), or the firmware boots "
        "the disk itself; saves local-menu.png",
        example='{ do = "boot-local", limit = 120 }',
        run=boot_local,
        stage="local-boot",
        classes=(DID_NOT_BOOT, "wrong-menu"),
        needs_booted=True,
    ),  # fmt: skip
    StepKind(
        name="firstboot-report",
        summary="wait for the installed system's FIRSTBOOT-RESULT and check its post-install "
        "report against the profile (and rpm -qa against the manifest's install set); "
        "saves postinstall-report.json",
        example='{ do = "firstboot-report", limit = 180 }',
        run=firstboot_report,
        stage="firstboot",
        classes=(DID_NOT_BOOT, "boot-loader-error", "firstboot", "packages",
                 "post-install-check"),
        needs_booted=True,
        expects=lambda call, inputs, booted: (
            _report_checks(inputs.iso(booted).profile) if inputs and booted else ()
        ),
    ),  # fmt: skip
)
