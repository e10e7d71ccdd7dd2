"""How a boot-test cell fails: its failure classes and the console output that reveals them.

``CellFailed`` carries the class (docs/design.md) and a message; the patterns below are what
the stage follower (``buildiso.boottest.celldriver``) looks for on the serial console and
firmware log.
"""

from __future__ import annotations

import re

# The installer's failure classes (docs/design.md) → the boot test's.
INSTALLER_CLASSES = {
    "media": "media-not-found",
    "kickstart": "kickstart",
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
    def __init__(self, failure_class: str, message: str) -> None:
        super().__init__(f"{failure_class}: {message}")
        self.failure_class = failure_class
        self.message = message


class Cancelled(Exception):
    """The run was interrupted (Ctrl-C in the main thread)."""
