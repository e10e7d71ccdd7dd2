"""Boot loaders of the sample DVD: isolinux files, GRUB 2 EFI image, FAT efiboot.img."""

from __future__ import annotations

import hashlib
import subprocess
from pathlib import Path

import pytest

from buildiso.sample import bootloaders, iso

EPOCH = 1529366400


def test_isolinux_has_syslinux6_modules_and_serial_menu(tmp_path: Path) -> None:
    bootloaders.install_isolinux(tmp_path)
    for name in ("isolinux.bin", *bootloaders.ISOLINUX_MODULES, "isolinux.cfg", "boot.msg"):
        assert (tmp_path / name).is_file(), name
    cfg = (tmp_path / "isolinux.cfg").read_text().splitlines()
    assert cfg[0].startswith("serial 0 ")
    assert "default vesamenu.c32" in cfg
    assert not any("ks=" in line for line in cfg)  # the sample's own menu: no kickstart


def test_grub_cfg_finds_the_dvd_by_its_label() -> None:
    cfg = (bootloaders.BOOT_SOURCES / "grub.cfg").read_text()
    assert f"--label '{iso.VOLUME_LABEL}'" in cfg
    assert "linux /images/pxeboot/vmlinuz" in cfg
    assert "serial --unit=0" in cfg


@pytest.mark.integration
def test_efiboot_img_holds_grub_and_is_reproducible(tmp_path: Path) -> None:
    digests = []
    for run in ("a", "b"):
        efi = tmp_path / run / "EFI" / "BOOT"
        bootloaders.install_efi_dir(efi)
        img = bootloaders.make_efiboot_img(
            efi_boot_dir=efi, dest=tmp_path / run / "efiboot.img", epoch=EPOCH
        )
        digests.append(hashlib.sha256(img.read_bytes()).hexdigest())
    assert digests[0] == digests[1]
    listing = subprocess.run(
        ["mdir", "-b", "-i", str(tmp_path / "a" / "efiboot.img"), "::/EFI/BOOT"],
        capture_output=True,
        text=True,
        check=True,
        env={"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"},
    ).stdout
    assert "::/EFI/BOOT/BOOTX64.EFI" in listing
    assert "::/EFI/BOOT/grub.cfg" in listing
    # a PE/COFF EFI application
    assert (tmp_path / "a" / "EFI" / "BOOT" / "BOOTX64.EFI").read_bytes()[:2] == b"MZ"


@pytest.mark.integration
def test_grub_efi_draws_through_the_firmware_only(tmp_path: Path) -> None:
    """GOP/UGA, never GRUB's native bochs/cirrus drivers: under QEMU they change the video
    mode behind GOP's back, and the kernel GRUB hands over to gets the wrong frame buffer."""
    data = bootloaders.make_grub_efi(tmp_path / "BOOTX64.EFI").read_bytes()
    assert b"efi_gop\0" in data and b"gfxterm\0" in data
    assert b"video_bochs\0" not in data and b"video_cirrus\0" not in data
    # the check sees those drivers when they are in (all_video pulls them in)
    with_all = tmp_path / "all.efi"
    subprocess.run(
        ["grub-mkimage", "--format", "x86_64-efi", "--directory",
         str(bootloaders.GRUB_EFI_MODULES_DIR), "--prefix", "/EFI/BOOT", "--output",
         str(with_all), "all_video"],
        check=True,
    )  # fmt: skip
    assert b"video_bochs\0" in with_all.read_bytes()
