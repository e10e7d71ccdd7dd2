"""Software RAID (``raid``, mdadm) and LVM (``volgroup``/``logvol``, Debian's lvm2).

``layout_from_ks`` checks the kickstart's arrays and volume groups against its partitions
before anything is written (members defined, levels the sample carries out, sizes that fit
the volume group); ``create`` then builds them on the partitioned members and makes the
file systems. Both return the mounted volumes as ``disk.PartRequest`` (mount point,
fstype) with their device, like plain partitions, for mounting and /etc/fstab.

Arrays: metadata 1.2 (the installed system's GRUB reads it with mdraid1x), created with
``--assume-clean``: the members are fresh, zeroed partitions of new disks, and a resync
would write every block of the (sparse) VM disks for nothing.
No udev runs in stage 2: mdadm and lvm make their own /dev nodes.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .disk import PartRequest, make_filesystem, recommended_swap_mb, run
from .errors import InstallFailed
from .kstable import unsupported

MDADM = "/sbin/mdadm"
LVM = "/sbin/lvm"
LVM_CONFIG = ("devices { obtain_device_list_from_udev=0 } "
              "activation { udev_sync=0 udev_rules=0 monitoring=0 }")
# RAID levels (storage/devicelibs/mdraid.py; the installed system's initramfs has their
# modules) and the fewest members each needs (get_raid_min_members).
LEVELS = {"RAID0": "0", "RAID1": "1", "RAID4": "4", "RAID5": "5", "RAID6": "6", "RAID10": "10"}
MIN_MEMBERS = {"0": 2, "1": 2, "4": 3, "5": 3, "6": 4, "10": 2}
METADATA = "1.2"


def data_members(level: str, active: int) -> int:
    """How many members' worth of space an array of ``active`` members holds."""
    return {"0": active, "1": 1, "4": active - 1, "5": active - 1, "6": active - 2,
            "10": max(1, active // 2)}[level]


@dataclass(frozen=True)
class Array:
    name: str  # mount point or pv.NN
    device: str  # /dev/md0
    level: str  # mdadm --level
    members: tuple[str, ...]  # raid.NN
    spares: int
    request: PartRequest | None  # the file system on it, None for an LVM PV
    lineno: int


@dataclass(frozen=True)
class LogicalVolume:
    name: str
    size_mb: int
    grow: bool
    max_mb: int | None
    percent: int
    request: PartRequest


@dataclass(frozen=True)
class VolumeGroup:
    name: str
    pvs: tuple[str, ...]
    pesize_kib: int
    volumes: tuple[LogicalVolume, ...]
    lineno: int


@dataclass
class Layout:
    arrays: list[Array] = field(default_factory=list)
    groups: list[VolumeGroup] = field(default_factory=list)

    def mounts(self) -> set[str]:
        found = {a.request.mountpoint for a in self.arrays if a.request}
        return found | {lv.request.mountpoint for g in self.groups for lv in g.volumes}


def check_fstype(data: Any, *, fstype_default: str = "ext4", where: str) -> str:
    """The file system of a raid or logvol line; one the sample cannot make is refused."""
    mount = data.mountpoint
    fstype = str(data.fstype or ("swap" if mount == "swap" else fstype_default)).lower()
    if fstype not in ("ext4", "ext3", "ext2", "swap"):
        raise unsupported(f"{where.split(' (')[0]} --fstype={fstype}",
                          f"line {data.lineno}", "the sample makes ext2/ext3/ext4 and swap "
                          "on arrays and volumes")
    return fstype


def _request(data: Any, *, fstype_default: str, meminfo: str, where: str,
             disk_space_mb: int | None = None) -> PartRequest:
    mount = data.mountpoint
    fstype = check_fstype(data, fstype_default=fstype_default, where=where)
    size = int(getattr(data, "size", 0) or 0)
    max_mb = int(getattr(data, "maxSizeMB", 0) or 0) or None
    grow = bool(getattr(data, "grow", False))
    hibernation = bool(getattr(data, "hibernation", False))
    if fstype == "swap" and (getattr(data, "recommended", False) or hibernation):
        size = recommended_swap_mb(meminfo or _meminfo(), hibernation=hibernation,
                                   disk_space_mb=disk_space_mb)
        max_mb, grow = size, True  # as kickstart.py LogVolData.execute
    return PartRequest(mountpoint=mount, size_mb=size, grow=grow, max_mb=max_mb, fstype=fstype,
                       label=getattr(data, "label", "") or None, lineno=int(data.lineno or 0),
                       fsoptions=getattr(data, "fsopts", "") or "",
                       fsprofile=getattr(data, "fsprofile", "") or "")


def _meminfo() -> str:
    try:
        return Path("/proc/meminfo").read_text()
    except OSError:
        return ""


def _order(data: Any) -> int:
    """Where the line came in the kickstart (kickstart.py numbers them): anaconda executes
    the storage lines in that order, so a line may only use what earlier lines made."""
    return int(getattr(data, "sample_order", 0) or 0)


def layout_from_ks(handler: Any, partitions: list[PartRequest], *,
                   meminfo: str = "", disk_space_mb: int | None = None) -> Layout:
    """The kickstart's arrays and volume groups, checked against its partitions."""
    layout = Layout()
    part_order = {p.mountpoint: p.order for p in partitions}
    members = {p.mountpoint for p in partitions if p.fstype == "raid"}
    pvs = {p.mountpoint: p.order for p in partitions if p.fstype == "lvmpv"}
    used: set[str] = set()
    for index, data in enumerate(handler.raid.raidList):
        where = f"raid {data.mountpoint} (line {data.lineno})"
        level = LEVELS.get(str(data.level).upper())
        if level is None:
            raise InstallFailed("kickstart", f"{where}: RAID level {data.level} is not "
                                "one of RHEL 6's")
        missing = [m for m in data.members if m not in members
                   or part_order.get(m, 0) > _order(data)]
        if missing:
            raise InstallFailed("kickstart", f"{where}: tried to use undefined partition "
                                f"{missing[0]} (a 'part raid.NN' line before this one), as "
                                "anaconda 13 says")
        if used & set(data.members):
            raise InstallFailed("kickstart", f"{where}: a member is used twice")
        used |= set(data.members)
        active = len(data.members) - int(data.spares or 0)
        if len(data.members) < MIN_MEMBERS[level]:
            raise InstallFailed("kickstart", f"{where}: RAID{level} needs at least "
                                f"{MIN_MEMBERS[level]} members")
        device = f"/dev/md{data.device if data.device is not None else index}"
        request = None
        if data.mountpoint.startswith("pv."):
            pvs[data.mountpoint] = _order(data)
        else:
            request = _request(data, fstype_default="ext4", meminfo=meminfo, where=where)
        if active < 1:
            raise InstallFailed("kickstart", f"{where}: no active member left beside the "
                                "spares")
        layout.arrays.append(Array(data.mountpoint, device, level, tuple(data.members),
                                   int(data.spares or 0), request, int(data.lineno or 0)))
    volumes: dict[str, list[LogicalVolume]] = {}
    group_order = {g.vgname: _order(g) for g in handler.volgroup.vgList}
    for data in handler.logvol.lvList:
        where = f"logvol {data.mountpoint} (line {data.lineno})"
        if group_order.get(data.vgname, 1 << 30) > _order(data):
            raise InstallFailed("kickstart", f"{where}: no volume group exists with the name "
                                f"{data.vgname}; specify volume groups before logical volumes "
                                "(anaconda 13)")
        request = _request(data, fstype_default="ext4", meminfo=meminfo, where=where,
                           disk_space_mb=disk_space_mb)
        if not data.percent and not request.size_mb:
            raise InstallFailed("kickstart", f"{where}: size required (anaconda 13: --size "
                                "or --percent)")
        volumes.setdefault(data.vgname, []).append(LogicalVolume(
            data.name, request.size_mb, request.grow, request.max_mb,
            int(data.percent or 0), request))
    for data in handler.volgroup.vgList:
        where = f"volgroup {data.vgname} (line {data.lineno})"
        missing = [p for p in data.physvols if pvs.get(p, 1 << 30) > _order(data)]
        if missing:
            raise InstallFailed("kickstart", f"{where}: tried to use undefined partition "
                                f"{missing[0]} (a 'part pv.NN' or 'raid pv.NN' line before "
                                "this one), as anaconda 13 says")
        layout.groups.append(VolumeGroup(data.vgname, tuple(data.physvols),
                                         int(data.pesize or 32768),
                                         tuple(volumes.pop(data.vgname, [])),
                                         int(data.lineno or 0)))
    if volumes:
        name = sorted(volumes)[0]
        raise InstallFailed("kickstart", f"logvol --vgname={name}: no volgroup {name}")
    return layout


def check_boot_request(requests: list[PartRequest], layout: Layout, *, uefi: bool) -> None:
    """platform.py checkBootRequest (BIOS): the file system GRUB boots from (/boot, else /)
    may not be a logical volume, and on RAID only on RAID 1; it must be ext2/3/4. On UEFI
    the EFI system partition is what the firmware boots (a plain partition, disk.py)."""
    if uefi:
        return
    mounts = {r.mountpoint for r in requests} | layout.mounts()
    boot = "/boot" if "/boot" in mounts else "/"
    where = f"{boot} (the boot file system)"
    if any(lv.request.mountpoint == boot for g in layout.groups for lv in g.volumes):
        raise InstallFailed("kickstart", f"{where}: bootable partitions cannot be on a logical "
                            "volume (anaconda 13)")
    array = next((a for a in layout.arrays if a.request and a.request.mountpoint == boot), None)
    if array is not None and array.level != "1":
        raise InstallFailed("kickstart", f"{where}: bootable partitions can only be on RAID1 "
                            f"devices, not RAID{array.level} (anaconda 13)")
    fstype = next((r.fstype for r in requests if r.mountpoint == boot),
                  array.request.fstype if array and array.request else "ext4")
    if fstype not in ("ext2", "ext3", "ext4"):
        raise InstallFailed("kickstart", f"{where}: bootable partitions cannot be on a {fstype} "
                            "file system (anaconda 13)")


def lv_extents(group: VolumeGroup, *, extents: int, extent_mib: float) -> list[int]:
    """Extents of each logical volume of ``group`` in a group of ``extents`` free extents:
    fixed sizes and --percent first, then --grow shares the rest in proportion to the
    base sizes, up to --maxsize (as anaconda grows them)."""
    def to_ext(mb: float) -> int:
        return int(mb // extent_mib)

    base = [to_ext(extents * extent_mib * lv.percent / 100) if lv.percent else to_ext(lv.size_mb)
            for lv in group.volumes]
    if sum(base) > extents:
        detail = ", ".join(f"{lv.name} {b * extent_mib:.0f} MB"
                           for lv, b in zip(group.volumes, base, strict=True))
        raise InstallFailed("disk", f"volume group {group.name} is too small: "
                            f"{extents * extent_mib:.0f} MB for {detail}")
    sizes = list(base)
    free = extents - sum(base)
    growers = [i for i, lv in enumerate(group.volumes) if lv.grow]
    while free > 0 and growers:
        weights = [max(base[i], 1) for i in growers]
        total = sum(weights)
        given = 0
        still = []
        for i, weight in zip(growers, weights, strict=True):
            share = min(max(1, free * weight // total), free - given)
            cap = group.volumes[i].max_mb
            if cap is not None:
                share = min(share, max(to_ext(cap) - sizes[i], 0))
            sizes[i] += share
            given += share
            if cap is None or sizes[i] < to_ext(cap):
                still.append(i)
        if given == 0:
            break
        free -= given
        growers = still
    return sizes


def _wait_for(device: str) -> None:
    deadline = time.monotonic() + 10
    while not Path(device).exists():
        if time.monotonic() > deadline:
            raise InstallFailed("disk", f"{device} did not appear")
        time.sleep(0.1)


def _lvm(*args: str) -> str:
    # Stage 2's /etc is read-only: lvm's backups and cache go to a writable place.
    os.environ.setdefault("LVM_SYSTEM_DIR", "/tmp/lvm")
    os.environ["LVM_SUPPRESS_FD_WARNINGS"] = "1"
    Path(os.environ["LVM_SYSTEM_DIR"]).mkdir(parents=True, exist_ok=True)
    return run([LVM, *args, "--config", LVM_CONFIG], klass="disk")


def create(layout: Layout, devices: dict[str, str]) -> list[tuple[PartRequest, str]]:
    """Build the arrays and volume groups on ``devices`` (raid.NN/pv.NN → partition) and
    make their file systems; return (request, device) of every file system made."""
    made: list[tuple[PartRequest, str]] = []
    containers = dict(devices)
    for array in layout.arrays:
        members = [containers[m] for m in array.members]
        run([MDADM, "--create", array.device, "--run", "--assume-clean", "--metadata", METADATA,
             "--level", array.level, "--raid-devices", str(len(members) - array.spares),
             *(["--spare-devices", str(array.spares)] if array.spares else []), *members],
            klass="disk", input="y\n")  # never wait on a question
        _wait_for(array.device)
        if array.request is None:
            containers[array.name] = array.device
        else:
            make_filesystem(array.device, array.request)
            made.append((array.request, array.device))
    for group in layout.groups:
        pvs = [containers[p] for p in group.pvs]
        for pv in pvs:
            _lvm("pvcreate", "-ff", "-y", pv)
        _lvm("vgcreate", "-y", "-s", f"{group.pesize_kib}k", group.name, *pvs)
        fields = _lvm("vgs", "--noheadings", "--nosuffix", "--units", "m",
                      "-o", "vg_extent_size,vg_free_count", group.name).split()
        extent_mib, extents = float(fields[0]), int(fields[1])
        for lv, count in zip(group.volumes, lv_extents(group, extents=extents,
                                                       extent_mib=extent_mib), strict=True):
            _lvm("lvcreate", "-y", "-Zn", "-Wn", "-l", str(count), "-n", lv.name, group.name)
            device = f"/dev/mapper/{group.name.replace('-', '--')}-{lv.name.replace('-', '--')}"
            _wait_for(device)
            make_filesystem(device, lv.request)
            made.append((lv.request, device))
    return made


def write_mdadm_conf(root: Path) -> None:
    """/etc/mdadm.conf of the installed system, as anaconda writes it."""
    arrays = run([MDADM, "--detail", "--scan"], klass="disk")
    if arrays.strip():
        (root / "etc").mkdir(parents=True, exist_ok=True)
        (root / "etc/mdadm.conf").write_text("# mdadm.conf written by the buildiso sample "
                                             f"installer\nMAILADDR root\n{arrays}")


def stop_all() -> None:
    """Deactivate volume groups and stop arrays (before the reboot), best effort."""
    import subprocess

    if "LVM_SYSTEM_DIR" in os.environ:  # only when _lvm made volume groups
        subprocess.run([LVM, "vgchange", "-an", "--config", LVM_CONFIG], capture_output=True,
                       check=False)
    subprocess.run([MDADM, "--stop", "--scan"], capture_output=True, check=False)
