"""Boot loaders of the sample DVD: isolinux (BIOS) and GRUB 2 in a FAT efiboot.img (UEFI).

isolinux comes from Debian's isolinux/syslinux-common (syslinux 6 needs ldlinux.c32,
libcom32.c32 and libutil.c32 next to vesamenu.c32). BOOTX64.EFI is a GRUB 2 core image
made with grub-mkimage from grub-efi-amd64-bin, prefix /EFI/BOOT, every module it needs
built in (nothing is loaded from disk). efiboot.img is built with mkfs.fat + mtools: no
loop mount, no root; fixed volume ID and SOURCE_DATE_EPOCH times make it reproducible.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from buildiso.atomicfile import temp_path
from buildiso.errors import BuildError
from buildiso.run import run

ISOLINUX_BIN = Path("/usr/lib/ISOLINUX/isolinux.bin")
SYSLINUX_MODULES = Path("/usr/lib/syslinux/modules/bios")
ISOLINUX_MODULES = ("vesamenu.c32", "ldlinux.c32", "libcom32.c32", "libutil.c32")
GRUB_EFI_MODULES_DIR = Path("/usr/lib/grub/x86_64-efi")
BOOT_SOURCES = Path(__file__).resolve().parent / "sources" / "boot"

# Built into BOOTX64.EFI: FAT for its own grub.cfg, iso9660 + search for the DVD,
# serial + terminal for the serial console, linux for the kernel.
GRUB_MODULES = (
    "part_gpt",
    "part_msdos",
    "fat",
    "iso9660",
    "normal",
    "boot",
    "linux",
    "configfile",
    "search",
    "search_label",
    "search_fs_file",
    "search_fs_uuid",
    "echo",
    "test",
    "ls",
    "cat",
    "serial",
    "terminal",
    # The firmware's own video (GOP/UGA) only: all_video would add GRUB's native bochs and
    # cirrus drivers, which under QEMU set a mode behind GOP's back, so the kernel booted
    # after this GRUB drew into a frame buffer of another shape (UEFI firstboot frames were
    # noise). Real machines have neither card; the installed grub.efi has none either.
    "efi_uga",
    "efi_gop",
    "gfxterm",
    "gfxmenu",  # the product's graphical menu (a theme with the title), as RHEL 7+ media
    "font",
    "png",  # the theme's background picture
    "reboot",
    "halt",
    "chain",
    "sleep",
)
EFIBOOT_VOLUME_ID = "4e524c36"  # fixed (hex, 32 bits) so the image is reproducible
EFIBOOT_LABEL = "ANACONDA"  # as on RHEL 6's efiboot.img


def _set_mtime(path: Path, epoch: int) -> None:
    os.utime(path, (epoch, epoch), follow_symlinks=False)


def install_isolinux(isolinux_dir: Path) -> None:
    """isolinux.bin, its modules, isolinux.cfg and boot.msg (kernel/initrd: the caller)."""
    sources = [ISOLINUX_BIN, *(SYSLINUX_MODULES / m for m in ISOLINUX_MODULES)]
    missing = [str(p) for p in sources if not p.is_file()]
    if missing:
        raise BuildError(
            f"syslinux files missing: {', '.join(missing)}",
            hint="install the Debian packages isolinux and syslinux-common (or run ./setup.sh)",
        )
    isolinux_dir.mkdir(parents=True, exist_ok=True)
    for source in sources:
        shutil.copyfile(source, isolinux_dir / source.name)
    for name in ("isolinux.cfg", "boot.msg"):
        shutil.copyfile(BOOT_SOURCES / name, isolinux_dir / name)


def make_grub_efi(dest: Path) -> Path:
    """BOOTX64.EFI: a standalone GRUB 2 core image with prefix /EFI/BOOT."""
    if not (GRUB_EFI_MODULES_DIR / "normal.mod").is_file():
        raise BuildError(
            f"{GRUB_EFI_MODULES_DIR} has no GRUB modules",
            hint="install the Debian package grub-efi-amd64-bin (or run ./setup.sh)",
        )
    dest.parent.mkdir(parents=True, exist_ok=True)
    run(
        [
            "grub-mkimage",
            "--format",
            "x86_64-efi",
            "--directory",
            str(GRUB_EFI_MODULES_DIR),
            "--prefix",
            "/EFI/BOOT",
            "--output",
            str(dest),
            *GRUB_MODULES,
        ]
    )
    return dest


def install_efi_dir(efi_boot_dir: Path) -> None:
    """EFI/BOOT/ of the DVD: BOOTX64.EFI and grub.cfg."""
    make_grub_efi(efi_boot_dir / "BOOTX64.EFI")
    shutil.copyfile(BOOT_SOURCES / "grub.cfg", efi_boot_dir / "grub.cfg")


def make_efiboot_img(*, efi_boot_dir: Path, dest: Path, epoch: int) -> Path:
    """A FAT image holding EFI/BOOT/* (the El Torito EFI boot image and the ESP)."""
    files = sorted(p for p in efi_boot_dir.iterdir() if p.is_file())
    payload = sum(p.stat().st_size for p in files)
    # FAT overhead + slack, rounded up to whole MiB (mkfs.fat -C takes KiB)
    size_kib = ((payload + 512 * 1024) // (1024 * 1024) + 1) * 1024
    env = {"SOURCE_DATE_EPOCH": str(epoch), "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC"}
    with temp_path(dest) as tmp:  # renamed to dest once every file is in
        run(
            [
                "mkfs.fat",
                "--invariant",
                "-i",
                EFIBOOT_VOLUME_ID,
                "-n",
                EFIBOOT_LABEL,
                "-C",
                str(tmp),
                str(size_kib),
            ],
            env=env,
        )
        run(["mmd", "-i", str(tmp), "::/EFI", "::/EFI/BOOT"], env=env)
        for source in files:
            _set_mtime(source, epoch)
            # -m keeps the (pinned) modification time; -o overwrites without asking
            run(
                ["mcopy", "-m", "-o", "-i", str(tmp), str(source), f"::/EFI/BOOT/{source.name}"],
                env=env,
            )
    return dest
