"""The ``bootloader`` command with the sample `grub` package (GRUB 2 images built by grub.spec).

BIOS, --location=mbr: GRUB's boot.img in the MBR (the partition table kept); partition: in
the first sector of the partition holding /boot (or /), each member of a RAID 1 /boot, the
MBR left as it is (booty x86.py installGrub's "stage1" target). core.img goes in the gap
before the first partition either way (the sector boot.img reads it from); RHEL 6's GRUB
0.97 read its stage 2 from /boot/grub instead.
Passwords (booty x86.py setPassword, grub.conf "password --encrypted HASH"): the menu
boots without one and editing it needs it. GRUB 2 cannot check a crypt hash, so a plain
--password becomes GRUB 2's PBKDF2 form and a hash (--iscrypted, --md5pass) locks editing.
UEFI: the same GRUB as \\EFI\\redhat\\grub.efi (anaconda's path on RHEL 6), registered
with efibootmgr as the first boot entry as anaconda does, and as the removable-media
fallback \\EFI\\BOOT\\BOOTX64.EFI, which firmware boots from a disk without an entry.
Both images search for /boot/grub/grub.conf (RHEL 6's path; GRUB 2 syntax here) and
read it.
"""

from __future__ import annotations

import configparser
import hashlib
import re
import secrets
import shutil
import subprocess
from pathlib import Path
from typing import Any

from .errors import InstallFailed

GRUB_DATA = Path("usr/share/grub/sample")  # inside the installed system (grub.spec)
CONFIG = "grub/grub.conf"  # relative to the /boot file system
CORE_LIMIT = 2047 * 512  # core.img sits in sectors 1..2047 (first partition at 1 MiB)
EFIBOOTMGR = "/usr/bin/efibootmgr"
# grub-mkpasswd-pbkdf2's defaults
PBKDF2_ROUNDS = 10000
PBKDF2_BYTES = 64


def kernel_and_initrd(root: Path) -> tuple[str, str]:
    """(vmlinuz-VER, initramfs-VER.img) of the newest installed kernel, names in /boot."""
    kernels = sorted((root / "boot").glob("vmlinuz-*"))
    if not kernels:
        raise InstallFailed("bootloader", "no kernel in /boot of the installed system "
                            "(is the kernel package in %packages?)")
    kernel = kernels[-1].name
    version = kernel.removeprefix("vmlinuz-")
    for name in (f"initramfs-{version}.img", f"initrd-{version}.img"):
        if (root / "boot" / name).is_file():
            return kernel, name
    raise InstallFailed("bootloader", f"no initramfs-{version}.img in /boot")


def product_title(tree: Path, installed: list[str]) -> str:
    """The menu entry's name: the gateway's when it is installed, else the media's family."""
    if any(name.startswith("cs-email-") for name in installed):
        return "Secure Email Gateway"
    parser = configparser.ConfigParser()
    try:
        parser.read_string((tree / ".treeinfo").read_text())
        return f"{parser['general']['family']} {parser['general']['version']}".strip()
    except (OSError, KeyError, configparser.Error):
        return "Linux"


def pbkdf2_line(password: str, salt: bytes | None = None) -> str:
    """GRUB 2's ``password_pbkdf2`` form of ``password`` (what grub-mkpasswd-pbkdf2 prints)."""
    salt = salt if salt is not None else secrets.token_bytes(PBKDF2_BYTES)
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, PBKDF2_ROUNDS, PBKDF2_BYTES)
    return f"grub.pbkdf2.sha512.{PBKDF2_ROUNDS}.{salt.hex().upper()}.{digest.hex().upper()}"


def grub_password(command: Any) -> str:
    """The grub.conf lines for ``bootloader --password/--md5pass`` ("" without one); call
    before the kickstart's passwords are hashed (sysconfig.crypt_passwords)."""
    if not command.password:
        return ""
    lines = 'set superusers="root"\n'
    if not command.isCrypted:
        lines += f"password_pbkdf2 root {pbkdf2_line(command.password)}\n"
    return lines


def grub_conf(*, title: str, kernel_path: str, initrd_path: str, cmdline: str,
              timeout: int, password: str = "") -> str:
    safe = re.sub(r"['\\]", "", title)
    unrestricted = " --unrestricted" if password else ""  # boots without the password
    return (
        "# GRUB 2 configuration written by the buildiso sample installer\n"
        "set default=0\n"
        f"set timeout={timeout}\n"
        "serial --unit=0 --speed=115200\n"
        "terminal_input console serial\n"
        "terminal_output console serial\n"
        f"{password}"
        f"menuentry '{safe}'{unrestricted} {{\n"
        f"    linux {kernel_path} {cmdline}\n"
        f"    initrd {initrd_path}\n"
        "}\n"
    )


def kernel_cmdline(*, root_uuid: str, append: str) -> str:
    base = f"root=UUID={root_uuid} console=tty0 console=ttyS0,115200 panic=1"
    return f"{base} {append}".strip()


def _images(root: Path) -> tuple[bytes, bytes]:
    boot_img = (root / GRUB_DATA / "boot.img").read_bytes()
    core_img = (root / GRUB_DATA / "core.img").read_bytes()
    if len(boot_img) != 512:
        raise InstallFailed("bootloader", "grub boot.img is not one sector")
    if len(core_img) > CORE_LIMIT:
        raise InstallFailed("bootloader", f"grub core.img ({len(core_img)} bytes) does not fit "
                            "before the first partition")
    return boot_img, core_img


