"""Sample installer: RAID arrays and LVM volume groups planned from the kickstart."""

from __future__ import annotations

from typing import Any

import pytest

from buildiso.sample.installer.guest import disk, disks, kickstart, storage
from buildiso.sample.installer.guest.errors import InstallFailed

MEMINFO = "MemTotal: 1572864 kB\n"  # 1536 MB: anaconda rounds it up to 1552 MB


def _handler(text: str) -> Any:
    """Parsed as the installer parses (line order numbered, as anaconda executes it)."""
    parser = kickstart._parser(first_pass=False)
    parser.readKickstartFromString(text)
    return parser.handler


def _layout(text: str) -> tuple[Any, list[disk.PartRequest], storage.Layout]:
    h = _handler(text)
    requests = disk.requests_from_ks(list(h.partition.partitions), uefi=False, meminfo=MEMINFO)
    return h, requests, storage.layout_from_ks(h, requests, meminfo=MEMINFO)


RAID1 = """\
part raid.11 --size=500 --ondisk=vda
part raid.12 --size=500 --ondisk=vdb
part raid.21 --size=20480 --ondisk=vda
part raid.22 --size=20480 --ondisk=vdb
part raid.31 --size=61440 --grow --ondisk=vda
part raid.32 --size=61440 --grow --ondisk=vdb
raid /boot --level=1 --device=md0 raid.11 raid.12
raid / --level=1 --device=md1 --fstype=ext4 raid.21 raid.22
raid /var --level=RAID1 --device=md2 raid.31 raid.32
"""

LVM = """\
part /boot --size=500
part pv.01 --size=1000 --grow
volgroup vg_gw pv.01
logvol / --vgname=vg_gw --name=lv_root --size=20480
logvol swap --vgname=vg_gw --name=lv_swap --recommended
logvol /var --vgname=vg_gw --name=lv_var --size=61440 --grow
"""


def test_raid1_layout_arrays_and_mounts() -> None:
    _, requests, layout = _layout(RAID1)
    assert [(a.device, a.level, a.members) for a in layout.arrays] == [
        ("/dev/md0", "1", ("raid.11", "raid.12")),
        ("/dev/md1", "1", ("raid.21", "raid.22")),
        ("/dev/md2", "1", ("raid.31", "raid.32")),
    ]
    assert layout.mounts() == {"/boot", "/", "/var"}
    assert {r.disk for r in requests} == {"vda", "vdb"}
    # each member on its own disk: the / array holds one member's 20 GB
    planned = {d: disk.plan([r for r in requests if r.disk == d], disk_mib=100 * 1024,
                            gpt=False, disk=f"/dev/{d}") for d in ("vda", "vdb")}
    planned_by_disk = {f"/dev/{d}": p for d, p in planned.items()}
    sizes = {p.request.mountpoint: p.size_mib for ps in planned_by_disk.values() for p in ps}
    assert sizes["raid.21"] == sizes["raid.22"] == 20480
    assert sizes["raid.31"] == sizes["raid.32"] == 100 * 1024 - 500 - 20480 - disk.ALIGN_MIB


def test_lvm_layout_volumes_with_recommended_swap() -> None:
    _, _, layout = _layout(LVM)
    [group] = layout.groups
    assert group.pvs == ("pv.01",) and group.pesize_kib == 32768
    # --recommended swap: iutil.swapSuggestion, then grown up to itself (LogVolData.execute)
    assert [(lv.name, lv.size_mb, lv.grow, lv.max_mb) for lv in group.volumes] == [
        ("lv_root", 20480, False, None), ("lv_swap", 3104, True, 3104),
        ("lv_var", 61440, True, None)]
    assert layout.mounts() == {"/", "swap", "/var"}


def test_lv_extents_fixed_percent_grow_and_maxsize() -> None:
    _, _, layout = _layout(LVM.replace("--size=61440 --grow", "--percent=10 --grow --maxsize=50000")
    )
    [group] = layout.groups
    # 100 GiB group of 32 MiB extents: root 640, swap 97, var 10 % = 320 then grows to its cap
    sizes = storage.lv_extents(group, extents=3200, extent_mib=32)
    assert sizes[:2] == [640, 97]
    assert sizes[2] == 50000 // 32  # capped: the rest (2144 extents) stays free


