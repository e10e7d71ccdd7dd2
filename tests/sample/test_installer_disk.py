"""Sample installer: partition plan (sizes, --grow, order, labels) and the disk-size check."""

from __future__ import annotations

from pathlib import Path
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


def test_recommended_swap_follows_iutil_swap_suggestion() -> None:
    # the RAM in MB rounded up to the next 16 (1536 → 1552), then the table
    assert disk.recommended_swap_mb("MemTotal:        1572864 kB\n") == 3104
    assert disk.recommended_swap_mb("MemTotal:        6291456 kB\n") == 6160
    assert disk.recommended_swap_mb("MemTotal:       16777216 kB\n") == 8200
    assert disk.recommended_swap_mb("MemTotal: 1048576 kB\n", hibernation=True) == 3120
    # at most 10 % of the disks, but not for hibernation
    assert disk.recommended_swap_mb("MemTotal: 1048576 kB\n", disk_space_mb=10000) == 1000
    assert disk.recommended_swap_mb("MemTotal: 1048576 kB\n", hibernation=True,
                                    disk_space_mb=10000) == 3120
    swap = _part("swap", 0)
    swap.recommended = True
    [request] = disk.requests_from_ks([swap], uefi=False, meminfo="MemTotal: 1048576 kB\n")
    assert (request.size_mb, request.grow, request.max_mb) == (2080, True, 2080)
    # --recommended on anything but swap: anaconda ignores it, so --size still counts
    root = _part("/", 0)
    root.recommended = True
    with pytest.raises(InstallFailed, match="requires a size specification"):
        disk.requests_from_ks([root], uefi=False, meminfo="MemTotal: 1048576 kB\n")
    with pytest.raises(InstallFailed, match="requires a size specification"):
        disk.requests_from_ks([_part("/", 0, grow=True)], uefi=False)


def test_fsoptions_fsprofile_asprimary_reach_the_request() -> None:
    var = _part("/var", 1000, fstype="ext4")
    var.fsopts, var.fsprofile, var.primOnly = "nodev,noexec", "news", True
    efi = _part("/boot/efi", 200, fstype="efi")
    efi.fsopts = "ro"  # replaced: anaconda sets the ESP's options itself
    requests = disk.requests_from_ks([var, efi], uefi=True)
    assert (requests[0].fsoptions, requests[0].fsprofile, requests[0].primary) == (
        "nodev,noexec", "news", True)
    assert requests[1].fsoptions == "defaults,uid=0,gid=0,umask=0077,shortname=winnt"


def test_asprimary_takes_the_primary_slots_of_an_msdos_label() -> None:
    parts = [_part(f"/p{i}", 100) for i in range(1, 6)]
    for late in parts[3:]:
        late.primOnly = True
    planned = disk.plan(disk.requests_from_ks(parts, uefi=False), disk_mib=4000, gpt=False,
                        disk="/dev/vda")
    numbers = {p.request.mountpoint: p.number for p in planned}
    # /p4 and /p5 are primary (1-3), with /p1; /p2 and /p3 become logical (5, 6)
    assert {m for m, n in numbers.items() if n <= 3} == {"/p1", "/p4", "/p5"}
    assert sorted(n for m, n in numbers.items() if m in ("/p2", "/p3")) == [5, 6]
    for part in parts[:2]:
        part.primOnly = True  # four primaries and an extended one do not fit
    with pytest.raises(InstallFailed) as info:
        disk.plan(disk.requests_from_ks(parts, uefi=False), disk_mib=4000, gpt=False,
                  disk="/dev/vda")
    assert info.value.klass == "disk" and "unable to allocate" in info.value.reason
    # GPT has no such limit
    disk.plan(disk.requests_from_ks(parts, uefi=False), disk_mib=4000, gpt=True,
              disk="/dev/vda")