def install_bios(root: Path, disk: str, *, partitions: list[str] | None = None) -> None:
    """core.img in ``disk``'s gap; boot.img in its MBR, or (``partitions``: --location=
    partition) in the first sector of each of those partitions, the MBR untouched."""
    boot_img, core_img = _images(root)
    with open(disk, "r+b") as dev:
        if partitions is None:
            mbr = bytearray(dev.read(512))
            # Boot code only: bytes 440.. hold the disk signature and the partition table.
            mbr[:440] = boot_img[:440]
            dev.seek(0)
            dev.write(bytes(mbr))
        dev.seek(512)
        dev.write(core_img)
        dev.flush()
    for partition in partitions or []:
        # A partition boot sector: boot.img whole, with the boot signature (ext2/3/4 keep
        # their first 1024 bytes free; RAID 1.2 metadata starts at 4 KiB).
        with open(partition, "r+b") as dev:
            dev.write(boot_img[:510] + b"\x55\xaa")
            dev.flush()


def install_uefi(root: Path) -> None:
    efi_image = root / GRUB_DATA / "grub.efi"
    esp = root / "boot/efi"
    for rel in ("EFI/redhat/grub.efi", "EFI/BOOT/BOOTX64.EFI"):
        target = esp / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(efi_image, target)


_BOOT_ENTRY = re.compile(r"^Boot([0-9A-Fa-f]{4})\*?\s+(.*?)\s*(?:\t.*)?$")


def efibootmgr_commands(*, listing: str, disk: str, esp_number: int, label: str) -> list[list[str]]:
    """anaconda's registration: drop entries with our label, then create ours (first in
    BootOrder) for \\EFI\\redhat\\grub.efi on the ESP."""
    commands: list[list[str]] = []
    for line in listing.splitlines():
        match = _BOOT_ENTRY.match(line.strip())
        if match and match.group(2) == label:
            commands.append([EFIBOOTMGR, "-q", "-b", match.group(1), "-B"])
    commands.append([EFIBOOTMGR, "-q", "-c", "-w", "-L", label, "-d", disk, "-p",
                     str(esp_number), "-l", "\\EFI\\redhat\\grub.efi"])
    return commands


def register_uefi_entry(*, disk: str, esp_number: int, label: str) -> str | None:
    """Create the firmware boot entry; return a warning instead of failing: the firmware
    still boots the disk through \\EFI\\BOOT\\BOOTX64.EFI without it."""
    try:
        listing = subprocess.run([EFIBOOTMGR], capture_output=True, text=True, check=True).stdout
        for cmd in efibootmgr_commands(listing=listing, disk=disk, esp_number=esp_number,
                                       label=label):
            subprocess.run(cmd, capture_output=True, text=True, check=True)
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = getattr(exc, "stderr", "") or str(exc)
        return f"efibootmgr could not register the boot entry: {' '.join(detail.split())}"
    return None


def install(*, root: Path, disk: str, uefi: bool, separate_boot: bool, root_uuid: str,
            title: str, append: str, timeout: int, esp_number: int | None,
            extra_disks: list[str] | None = None, password: str = "",
            boot_partitions: dict[str, list[str]] | None = None) -> str | None:
    """Install the boot loader and its config; return a warning for the console, if any.

    BIOS: boot code on ``disk`` and on each of ``extra_disks`` (the other disks of a RAID 1
    layout, so that each boots on its own, as anaconda installs GRUB on every member).
    ``boot_partitions`` (--location=partition): disk → its partitions that get boot.img;
    the MBRs stay as they are.
    """
    if not (root / GRUB_DATA).is_dir():
        raise InstallFailed("bootloader", "the grub package is not installed "
                            f"(/{GRUB_DATA} missing): add grub to %packages")
    kernel, initrd = kernel_and_initrd(root)
    prefix = "" if separate_boot else "/boot"
    text = grub_conf(title=f"{title} ({kernel.removeprefix('vmlinuz-')})",
                     kernel_path=f"{prefix}/{kernel}", initrd_path=f"{prefix}/{initrd}",
                     cmdline=kernel_cmdline(root_uuid=root_uuid, append=append),
                     timeout=timeout, password=password)
    conf = root / "boot" / CONFIG
    conf.parent.mkdir(parents=True, exist_ok=True)
    conf.write_text(text)
    conf.chmod(0o600)  # anaconda's grub.conf mode (it may hold a password hash)
    if separate_boot:
        # The images' built-in config runs in GRUB's rescue parser, which has no "if": it
        # ends up reading /boot/grub/grub.conf of the file system it found. On a separate
        # /boot that path exists through this link (/boot/boot -> ., as SUSE ships it).
        link = root / "boot" / "boot"
        if not link.exists() and not link.is_symlink():
            link.symlink_to(".")
    (root / "etc/grub.conf").unlink(missing_ok=True)
    (root / "etc/grub.conf").symlink_to("../boot/grub/grub.conf")
    if uefi:
        if esp_number is None:
            raise InstallFailed("bootloader", "UEFI machine without an EFI system partition")
        install_uefi(root)
        return register_uefi_entry(disk=disk, esp_number=esp_number, label=title)
    if boot_partitions is not None:
        for target, partitions in boot_partitions.items():
            install_bios(root, target, partitions=partitions)
        return None
    for target in [disk, *(extra_disks or [])]:
        install_bios(root, target)
    return None
