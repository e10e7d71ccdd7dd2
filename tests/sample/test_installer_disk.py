"""Sample installer: partition plan (sizes, --grow, order, labels) and the disk-size check."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from buildiso.sample.installer.guest import disk
from buildiso.sample.installer.guest.errors import InstallFailed


def _part(mount: str, size: int, *, grow: bool = False, fstype: str = "",
          maxsize: int = 0) -> SimpleNamespace:
    return SimpleNamespace(mountpoint=mount, size=size, grow=grow, maxSizeMB=maxsize,
                           fstype=fstype, label="", lineno=7, recommended=False, disk="")


PRODUCT = [_part("/", 20480, fstype="ext4"), _part("/var", 61440, grow=True, fstype="ext4"),
           _part("swap", 2048)]


def test_product_layout_on_a_100_gb_bios_disk() -> None:
    requests = disk.requests_from_ks(PRODUCT, uefi=False)
    planned = disk.plan(requests, disk_mib=102400, gpt=False, disk="/dev/vda")
    sizes = {p.request.mountpoint: p.size_mib for p in planned}
    assert sizes["/"] == 20480 and sizes["swap"] == 2048
    assert sizes["/var"] == 102400 - 20480 - 2048 - disk.ALIGN_MIB
    assert [p.number for p in planned] == [1, 2, 3]


def test_uefi_puts_the_esp_first_and_requires_one() -> None:
    with pytest.raises(InstallFailed) as info:
        disk.requests_from_ks(PRODUCT, uefi=True)
    assert info.value.klass == "kickstart" and "/boot/efi" in info.value.reason
    requests = disk.requests_from_ks([*PRODUCT, _part("/boot/efi", 200, fstype="efi")],
                                     uefi=True)
    planned = disk.plan(requests, disk_mib=102400, gpt=True, disk="/dev/vda")
    assert planned[0].request.mountpoint == "/boot/efi"
    script = disk.sfdisk_script(planned, gpt=True, boot_mount="/")
    assert script.startswith("label: gpt\n")
    assert f"size=200MiB, type={disk.GPT_TYPES['efi']}" in script


def test_esp_on_bios_is_refused() -> None:
    with pytest.raises(InstallFailed) as info:
        disk.requests_from_ks([*PRODUCT, _part("/boot/efi", 200, fstype="efi")], uefi=False)
    assert info.value.klass == "disk"


def test_too_small_disk_names_sizes() -> None:
    requests = disk.requests_from_ks(PRODUCT, uefi=False)
    with pytest.raises(InstallFailed) as info:
        disk.plan(requests, disk_mib=51200, gpt=False, disk="/dev/vda")
    assert info.value.klass == "disk"
    assert info.value.reason.startswith("disk /dev/vda is too small: 51200 MB")
    assert "/var 61440 MB" in info.value.reason


def test_grow_is_proportional_and_honours_maxsize() -> None:
    requests = disk.requests_from_ks(
        [_part("/", 1000, grow=True), _part("/var", 3000, grow=True),
         _part("/home", 1000, grow=True, maxsize=1500)], uefi=False)
    planned = disk.plan(requests, disk_mib=10001, gpt=False, disk="/dev/sda")
    sizes = {p.request.mountpoint: p.size_mib for p in planned}
    assert sizes["/home"] == 1500
    assert sum(sizes.values()) == 10000
    assert sizes["/var"] > sizes["/"] > 1000


def test_more_than_four_msdos_partitions_use_an_extended_one() -> None:
    parts = [_part("/", 1000), _part("/boot", 500), _part("/var", 1000), _part("/home", 100),
             _part("swap", 100)]
    planned = disk.plan(disk.requests_from_ks(parts, uefi=False), disk_mib=4000, gpt=False,
                        disk="/dev/sda")
    assert [p.request.mountpoint for p in planned] == ["/boot", "/", "/var", "/home", "swap"]
    assert [p.number for p in planned] == [1, 2, 3, 5, 6]
    script = disk.sfdisk_script(planned, gpt=False, boot_mount="/boot")
    lines = script.splitlines()
    assert lines[:2] == ["label: dos", "unit: sectors"]
    assert "size=500MiB, type=83, bootable" in lines
    assert lines.index("type=5") == lines.index("size=1000MiB, type=83") + 2


@pytest.mark.parametrize(("disk_path", "number", "device"),
                         [("/dev/vda", 1, "/dev/vda1"), ("/dev/sda", 5, "/dev/sda5"),
                          ("/dev/nvme0n1", 2, "/dev/nvme0n1p2")])
def test_partition_device_names(disk_path: str, number: int, device: str) -> None:
    assert disk.partition_device(disk_path, number) == device


def test_raid_members_and_pvs_are_partitions_with_their_types() -> None:
    requests = disk.requests_from_ks(
        [_part("pv.01", 1000, grow=True), _part("raid.01", 2000), _part("/boot", 500)],
        uefi=False)
    assert [r.fstype for r in requests] == ["lvmpv", "raid", "ext4"]
    assert all(r.is_container for r in requests[:2]) and not requests[2].is_container
    planned = disk.plan(requests, disk_mib=10000, gpt=False, disk="/dev/vda")
    script = disk.sfdisk_script(planned, gpt=False, boot_mount="/boot")
    assert "type=8e" in script and "type=fd" in script
    gpt = disk.sfdisk_script(planned, gpt=True, boot_mount="/boot")
    assert disk.GPT_TYPES["lvmpv"] in gpt and disk.GPT_TYPES["raid"] in gpt


def test_recommended_swap_follows_rhel6_table() -> None:
    assert disk.recommended_swap_mb("MemTotal:        1572864 kB\n") == 3072
    assert disk.recommended_swap_mb("MemTotal:        6291456 kB\n") == 6144
    assert disk.recommended_swap_mb("MemTotal:       16777216 kB\n") == 8192
    swap = _part("swap", 0)
    swap.recommended = True
    [request] = disk.requests_from_ks([swap], uefi=False, meminfo="MemTotal: 1048576 kB\n")
    assert request.size_mb == 2048
    root = _part("/", 0)
    root.recommended = True
    with pytest.raises(InstallFailed, match="--recommended is for swap only"):
        disk.requests_from_ks([root], uefi=False, meminfo="MemTotal: 1048576 kB\n")


def test_biosboot_and_unknown_filesystems_are_refused() -> None:
    with pytest.raises(InstallFailed):
        disk.requests_from_ks([_part("biosboot", 1), *PRODUCT], uefi=False)
    with pytest.raises(InstallFailed) as info:
        disk.requests_from_ks([_part("/", 1000, fstype="xfs")], uefi=False)
    assert "xfs" in info.value.reason
