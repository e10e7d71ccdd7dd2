"""Sample installer: autopart builds RHEL 6's default layout (installclass.py, platform.py,
storage/partitioning.py), and the sample plans it like any kickstart layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample.installer.guest import autopart, disk, disks, kickstart, storage

MEMINFO = "MemTotal: 2097152 kB\n"  # 2048 MB → rounded 2064 → swap 2064 MB


def _handler(tmp_path: Path) -> object:
    path = tmp_path / "ks.cfg"
    path.write_text("install\nzerombr\nclearpart --all\nautopart\n")
    return kickstart.parse(path, first_pass=True)


@pytest.mark.parametrize(("hostname", "name"), [
    ("localhost.localdomain", "VolGroup"), ("", "VolGroup"),
    ("GW-01.example.com", "vg_gw01"), ("mail_gw", "vg_mail_gw")])
def test_volume_group_name_from_the_host_name(hostname: str, name: str) -> None:
    assert autopart.vg_name(hostname) == name


def test_default_layout_on_an_80_gb_bios_disk(tmp_path: Path) -> None:
    requests, layout = autopart.layout(_handler(tmp_path), ["/dev/vda"], uefi=False,
                                       hostname="gw.example.com", meminfo=MEMINFO,
                                       sizes_mb={"/dev/vda": 80 * 1024})
    assert [(r.mountpoint, r.size_mb, r.grow, r.fstype) for r in requests] == [
        ("/boot", 500, False, "ext4"), ("pv.autopart00", 1, True, "lvmpv")]
    [group] = layout.groups
    assert (group.name, group.pvs, group.pesize_kib) == ("vg_gw", ("pv.autopart00",), 4096)
    assert [(lv.name, lv.request.mountpoint, lv.size_mb, lv.max_mb) for lv in group.volumes] == [
        ("lv_root", "/", 1024, 50 * 1024), ("lv_home", "/home", 100, None),
        ("lv_swap", "swap", 2064, 2064)]
    storage.check_boot_request(requests, layout, uefi=False)
    planned = {"/dev/vda": disk.plan(requests, disk_mib=80 * 1024, gpt=False, disk="/dev/vda")}
    disks.check_group_fits(group, layout, planned)
    pv_mib = next(p.size_mib for p in planned["/dev/vda"] if p.request.fstype == "lvmpv")
    extents = storage.lv_extents(group, extents=(pv_mib - 1) // 4, extent_mib=4)
    assert extents[0] * 4 == 50 * 1024  # / grows to its 50 GB cap, /home takes the rest
    assert extents[2] * 4 == 2064 and sum(extents) == (pv_mib - 1) // 4


def test_small_disk_has_no_home_and_uefi_gets_an_esp(tmp_path: Path) -> None:
    requests, layout = autopart.layout(_handler(tmp_path), ["/dev/vda", "/dev/vdb"], uefi=True,
                                       hostname="", meminfo=MEMINFO,
                                       sizes_mb={"/dev/vda": 20 * 1024, "/dev/vdb": 20 * 1024})
    assert [r.mountpoint for r in requests] == ["/boot", "/boot/efi", "pv.autopart00",
                                                "pv.autopart01"]
    assert requests[1].fsoptions == disk.EFI_FSOPTIONS and requests[1].max_mb == 200
    [group] = layout.groups
    assert group.name == "VolGroup" and group.pvs == ("pv.autopart00", "pv.autopart01")
    # a 40 GB group is under /home's 50 GB requiredSpace; swap at most 10 % of the disks
    assert [lv.name for lv in group.volumes] == ["lv_root", "lv_swap"]
    assert group.volumes[1].size_mb == 2064
