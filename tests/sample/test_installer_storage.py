"""Sample installer: RAID arrays and LVM volume groups planned from the kickstart."""

from __future__ import annotations

from typing import Any

import pytest
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion

from buildiso.sample.installer.guest import disk, disks, storage
from buildiso.sample.installer.guest.errors import InstallFailed

MEMINFO = "MemTotal: 1572864 kB\n"


def _handler(text: str) -> Any:
    handler = makeVersion(RHEL6)
    KickstartParser(handler).readKickstartFromString(text)
    return handler


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
    assert [(lv.name, lv.size_mb, lv.grow) for lv in group.volumes] == [
        ("lv_root", 20480, False), ("lv_swap", 3072, False), ("lv_var", 61440, True)]
    assert layout.mounts() == {"/", "swap", "/var"}


def test_lv_extents_fixed_percent_grow_and_maxsize() -> None:
    _, _, layout = _layout(LVM.replace("--size=61440 --grow", "--percent=10 --grow --maxsize=50000")
    )
    [group] = layout.groups
    # 100 GiB group of 32 MiB extents: root 640, swap 96, var 10 % = 320 then grows to its cap
    sizes = storage.lv_extents(group, extents=3200, extent_mib=32)
    assert sizes[:2] == [640, 96]
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
         "raid / --level=5 --device=md0 raid.01 raid.02\n", "RAID level RAID5 is not supported"),
        ("part raid.01 --size=1\nraid / --level=1 --device=md0 raid.01 raid.09\n",
         "member raid.09 is not a 'part raid.NN'"),
        ("part raid.01 --size=1\npart raid.02 --size=1\npart raid.03 --size=1\n"
         "raid / --level=1 --device=md0 raid.01 raid.02\n", "a RAID member no raid line uses"),
        ("part pv.01 --size=1\nvolgroup vg pv.02\n", "physical volume pv.02 is not"),
        ("logvol / --vgname=nope --name=root --size=1\n", "no volgroup nope"),
        ("part raid.01 --size=1\npart raid.02 --size=1\n"
         "raid / --level=1 --device=md0 --fstype=xfs raid.01 raid.02\n",
         "file system xfs is not supported"),
    ],
)
def test_bad_layouts_fail_as_kickstart_errors(text: str, reason: str) -> None:
    with pytest.raises(InstallFailed) as info:
        _layout(text)
    assert info.value.klass == "kickstart" and reason in info.value.reason, info.value.reason
