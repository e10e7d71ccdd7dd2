"""Sample installer: boot loader config and the BIOS boot code write."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample.installer.guest import bootloader
from buildiso.sample.installer.guest.errors import InstallFailed


def test_grub_conf_entry() -> None:
    text = bootloader.grub_conf(
        title="Secure Email Gateway (2.6.32-754.el6.x86_64)", kernel_path="/vmlinuz-k",
        initrd_path="/initramfs-k.img",
        cmdline=bootloader.kernel_cmdline(root_uuid="1234-abcd", append="crashkernel=auto"),
        timeout=5)
    assert "set timeout=5\n" in text
    assert "menuentry 'Secure Email Gateway (2.6.32-754.el6.x86_64)' {\n" in text
    assert ("    linux /vmlinuz-k root=UUID=1234-abcd console=tty0 console=ttyS0,115200 "
            "panic=1 crashkernel=auto\n") in text
    assert "    initrd /initramfs-k.img\n" in text


def test_title_from_gateway_or_treeinfo(tmp_path: Path) -> None:
    (tmp_path / ".treeinfo").write_text("[general]\nfamily = Red Hat Enterprise Linux\n"
                                        "version = 6.10\n")
    assert bootloader.product_title(tmp_path, ["busybox-1.15-1.x86_64"]) == (
        "Red Hat Enterprise Linux 6.10")
    assert bootloader.product_title(tmp_path, ["cs-email-4.9.0-190.x86_64"]) == (
        "Secure Email Gateway")


def test_kernel_and_initrd_found(tmp_path: Path) -> None:
    with pytest.raises(InstallFailed) as info:
        bootloader.kernel_and_initrd(tmp_path)
    assert info.value.klass == "bootloader"
    (tmp_path / "boot").mkdir()
    (tmp_path / "boot/vmlinuz-2.6.32-754.el6.x86_64").write_bytes(b"k")
    (tmp_path / "boot/initramfs-2.6.32-754.el6.x86_64.img").write_bytes(b"i")
    assert bootloader.kernel_and_initrd(tmp_path) == (
        "vmlinuz-2.6.32-754.el6.x86_64", "initramfs-2.6.32-754.el6.x86_64.img")


def test_bios_install_keeps_the_partition_table(tmp_path: Path) -> None:
    data = tmp_path / "usr/share/grub/sample"
    data.mkdir(parents=True)
    (data / "boot.img").write_bytes(b"\xeb" * 512)
    (data / "core.img").write_bytes(b"C" * 4000)
    disk = tmp_path / "disk.raw"
    table = bytes(range(64))  # 0x1be..0x1fd: the four partition entries
    mbr = b"\0" * 440 + b"SIG!" + b"\0\0" + table + b"\x55\xaa"
    disk.write_bytes(mbr + b"\0" * 1024 * 1024)
    bootloader.install_bios(tmp_path, str(disk))
    written = disk.read_bytes()
    assert written[:440] == b"\xeb" * 440
    assert written[440:512] == mbr[440:512]
    assert written[512:4512] == b"C" * 4000


def test_core_image_too_large_is_refused(tmp_path: Path) -> None:
    data = tmp_path / "usr/share/grub/sample"
    data.mkdir(parents=True)
    (data / "boot.img").write_bytes(b"\0" * 512)
    (data / "core.img").write_bytes(b"C" * (bootloader.CORE_LIMIT + 1))
    with pytest.raises(InstallFailed) as info:
        bootloader.install_bios(tmp_path, str(tmp_path / "disk"))
    assert "does not fit" in info.value.reason


def test_efibootmgr_replaces_an_entry_of_the_same_label() -> None:
    listing = (
        "BootCurrent: 0001\nBootOrder: 0003,0001,0000\n"
        "Boot0000* UiApp\tFvVol(7cb8bdc9)/FvFile(462caa21)\n"
        "Boot0001* UEFI QEMU DVD-ROM QM00001 \tPciRoot(0x0)/Pci(0x1f,0x2)\n"
        "Boot0003* Secure Email Gateway\tHD(1,GPT,...)/File(\\EFI\\redhat\\grub.efi)\n"
    )
    commands = bootloader.efibootmgr_commands(listing=listing, disk="/dev/vda", esp_number=1,
                                              label="Secure Email Gateway")
    assert commands == [
        [bootloader.EFIBOOTMGR, "-q", "-b", "0003", "-B"],
        [bootloader.EFIBOOTMGR, "-q", "-c", "-w", "-L", "Secure Email Gateway", "-d",
         "/dev/vda", "-p", "1", "-l", "\\EFI\\redhat\\grub.efi"],
    ]


def _installed_root(tmp_path: Path) -> Path:
    root = tmp_path / "root"
    data = root / "usr/share/grub/sample"
    data.mkdir(parents=True)
    (data / "boot.img").write_bytes(b"\xeb" * 512)
    (data / "core.img").write_bytes(b"C" * 4000)
    (root / "etc").mkdir()
    (root / "boot").mkdir()
    (root / "boot/vmlinuz-k").write_bytes(b"k")
    (root / "boot/initramfs-k.img").write_bytes(b"i")
    return root


def test_separate_boot_and_every_disk_of_a_raid1(tmp_path: Path) -> None:
    root = _installed_root(tmp_path)
    disks = [tmp_path / "vda", tmp_path / "vdb"]
    for disk in disks:
        disk.write_bytes(b"\0" * 512 + b"\0" * 1024 * 1024)
    bootloader.install(root=root, disk=str(disks[0]), extra_disks=[str(disks[1])], uefi=False,
                       separate_boot=True, root_uuid="u", title="T", append="", timeout=1,
                       esp_number=None)
    for disk in disks:  # each disk boots on its own (degraded RAID 1)
        assert disk.read_bytes()[:440] == b"\xeb" * 440
    # the built-in config reads /boot/grub/grub.conf of the /boot file system: via the link
    link = root / "boot/boot"
    assert link.is_symlink() and str(link.readlink()) == "."
    assert (link / "grub/grub.conf").read_text().startswith("# GRUB 2 configuration")
    assert "linux /vmlinuz-k root=UUID=u" in (root / "boot/grub/grub.conf").read_text()
    assert (root / "boot/grub/grub.conf").stat().st_mode & 0o777 == 0o600  # booty's perms


def test_location_partition_writes_the_boot_partitions_sector_not_the_mbr(
        tmp_path: Path) -> None:
    root = _installed_root(tmp_path)
    disk = tmp_path / "vda"
    mbr = b"M" * 440 + b"SIG!" + b"\0\0" + bytes(64) + b"\x55\xaa"
    disk.write_bytes(mbr + b"\0" * 1024 * 1024)
    boot_part = tmp_path / "vda1"
    boot_part.write_bytes(b"\0" * 4096)
    bootloader.install(root=root, disk=str(disk), uefi=False, separate_boot=True,
                       root_uuid="u", title="T", append="", timeout=1, esp_number=None,
                       boot_partitions={str(disk): [str(boot_part)]})
    written = disk.read_bytes()
    assert written[:512] == mbr  # the MBR left as it was (booty: stage1 on the partition)
    assert written[512:4512] == b"C" * 4000  # core.img where boot.img looks for it
    sector = boot_part.read_bytes()[:512]
    assert sector[:510] == b"\xeb" * 510 and sector[510:] == b"\x55\xaa"
    assert boot_part.read_bytes()[512:] == bytes(4096 - 512)


def test_password_protects_editing_and_boots_without_it() -> None:
    import hashlib
    from types import SimpleNamespace

    assert bootloader.grub_password(SimpleNamespace(password="", isCrypted=False)) == ""
    plain = bootloader.grub_password(SimpleNamespace(password="Grub!pw1", isCrypted=False))
    superusers, pbkdf2, _ = plain.split("\n")
    assert superusers == 'set superusers="root"'
    word, user, value = pbkdf2.split(" ")
    assert (word, user) == ("password_pbkdf2", "root")
    _grub, _pbkdf2, algo, rounds, salt, digest = value.split(".")
    assert (algo, rounds, len(salt), len(digest)) == ("sha512", "10000", 128, 128)
    assert hashlib.pbkdf2_hmac("sha512", b"Grub!pw1", bytes.fromhex(salt), 10000,
                               64).hex().upper() == digest
    # a crypt hash (--iscrypted, --md5pass) cannot be checked by GRUB 2: editing locked
    locked = bootloader.grub_password(SimpleNamespace(password="$1$ab$cd", isCrypted=True))
    assert locked == 'set superusers="root"\n'
    text = bootloader.grub_conf(title="T", kernel_path="/k", initrd_path="/i", cmdline="c",
                                timeout=5, password=plain)
    assert "menuentry 'T' --unrestricted {" in text and text.index(pbkdf2) < text.index("menu")
    assert "--unrestricted" not in bootloader.grub_conf(title="T", kernel_path="/k",
                                                        initrd_path="/i", cmdline="c",
                                                        timeout=5)