def test_biosboot_and_unknown_filesystems_are_refused() -> None:
    with pytest.raises(InstallFailed) as info:
        disk.requests_from_ks([_part("biosboot", 1), *PRODUCT], uefi=False)
    assert info.value.klass == "kickstart-unsupported"
    with pytest.raises(InstallFailed) as info:
        disk.requests_from_ks([_part("/", 1000, fstype="xfs")], uefi=False)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith("unsupported: part / --fstype=xfs at line 7")


def test_fsprofile_reaches_mke2fs(monkeypatch: pytest.MonkeyPatch) -> None:
    commands: list[list[str]] = []
    monkeypatch.setattr(disk, "run", lambda cmd, **kw: commands.append(cmd) or "")
    request = disk.PartRequest("/var", 100, False, None, "ext4", fsprofile="largefile")
    disk.make_filesystem("/dev/vda3", request)
    assert commands[0][:7] == ["/sbin/mke2fs", "-q", "-F", "-t", "ext4", "-T", "largefile"]


def _machine(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, **disks_parts: int) -> None:
    from buildiso.sample.installer.guest import disks, media

    for name, parts in disks_parts.items():
        (tmp_path / "dev" / name).mkdir(parents=True)
        (tmp_path / "sys" / name).mkdir(parents=True)
        for number in range(1, parts + 1):
            (tmp_path / "sys" / name / f"{name}{number}").mkdir()
    monkeypatch.setattr(disks, "DEV", tmp_path / "dev")
    monkeypatch.setattr(disks, "SYS_BLOCK", tmp_path / "sys")
    monkeypatch.setattr(media, "candidate_disks",
                        lambda exclude: [f"/dev/{d}" for d in sorted(disks_parts)
                                         if d not in exclude])


def _parsed(tmp_path: Path, text: str) -> object:
    from buildiso.sample.installer.guest import kickstart

    path = tmp_path / "ks.cfg"
    path.write_text(text)
    return kickstart.parse(path, first_pass=True)


def test_clearpart_keeping_partitions_is_refused(tmp_path: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    from buildiso.sample.installer.guest import disks, media

    _machine(tmp_path, monkeypatch, vda=2, vdb=0)
    none = media.Media("cdrom", "", "/", "")
    # an empty disk needs no clearing: --linux, --none or no clearpart are all carried out
    for line in ("", "clearpart --linux\n", "clearpart --none\n"):
        handler = _parsed(tmp_path, f"install\n{line}part / --size=100 --ondisk=vdb\n")
        assert disks.target_disks(handler, none) == ["/dev/vdb"]
    handler = _parsed(tmp_path, "install\nclearpart --linux --drives=vda\n"
                      "part / --size=100 --ondisk=vda\n")
    with pytest.raises(InstallFailed) as info:
        disks.target_disks(handler, none)
    assert info.value.klass == "kickstart-unsupported"
    assert "keeping the partitions of /dev/vda) at line 2" in info.value.reason
    handler = _parsed(tmp_path, "install\nclearpart --all --drives=vda\n"
                      "part / --size=100 --ondisk=vda\n")
    assert disks.target_disks(handler, none) == ["/dev/vda"]


def test_driveorder_orders_the_disks_and_warns_of_missing_ones(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from buildiso.sample.installer.guest import disks, media

    _machine(tmp_path, monkeypatch, vda=0, vdb=0)
    handler = _parsed(tmp_path, "install\nclearpart --all\n"
                      "bootloader --location=mbr --driveorder=vdb,sdz,vda\n"
                      "part / --size=100 --ondisk=vda\npart /srv --size=100 --ondisk=vdb\n")
    said: list[str] = []
    assert disks.target_disks(handler, media.Media("cdrom", "", "/", ""), say=said.append) == [
        "/dev/vdb", "/dev/vda"]
    assert said == ["Warning: requested drive sdz in boot drive order doesn't exist "
                    "(bootloader --driveorder; anaconda only logs it)"]
