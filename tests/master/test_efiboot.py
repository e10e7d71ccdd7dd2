"""efiboot.img is edited without root (mtools); the copy must be exact and reproducible."""

from __future__ import annotations

import os
import subprocess
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


# --- grub-legacy: kernel and initrd inside the image (rebuild_efiboot) ------------------

LEGACY_MENU = """default=0
title Install
\tkernel /images/pxeboot/vmlinuz ks=hd:LABEL=X:/ks.cfg
\tinitrd /images/pxeboot/initrd.img
title Install (serial)
\tkernel --no-mem-option (hd0,0)/images/pxeboot/vmlinuz console=ttyS0
\tinitrd /images/pxeboot/initrd.img
title Boot from local drive
\troot (hd0,0)
\tchainloader /EFI/redhat/grub.efi
"""


def test_boot_file_paths_of_a_grub_legacy_menu() -> None:
    assert efiboot.boot_file_paths(LEGACY_MENU) == [
        "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img",
    ]  # fmt: skip
    assert efiboot.boot_file_paths("# kernel /commented\nkernel\n") == []


def _legacy_source(tmp_path: Path) -> Path:
    return make_efiboot(tmp_path / "base" / "efiboot.img", config_name="BOOTX64.conf")


def _boot_files(tmp_path: Path, size: int) -> dict[str, Path]:
    files = {}
    for rel, seed in (("images/pxeboot/vmlinuz", b"K"), ("images/pxeboot/initrd.img", b"I")):
        path = tmp_path / "files" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes((seed * 4093 + os.urandom(3)) * (size // 4096))
        files[rel] = path
    return files


def test_rebuild_adds_the_boot_files_and_keeps_the_rest(tmp_path: Path) -> None:
    source = _legacy_source(tmp_path)
    add = _boot_files(tmp_path, 3 * 2**20)
    dest = tmp_path / "out" / "efiboot.img"
    efiboot.rebuild_efiboot(
        source=source, dest=dest, files={"EFI/BOOT/BOOTX64.conf": LEGACY_MENU}, add=add,
        mtime=EPOCH,
    )  # fmt: skip
    assert efiboot.list_files(dest) == [
        "EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/BOOTX64.conf",
        "images/pxeboot/initrd.img", "images/pxeboot/vmlinuz",
    ]  # fmt: skip
    assert efiboot.read_file(dest, "EFI/BOOT/BOOTX64.conf") == LEGACY_MENU.encode()
    assert efiboot.read_file(dest, "EFI/BOOT/BOOTX64.EFI") == b"MZ fake loader"
    for rel, path in add.items():
        assert efiboot.read_file(dest, rel) == path.read_bytes(), rel
    # the same volume (serial, label) as the base's image, larger
    assert efiboot.fat_serial(dest) == efiboot.fat_serial(source)
    assert efiboot.fat_label(dest) == efiboot.fat_label(source)
    assert dest.stat().st_size > 6 * 2**20
    # mtools' own check of the new file system
    check = subprocess.run(
        ["mdir", "-i", str(dest), "::/images/pxeboot"], capture_output=True, text=True
    )
    assert check.returncode == 0 and "vmlinuz" in check.stdout
    # the base's file keeps its date; new files and folders get the build's
    listing = subprocess.run(["mdir", "-i", str(dest), "::/EFI/BOOT"], capture_output=True,
                             text=True, env={**os.environ, "TZ": "UTC"}).stdout  # fmt: skip
    assert "2023-11-14" in listing  # mini_media's EPOCH, 1,700,000,000


def test_rebuild_is_reproducible(tmp_path: Path) -> None:
    source = _legacy_source(tmp_path)
    add = _boot_files(tmp_path, 2**20)
    menu = {"EFI/BOOT/BOOTX64.conf": LEGACY_MENU}
    a, b, c = (tmp_path / n for n in ("a.img", "b.img", "c.img"))
    efiboot.rebuild_efiboot(source=source, dest=a, files=menu, add=add, mtime=EPOCH)
    time.sleep(2.1)  # FAT times have 2 s resolution
    efiboot.rebuild_efiboot(source=source, dest=b, files=menu, add=add, mtime=EPOCH)
    assert a.read_bytes() == b.read_bytes()
    efiboot.rebuild_efiboot(source=source, dest=c, files=menu, add=add, mtime=EPOCH + 86400)
    assert a.read_bytes() != c.read_bytes()


def test_rebuild_labels_like_the_base(tmp_path: Path) -> None:
    source = tmp_path / "labelled.img"
    subprocess.run(["mkfs.fat", "-C", "-n", "ANACONDA", "-i", "0badcafe", str(source), "1440"],
                   check=True, capture_output=True)  # fmt: skip
    dest = tmp_path / "out.img"
    efiboot.rebuild_efiboot(source=source, dest=dest, files={"a.txt": "a"}, add={}, mtime=EPOCH)
    assert efiboot.fat_label(source) == efiboot.fat_label(dest) == "ANACONDA"
    assert efiboot.fat_serial(dest) == bytes.fromhex("0badcafe")[::-1]
    assert efiboot.read_file(dest, "a.txt") == b"a"


def test_rebuild_refuses_a_non_fat_source(tmp_path: Path) -> None:
    bad = tmp_path / "efiboot.img"
    bad.write_bytes(b"\0" * 4096)
    with pytest.raises(InputError, match="not a FAT boot sector"):
        efiboot.rebuild_efiboot(source=bad, dest=tmp_path / "o.img", files={}, add={}, mtime=1)
    assert not (tmp_path / "o.img").exists()
