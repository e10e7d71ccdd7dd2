"""efiboot.img is edited without root (mtools); the copy must be exact and reproducible."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from mini_media import EPOCH, FAT_SERIAL, make_efiboot

from buildiso.errors import InputError
from buildiso.master import efiboot

pytestmark = pytest.mark.integration


def test_replaces_the_config_and_keeps_the_rest(tmp_path: Path) -> None:
    source = make_efiboot(tmp_path / "efiboot.img")
    before = source.read_bytes()
    dest = tmp_path / "out" / "efiboot.img"
    efiboot.edit_efiboot(
        source=source, dest=dest, files={"EFI/BOOT/grub.cfg": "new menu\n"}, mtime=EPOCH
    )
    assert efiboot.read_file(dest, "EFI/BOOT/grub.cfg") == b"new menu\n"
    assert efiboot.read_file(dest, "EFI/BOOT/BOOTX64.EFI") == b"MZ fake loader"
    assert efiboot.list_files(dest) == ["EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg"]
    assert efiboot.fat_serial(dest).hex() == bytes.fromhex(FAT_SERIAL)[::-1].hex()
    assert source.read_bytes() == before  # the base's image is never touched


def test_adds_files_and_directories(tmp_path: Path) -> None:
    source = make_efiboot(tmp_path / "efiboot.img", config_name="BOOTX64.conf")
    dest = tmp_path / "edited.img"
    efiboot.edit_efiboot(
        source=source,
        dest=dest,
        files={"EFI/BOOT/BOOTX64.conf": "grub legacy\n", "EFI/redhat/extra/x.conf": b"x"},
        mtime=EPOCH,
    )
    assert efiboot.read_file(dest, "EFI/BOOT/BOOTX64.conf") == b"grub legacy\n"
    assert efiboot.read_file(dest, "EFI/redhat/extra/x.conf") == b"x"
    assert efiboot.read_file(dest, "EFI/BOOT/missing.cfg") is None


def test_reproducible_whatever_the_clock(tmp_path: Path) -> None:
    source = make_efiboot(tmp_path / "efiboot.img")
    files = {"EFI/BOOT/grub.cfg": "menu\n", "EFI/NEWDIR/a.cfg": "a\n"}
    efiboot.edit_efiboot(source=source, dest=tmp_path / "a.img", files=files, mtime=EPOCH)
    time.sleep(2.1)  # FAT times have 2 s resolution
    efiboot.edit_efiboot(source=source, dest=tmp_path / "b.img", files=files, mtime=EPOCH)
    assert (tmp_path / "a.img").read_bytes() == (tmp_path / "b.img").read_bytes()
    efiboot.edit_efiboot(source=source, dest=tmp_path / "c.img", files=files, mtime=EPOCH + 86400)
    assert (tmp_path / "a.img").read_bytes() != (tmp_path / "c.img").read_bytes()


def test_not_a_fat_image(tmp_path: Path) -> None:
    bad = tmp_path / "efiboot.img"
    bad.write_bytes(b"\0" * 4096)
    dest = tmp_path / "out.img"
    with pytest.raises(InputError, match="not a FAT boot sector"):
        efiboot.edit_efiboot(source=bad, dest=dest, files={"EFI/BOOT/grub.cfg": "x"}, mtime=EPOCH)
    assert not dest.exists()


def test_missing_image(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="EFI boot image missing"):
        efiboot.edit_efiboot(
            source=tmp_path / "nope.img", dest=tmp_path / "o.img", files={}, mtime=EPOCH
        )
