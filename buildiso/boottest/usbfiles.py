"""The installation guide's Appendix C stick, emulated without root: Rufus in "ISO Image mode".

That mode does not ``dd`` the hybrid image. It partitions the stick (MBR, one active FAT32
partition), formats it with the FAT volume label derived from the ISO's volume label
(upper case, at most 11 characters: longer labels are cut), copies the ISO's files and
installs its own boot loader: syslinux, with a ``/syslinux.cfg`` that loads the ISO's
``isolinux/isolinux.cfg`` from ``/isolinux/``; UEFI firmware boots ``EFI/BOOT/BOOTX64.EFI``
from the FAT partition as copied. Here: ``osirrox`` extracts the files, ``mkfs.fat`` +
``mcopy`` (mtools) make the partition in an image file, ``syslinux --install`` installs
the loader into it, syslinux's ``mbr.bin`` is the MBR boot code.

The boot test attaches the result as a USB stick (media kind ``usb-files``).
"""

from __future__ import annotations

import re
import shutil
import struct
import tempfile
from pathlib import Path

from buildiso.atomicfile import replace_file
from buildiso.errors import BuildError
from buildiso.run import output, require_tools, run

MBR_CODE = Path("/usr/lib/syslinux/mbr/mbr.bin")
FAT_LABEL_MAX = 11
PART_START = 2048  # sectors: 1 MiB, as Rufus and every partitioner align
SECTOR = 512
SYSLINUX_CFG = (
    "# Written the way Rufus does for an isolinux-based ISO (ISO Image mode).\n"
    "DEFAULT loadconfig\n\nLABEL loadconfig\n  CONFIG /isolinux/isolinux.cfg\n"
    "  APPEND /isolinux/\n"
)
_FAT_BAD = re.compile(r"[^A-Z0-9 !#$%&\'()\-@^_`{}~]")


def fat_label(iso_label: str) -> str:
    """The FAT volume label a Rufus-made stick gets for an ISO labelled ``iso_label``."""
    return _FAT_BAD.sub("_", iso_label.upper())[:FAT_LABEL_MAX]


def iso_volume_id(iso: Path) -> str:
    report = output(["xorriso", "-indev", iso, "-pvd_info"])
    found = re.search(r"^Volume Id\s*:\s*(.*)$", report, re.MULTILINE)
    if not found:
        raise BuildError(f"{iso}: no volume ID in its primary volume descriptor")
    return found.group(1).strip()


def _mbr(*, sectors: int) -> bytes:
    """Boot code + one active FAT32 (LBA) partition from PART_START to the end."""
    code = MBR_CODE.read_bytes()[:440]
    entry = struct.pack(
        "<B3sB3sII", 0x80, b"\xfe\xff\xff", 0x0C, b"\xfe\xff\xff", PART_START, sectors
    )
    disk_signature = b"RUFS"  # fixed: reproducible images
    return code.ljust(440, b"\0") + disk_signature + b"\0\0" + entry + bytes(48) + b"\x55\xaa"


def make_usb_files_image(*, iso: Path, dest: Path) -> str:
    """Write the Rufus-style stick for ``iso`` to ``dest``; return its FAT label."""
    require_tools("osirrox", "mkfs.fat", "mcopy", "syslinux", "xorriso")
    label = fat_label(iso_volume_id(iso))
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="usb-files-", dir=dest.parent) as tmp:
        tree = Path(tmp) / "tree"
        run(["osirrox", "-indev", iso, "-extract", "/", tree])
        run(["chmod", "-R", "u+rwX", tree])
        (tree / "syslinux.cfg").write_text(SYSLINUX_CFG)
        size = sum(p.stat().st_size for p in tree.rglob("*") if p.is_file())
        # FAT32 needs >= 65525 clusters; the copy plus slack for FAT and cluster rounding
        kib = max(size // 1024 * 5 // 4 + 64 * 1024, 300 * 1024)
        part = Path(tmp) / "part.img"
        run(["mkfs.fat", "-F", "32", "-n", label, "-i", "5255F001", "-C", part, str(kib)])
        env = {"MTOOLS_SKIP_CHECK": "1"}
        run(
            ["mcopy", "-s", "-Q", "-m", "-i", part, *sorted(str(p) for p in tree.iterdir()), "::/"],
            env=env,
        )
        run(["syslinux", "--install", part])
        sectors = part.stat().st_size // SECTOR
        image = Path(tmp) / "stick.img"
        with image.open("wb") as out, part.open("rb") as src:
            out.write(_mbr(sectors=sectors).ljust(PART_START * SECTOR, b"\0"))
            shutil.copyfileobj(src, out, 1024 * 1024)
        replace_file(image, dest)
    return label
