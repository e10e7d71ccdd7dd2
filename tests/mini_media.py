"""A tiny bootable install tree for mastering tests: real isolinux.bin, a real FAT
efiboot.img (with a known serial and an EFI config), a few files. Seconds to master,
so the ISO tests do not need the sample base."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from buildiso.master.iso import DEBIAN_ISOHDPFX

EPOCH = 1_700_000_000
FAT_SERIAL = "1234abcd"
ISOLINUX_BIN = DEBIAN_ISOHDPFX.parent / "isolinux.bin"
_MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC", "SOURCE_DATE_EPOCH": str(EPOCH)}


def make_efiboot(
    path: Path, *, config_name: str = "grub.cfg", text: str = "old efi menu\n"
) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as f:
        f.truncate(2880 * 1024)
    subprocess.run(["mkfs.fat", "-i", FAT_SERIAL, str(path)], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(path), "::/EFI", "::/EFI/BOOT"], check=True, env=_MTOOLS)
    src = path.parent / f".{config_name}"
    src.write_text(text)
    os.utime(src, (EPOCH, EPOCH))
    for name, data in ((config_name, None), ("BOOTX64.EFI", b"MZ fake loader")):
        if data is not None:
            src.write_bytes(data)
        subprocess.run(
            ["mcopy", "-i", str(path), "-m", str(src), f"::/EFI/BOOT/{name}"],
            check=True,
            env=_MTOOLS,
        )
    src.unlink()
    return path


def make_tree(root: Path) -> Path:
    """RHEL-6-shaped skeleton: isolinux/, images/efiboot.img, EFI/BOOT/, Packages/."""
    (root / "isolinux").mkdir(parents=True)
    (root / "isolinux" / "isolinux.bin").write_bytes(ISOLINUX_BIN.read_bytes())
    (root / "isolinux" / "isolinux.cfg").write_text("default old-base-menu\n")
    (root / "EFI" / "BOOT").mkdir(parents=True)
    (root / "EFI" / "BOOT" / "grub.cfg").write_text("old efi menu\n")
    (root / "Packages").mkdir()
    (root / "Packages" / "base-pkg-1.0-1.el6.x86_64.rpm").write_bytes(b"not really an rpm\n" * 100)
    (root / ".discinfo").write_text("1700000000.0\n6.10\nx86_64\n1\n")
    make_efiboot(root / "images" / "efiboot.img")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (EPOCH, EPOCH))
    return root


def plain_xorriso_iso(tree: Path, iso: Path, *, volid: str, isolinux: bool = False) -> Path:
    """``tree`` mastered by plain xorriso, no buildiso code involved (reproducible)."""
    argv = ["xorriso", "-outdev", str(iso), "-no_rc", "-report_about", "SORRY",
            "-volid", volid, "-map", str(tree), "/"]  # fmt: skip
    if isolinux:
        argv += ["-boot_image", "isolinux", "dir=/isolinux"]
    subprocess.run(
        argv,
        check=True,
        capture_output=True,
        env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)},
    )
    return iso


def make_base_iso(tree: Path, iso: Path) -> Path:
    """The tree mastered by plain xorriso (like a vendor DVD), label with a space."""
    return plain_xorriso_iso(tree, iso, volid="RHEL-6.10 Server.x86_64", isolinux=True)


@contextmanager
def small_tmpfs(path: Path, *, size: str) -> Iterator[Path]:
    """A nearly full disk: a tmpfs of ``size`` at ``path`` (the test skips without root)."""
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)
