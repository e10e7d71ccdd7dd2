"""buildiso.boottest.layoutcheck: the installed storage against the profile's disk layout."""

from __future__ import annotations

import dataclasses
from typing import Any

import pytest
from test_postreport import good_report

from buildiso.boottest.layoutcheck import device_kind, layout_problems
from buildiso.boottest.postreport import check_report
from buildiso.render.profile import DiskLayout, Profile


def _report(profile: Profile, devices: dict[str, str], arrays: dict[str, Any]) -> dict[str, Any]:
    report = good_report(profile)
    for mount, device in devices.items():
        report["filesystems"][mount]["device"] = device
    report["arrays"] = arrays
    return report


def _clean(name: str) -> dict[str, Any]:
    return {name: {"level": "raid1", "raid_disks": 2, "degraded": 0, "sync_action": "idle"}}


@pytest.mark.parametrize(
    ("device", "kind"),
    [("/dev/sda2", "partition"), ("/dev/nvme0n1p3", "partition"), ("/dev/md1", "md"),
     ("/dev/md/root", "md"), ("/dev/mapper/vg_gateway-lv_root", "lvm"), ("/dev/dm-0", "lvm"),
     ("/dev/vg_gateway/lv_var", "lvm")],
)  # fmt: skip
def test_device_kind(device: str, kind: str) -> None:
    assert device_kind(device) == kind


def test_lvm_layout_passes_on_logical_volumes(profile: Profile) -> None:
    lvm = dataclasses.replace(profile, disk_layout=DiskLayout.LVM)
    report = _report(lvm, {"/": "/dev/mapper/vg_gateway-lv_root", "/var": "/dev/dm-1"}, {})
    problems, found = layout_problems(report, lvm)
    assert problems == [] and "/ on /dev/mapper/vg_gateway-lv_root" in found
    # the same report for a plain profile: wrong place
    problems, _ = layout_problems(report, profile)
    assert problems == [
        "/ is on /dev/mapper/vg_gateway-lv_root (a lvm), the plain layout puts it on a partition",
        "/var is on /dev/dm-1 (a lvm), the plain layout puts it on a partition",
    ]


def test_raid1_layout_needs_clean_two_disk_arrays(profile: Profile) -> None:
    raid1 = dataclasses.replace(profile, disk_layout=DiskLayout.RAID1)
    arrays = {**_clean("md0"), **_clean("md1"), **_clean("md2")}
    good = _report(raid1, {"/": "/dev/md1", "/var": "/dev/md2"}, arrays)
    assert layout_problems(good, raid1)[0] == []
    assert all(c.ok for c in check_report(good, raid1))
    degraded = _report(raid1, {"/": "/dev/md1", "/var": "/dev/md2"},
                       {**arrays, "md2": {**arrays["md2"], "degraded": 1}})  # fmt: skip
    assert layout_problems(degraded, raid1)[0] == ["md2 is degraded (1 member(s) missing)"]
    resync = _report(raid1, {"/": "/dev/md1", "/var": "/dev/md2"},
                     {**arrays, "md1": {**arrays["md1"], "sync_action": "resync"}})  # fmt: skip
    assert layout_problems(resync, raid1)[0] == ["md1 is not clean (sync_action resync)"]
    on_partitions = _report(raid1, {"/": "/dev/vda2", "/var": "/dev/vda3"}, {})
    problems = layout_problems(on_partitions, raid1)[0]
    assert "no RAID arrays reported" in problems and len(problems) == 3


def test_missing_device_is_a_problem(profile: Profile) -> None:
    report = good_report(profile)
    del report["filesystems"]["/var"]["device"]
    assert layout_problems(report, profile)[0] == ["no device reported for /var"]


def test_efi_system_partition_must_be_a_plain_partition(profile: Profile) -> None:
    raid1 = dataclasses.replace(profile, disk_layout=DiskLayout.RAID1)
    arrays = {**_clean("md0"), **_clean("md1"), **_clean("md2")}
    report = _report(raid1, {"/": "/dev/md1", "/var": "/dev/md2"}, arrays)
    report["filesystems"]["/boot/efi"] = {"size_mb": 200, "device": "/dev/vda1"}
    problems, found = layout_problems(report, raid1)
    assert problems == [] and "/boot/efi on /dev/vda1" in found
    report["filesystems"]["/boot/efi"]["device"] = "/dev/md3"
    assert layout_problems(report, raid1)[0] == [
        "/boot/efi is on /dev/md3 (a md): UEFI firmware reads the EFI system partition itself "
        "and needs a plain partition"
    ]
    # BIOS machines report no /boot/efi: nothing to check
    del report["filesystems"]["/boot/efi"]
    problems, found = layout_problems(report, raid1)
    assert problems == [] and "/boot/efi" not in found
