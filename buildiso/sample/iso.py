"""The sample DVD's own ISO: xorriso -as mkisofs, hybrid (DVD and USB, BIOS and UEFI).

El Torito: isolinux (BIOS, boot-info-table) then images/efiboot.img (EFI). The isohybrid
MBR comes from Debian's isolinux; -isohybrid-gpt-basdat adds a GPT whose ESP is
efiboot.img (xorriso writes a valid GPT CRC, pycdlib does not: see MACHINE-NOTES).
SOURCE_DATE_EPOCH pins volume dates, file dates and the GPT/volume UUIDs.
"""

from __future__ import annotations

import os
from pathlib import Path

from buildiso.atomicfile import temp_path
from buildiso.errors import BuildError
from buildiso.run import run

VOLUME_LABEL = "RHEL-6.10 Server.x86_64"
ISOHYBRID_MBR = Path("/usr/lib/ISOLINUX/isohdpfx.bin")


def pin_times(tree: Path, epoch: int) -> None:
    """Give every file and folder of ``tree`` the mtime ``epoch`` (symlinks not followed)."""
    for path in sorted(tree.rglob("*")):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(tree, (epoch, epoch))


def mkisofs_args(*, tree: Path, iso: Path) -> list[str]:
    return [
        "xorriso",
        "-as",
        "mkisofs",
        "-o",
        str(iso),
        "-V",
        VOLUME_LABEL,
        "-volset",
        VOLUME_LABEL,
        "-A",
        VOLUME_LABEL,
        "-r",
        "-J",
        "-joliet-long",
        "-iso-level",
        "3",
        "-b",
        "isolinux/isolinux.bin",
        "-c",
        "isolinux/boot.cat",
        "-no-emul-boot",
        "-boot-load-size",
        "4",
        "-boot-info-table",
        "-isohybrid-mbr",
        str(ISOHYBRID_MBR),
        "-eltorito-alt-boot",
        "-e",
        "images/efiboot.img",
        "-no-emul-boot",
        "-isohybrid-gpt-basdat",
        str(tree),
    ]


def make_iso(*, tree: Path, iso: Path, epoch: int) -> Path:
    """Master ``tree`` into ``iso`` (written to a temp name, renamed when complete)."""
    if not ISOHYBRID_MBR.is_file():
        raise BuildError(
            f"{ISOHYBRID_MBR} missing",
            hint="install the Debian package isolinux (or run ./setup.sh)",
        )
    pin_times(tree, epoch)
    with temp_path(iso) as tmp:
        run(mkisofs_args(tree=tree, iso=tmp), env={"SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC"})
    return iso
