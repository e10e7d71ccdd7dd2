"""How a boot-test cell fails: the closed set of failure classes and the console output
that reveals them.

``CLASSES`` is every class a result may carry, with what it means (the report's legend
and docs/boot-test.md are made from it). Each step of the vocabulary declares the classes
it raises (``boottest/vocabulary.py`` checks that together they are exactly this set);
``RUNNER_CLASSES`` are the runner's own, possible in any step. Two are families, one per
stage: ``timeout-in-stage-STAGE`` and ``guest-stopped-in-stage-STAGE``.

``CellFailed`` carries the class and a message; the patterns below are what the install
steps (``boottest/installsteps.py``) look for on the serial console and firmware log.
"""

from __future__ import annotations

import re

STAGE_NAME = re.compile(r"[a-z0-9][a-z0-9_.-]{0,39}")
TIMEOUT = "timeout-in-stage-"
GUEST_STOPPED = "guest-stopped-in-stage-"
INTERRUPTED = "interrupted"
FAMILIES = (TIMEOUT, GUEST_STOPPED)
CLASSES: dict[str, str] = {
    "firmware": "the firmware did not boot the media (SeaBIOS 'No bootable device', OVMF's "
    "shell, or silence)",
    "menu-not-found": "the boot loader did not show the ISO's menu, or the ISO has no menu "
    "for this firmware",
    "wrong-menu": "the menu differs from the profile (title, entries, default, timeout)",
    "kernel-not-loaded": "the boot loader could not load the installer's kernel or initrd",
    "boot-loader-error": "the boot loader printed 'error: ...' before a kernel, even if it "
    "then went on",
    "kernel-panic": "the installer's kernel panicked",
    "media-not-found": "the installer did not find its installation media",
    "kickstart": "the installer could not read or obey the kickstart",
    "kickstart-unsupported": "the sample installer does not carry out a command or option of "
    "the kickstart (a limit of the stand-in installer, docs/anaconda13.md, not RHEL 6's verdict)",
    "disk": "the installer could not partition or format the disks",
    "packages": "packages could not be installed: by the installer, by a typed rpm or yum "
    "command; or rpm -qa differs from the install set",
    "bootloader": "the installer could not install the boot loader",
    "post": "a %post script failed",
    "installer-internal": "the installer failed for a reason of its own",
    "installed-system-did-not-boot": "after the install the machine did not boot its disk",
    "firstboot": "the installed system's first boot reported a failure, or an unreadable "
    "report",
    "post-install-check": "a check of the installed system failed",
    "media": "a typed command that mounts the media failed",
    "network": "a typed command that brings up the network or downloads from the repository "
    "server failed",
    "console": "a typed Server Console command failed",
    "login": "the serial console refused the login or the password change",
    "unclean-shutdown": "the machine did not shut down in order on Ctrl-Alt-Delete (publish-disk "
    "publishes only a cleanly stopped disk)",
    "first-boot-console": "a console program's page (the First Boot Console's) did not come, "
    "refused an answer, showed a typed password, or what its answers set is not there",
    "infrastructure": "QEMU did not start (retried once), or refused a command",
    "qemu-exited": "QEMU exited while the host waited for the firmware or the menu",
    INTERRUPTED: "the run was stopped (Ctrl-C, SIGTERM, SIGHUP) before the cell finished, or "
    "before it started: the product was not judged",
    TIMEOUT + "STAGE": "stage STAGE overran its time limit",
    GUEST_STOPPED + "STAGE": "the guest stopped (powered off, QEMU gone) during stage STAGE",
    "not-run": "no shard's results have this cell (buildiso report)",
}
# Possible in any step: the runner's own (the families are raised while waiting).
RUNNER_CLASSES = ("infrastructure", INTERRUPTED, TIMEOUT + "STAGE", GUEST_STOPPED + "STAGE")
REPORT_CLASSES = ("not-run",)


def family(name: str) -> str:
    """``name`` as it is listed in ``CLASSES``: a stage's timeout is ``timeout-in-stage-STAGE``."""
    for prefix in FAMILIES:
        if name.startswith(prefix) and STAGE_NAME.fullmatch(name[len(prefix) :]):
            return prefix + "STAGE"
    return name


def is_known(name: str) -> bool:
    return family(name) in CLASSES


def meaning(name: str) -> str:
    """What ``name`` means (a family's meaning names the stage)."""
    listed = family(name)
    text = CLASSES.get(listed, "not a failure class of this buildiso")
    if listed != name:
        return text.replace("STAGE", name[len(listed) - len("STAGE") :])
    return text


# The installer's failure classes (docs/design.md) → the boot test's.
INSTALLER_CLASSES = {
    "media": "media-not-found",
    "kickstart": "kickstart",
    "kickstart-unsupported": "kickstart-unsupported",
    "packages": "packages",
    "post": "post",
    "disk": "disk",
    "bootloader": "bootloader",
    "internal": "installer-internal",
}
BOOTLOADER_BANNER = re.compile(r"ISOLINUX \d|SYSLINUX \d|Welcome to GRUB|GNU GRUB|GRUB version")
FIRMWARE_GAVE_UP = re.compile(
    r"No bootable device|Boot failed: not a bootable|UEFI Interactive Shell|EFI Internal Shell"
    r"|No bootable option"
)
# The firmware's last word when no device (left) in its boot order boots.
NOTHING_TO_BOOT = re.compile(r"No bootable device|UEFI Interactive Shell|EFI Internal Shell")
PANIC = re.compile(r"Kernel panic - not syncing[^\r\n]*")
# The boot loader could not load the installer's kernel or initrd (isolinux, GRUB 2).
LOADER_ERROR = re.compile(
    r"Could not find kernel image: [^\r\n]*|Loading [^\r\n]*failed: [^\r\n]*"
    r"|error: file [^\r\n]* not found[^\r\n]*|error: you need to load the kernel first"
)

# GRUB 2 reports any failing command as "error: <message>" (then goes on, or waits on "Press
# any key to continue..."). Looked for only between a boot's start and its kernel's first
# line, where nothing else writes to the console.
GRUB_ERROR = re.compile(r"error: [^\r\n]*")
KERNEL_BANNER = "Linux version "


def boot_loader_error(console: str, start: int) -> str | None:
    """The first GRUB error after ``start`` and before the next kernel's first line."""
    end = console.find(KERNEL_BANNER, start)
    found = GRUB_ERROR.search(console, start, len(console) if end < 0 else end)
    return found.group(0).strip() if found else None


class CellFailed(Exception):
    """A cell failed with ``failure_class`` (one of ``CLASSES``) for the reason ``message``."""

    def __init__(self, failure_class: str, message: str) -> None:
        super().__init__(f"{failure_class}: {message}")
        self.failure_class = failure_class
        self.message = message


class Cancelled(CellFailed):
    """The run is stopping (Ctrl-C, SIGTERM or SIGHUP in the main thread)."""

    def __init__(self) -> None:
        super().__init__(INTERRUPTED, "the run is stopping")
