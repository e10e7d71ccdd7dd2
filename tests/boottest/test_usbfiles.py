"""buildiso.boottest.usbfiles: the Rufus-style stick, refereed by fdisk, fsck.fat and mtools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildiso.boottest.usbfiles import fat_label, make_usb_files_image

MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@pytest.mark.parametrize(
    ("iso_label", "fat"),
    [
        ("EMAIL_490_190", "EMAIL_490_1"),  # what Appendix C's stick would say: cut
        ("EMAIL490190", "EMAIL490190"),  # the shipped label survives
        ("rhel 6.10", "RHEL 6_10"),
    ],
)
def test_fat_label_is_cut_to_11_and_upper_case(iso_label: str, fat: str) -> None:
    assert fat_label(iso_label) == fat


def _tiny_iso(tmp: Path, label: str) -> Path:
    tree = tmp / "tree"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "isolinux" / "isolinux.cfg").write_text("default x\n")
    (tree / "EFI" / "BOOT").mkdir(parents=True)
    (tree / "EFI" / "BOOT" / "BOOTX64.EFI").write_bytes(b"MZ" + bytes(100))
    (tree / "cs-repo" / "repodata").mkdir(parents=True)
    (tree / "cs-repo" / "repodata" / "repomd.xml").write_text("<repomd/>\n")
    iso = tmp / "x.iso"
    subprocess.run(["xorriso", "-as", "mkisofs", "-quiet", "-V", label, "-R", "-J", "-o",
                    str(iso), str(tree)], check=True)
    return iso


def test_the_stick_is_an_mbr_fat32_disk_with_the_files_and_syslinux(tmp_path: Path) -> None:
    stick = tmp_path / "stick.img"
    label = make_usb_files_image(iso=_tiny_iso(tmp_path, "EMAIL_490_190"), dest=stick)
    assert label == "EMAIL_490_1"
    table = subprocess.run(["sfdisk", "--dump", str(stick)], capture_output=True, text=True,
                           check=True).stdout
    assert "start=        2048" in table and "type=c" in table and "bootable" in table
    image = f"{stick}@@1M"
    shown = subprocess.run(["mlabel", "-s", "-i", image, "::"], capture_output=True, text=True,
                           env=MTOOLS, check=True).stdout
    assert "EMAIL_490_1" in shown
    listing = subprocess.run(["mdir", "-a", "-b", "-i", image, "::/"], capture_output=True,
                             text=True, env=MTOOLS, check=True).stdout
    assert {"::/ldlinux.sys", "::/ldlinux.c32", "::/syslinux.cfg", "::/isolinux/",
            "::/EFI/"} <= set(listing.split())
    cfg = subprocess.run(["mtype", "-i", image, "::/syslinux.cfg"], capture_output=True,
                         text=True, env=MTOOLS, check=True).stdout
    assert "CONFIG /isolinux/isolinux.cfg" in cfg
    repomd = subprocess.run(["mtype", "-i", image, "::/cs-repo/repodata/repomd.xml"],
                            capture_output=True, text=True, env=MTOOLS, check=True).stdout
    assert repomd == "<repomd/>\n"
    with stick.open("rb") as fh:
        mbr = fh.read(512)
    assert mbr[510:] == b"\x55\xaa"
    assert mbr[:440] == Path("/usr/lib/syslinux/mbr/mbr.bin").read_bytes()[:440]