def test_group_too_small_for_its_volumes_is_a_disk_failure() -> None:
    _, requests, layout = _layout(LVM)
    planned = {"/dev/vda": disk.plan(requests, disk_mib=50 * 1024, gpt=False, disk="/dev/vda")}
    with pytest.raises(InstallFailed) as info:
        disks.check_group_fits(layout.groups[0], layout, planned)
    assert info.value.klass == "disk" and "volume group vg_gw is too small" in info.value.reason
    bigger = {"/dev/vda": disk.plan(requests, disk_mib=100 * 1024, gpt=False, disk="/dev/vda")}
    disks.check_group_fits(layout.groups[0], layout, bigger)


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("part raid.01 --size=1\npart raid.02 --size=1\n"
         "raid / --level=5 --device=md0 raid.01 raid.02\n", "RAID5 needs at least 3 members"),
        ("part raid.01 --size=1\npart raid.02 --size=1\npart raid.03 --size=1\n"
         "raid / --level=6 --device=md0 raid.01 raid.02 raid.03\n",
         "RAID6 needs at least 4 members"),
        ("part raid.01 --size=1\nraid / --level=1 --device=md0 raid.01 raid.09\n",
         "tried to use undefined partition raid.09"),
        # anaconda executes the lines in order: a member defined after its raid line
        ("part raid.01 --size=1\nraid / --level=1 --device=md0 raid.01 raid.02\n"
         "part raid.02 --size=1\n", "tried to use undefined partition raid.02"),
        ("part pv.01 --size=1\nvolgroup vg pv.02\n", "tried to use undefined partition pv.02"),
        ("logvol / --vgname=nope --name=root --size=1\n", "no volume group exists"),
        ("part pv.01 --size=100\nlogvol / --vgname=vg --name=root --size=1\n"
         "volgroup vg pv.01\n", "specify volume groups before logical volumes"),
        ("part pv.01 --size=100\nvolgroup vg pv.01\nlogvol / --vgname=vg --name=root --grow\n",
         "size required"),
    ],
)
def test_bad_layouts_fail_as_anaconda_13(text: str, reason: str) -> None:
    with pytest.raises(InstallFailed) as info:
        _layout(text)
    assert info.value.klass == "kickstart" and reason in info.value.reason, info.value.reason


def test_file_systems_the_sample_cannot_make_are_refused_not_failed() -> None:
    with pytest.raises(InstallFailed) as info:
        _layout("part raid.01 --size=1\npart raid.02 --size=1\n"
                "raid / --level=1 --device=md0 --fstype=xfs raid.01 raid.02\n")
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith("unsupported: raid / --fstype=xfs at line 3")


RAID56 = """\
part /boot --size=500
part raid.01 --size=1000 --ondisk=vda
part raid.02 --size=1000 --ondisk=vdb
part raid.03 --size=1000 --ondisk=vdc
part raid.04 --size=1000 --ondisk=vdd
raid / --level={level} --device=md0 --fsoptions=noatime raid.01 raid.02 raid.03 raid.04
"""


@pytest.mark.parametrize(("level", "mdadm", "data"),
                         [("RAID5", "5", 3), ("6", "6", 2), ("RAID4", "4", 3), ("10", "10", 2)])
def test_raid_4_5_6_10_with_their_capacity(level: str, mdadm: str, data: int) -> None:
    _, requests, layout = _layout(RAID56.format(level=level))
    [array] = layout.arrays
    assert array.level == mdadm and len(array.members) == 4
    assert array.request is not None and array.request.fsoptions == "noatime"
    assert storage.data_members(array.level, 4) == data
    storage.check_boot_request(requests, layout, uefi=False)  # /boot is a plain partition


def test_raid10_needs_two_members_as_in_anaconda() -> None:
    _, _, layout = _layout("part raid.01 --size=1\npart raid.02 --size=1\n"
                           "raid /srv --level=10 --device=md0 raid.01 raid.02\n")
    assert layout.arrays[0].level == "10"


@pytest.mark.parametrize(("text", "reason"), [
    ("part raid.01 --size=1\npart raid.02 --size=1\npart raid.03 --size=1\n"
     "raid /boot --level=5 --device=md0 raid.01 raid.02 raid.03\npart / --size=100\n",
     "bootable partitions can only be on RAID1 devices, not RAID5"),
    ("part pv.01 --size=100\nvolgroup vg pv.01\nlogvol / --vgname=vg --name=root --size=50\n",
     "bootable partitions cannot be on a logical volume"),
    ("part /boot --size=500 --fstype=vfat\npart / --size=100\n",
     "bootable partitions cannot be on a vfat file system"),
])
def test_boot_request_checked_as_anaconda_on_bios(text: str, reason: str) -> None:
    _, requests, layout = _layout(text)
    with pytest.raises(InstallFailed) as info:
        storage.check_boot_request(requests, layout, uefi=False)
    assert info.value.klass == "kickstart" and reason in info.value.reason
    storage.check_boot_request(requests, layout, uefi=True)  # UEFI boots from the ESP
