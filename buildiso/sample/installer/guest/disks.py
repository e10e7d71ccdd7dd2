"""Which disks the install uses, and the partition plan of each (anaconda, RHEL 6).

The disks: those the kickstart names (``part --ondisk``, ``clearpart --drives``), in
``bootloader --driveorder`` order, else the machine's first disk; never the install
media, never one ``ignoredisk`` excludes. Each must be cleared by the kickstart
(``clearpart --all``): the sample installer only installs onto emptied disks.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pykickstart.constants import CLEARPART_TYPE_ALL

from . import disk, media, storage
from .errors import InstallFailed
from .kstable import unsupported

PV_METADATA_MIB = 1  # LVM label and metadata area at the start of each PV
DEV = Path("/dev")
SYS_BLOCK = Path("/sys/block")


def _names(values: list[str] | None) -> list[str]:
    return [v.removeprefix("/dev/") for v in values or [] if v]


def usable_disks(handler: Any, media_info: media.Media) -> list[str]:
    """The machine's disks the install may see: not the media, not ignored (names)."""
    h = handler
    media_disk = media.whole_disk(media_info.device) if media_info.device else ""
    only_use = _names(h.ignoredisk.onlyuse)
    exclude = {media_disk} | set(_names(h.ignoredisk.ignoredisk))
    names = [Path(d).name for d in media.candidate_disks(exclude)]
    return [d for d in names if not only_use or d in only_use]


def space_mb(handler: Any, media_info: media.Media) -> int:
    """The disk space anaconda's swap suggestion is capped against (kickstart.py
    PartitionData.execute): every disk, or those clearpart --drives names."""
    drives = _names(handler.clearpart.drives)
    return sum(disk.disk_size_mib(f"/dev/{d}") for d in usable_disks(handler, media_info)
               if not drives or d in drives)


def target_disks(handler: Any, media_info: media.Media, *, every_disk: bool = False,
                 say: Any = None) -> list[str]:
    """The disks to install to, boot disk first, checked against ignoredisk/clearpart.
    ``every_disk`` (autopart): all usable disks rather than the first, unless named."""
    h = handler
    media_disk = media.whole_disk(media_info.device) if media_info.device else ""
    only_use = _names(h.ignoredisk.onlyuse)
    ignored = set(_names(h.ignoredisk.ignoredisk))
    named: list[str] = []
    for name in [p.disk for p in h.partition.partitions if p.disk] + list(h.clearpart.drives
                                                                             or []):
        name = name.removeprefix("/dev/")
        if name not in named:
            named.append(name)
    if named:
        wanted = named
    else:
        candidates = usable_disks(h, media_info)
        wanted = candidates if every_disk else candidates[:1]
    order = _names(h.bootloader.driveorder)
    for name in order:
        if say is not None and not (DEV / name).exists():
            say(f"Warning: requested drive {name} in boot drive order doesn't exist "
                "(bootloader --driveorder; anaconda only logs it)")
    wanted = sorted(wanted, key=lambda d: order.index(d) if d in order else len(order))
    for name in wanted:
        if name in ignored or (only_use and name not in only_use):
            raise InstallFailed("kickstart", f"disk {name} is named by the kickstart but "
                                "excluded by its ignoredisk line")
        if name == media_disk:
            raise InstallFailed("disk", f"disk {name} holds the install media")
        if not (DEV / name).exists():
            raise InstallFailed("disk", f"disk {name} named by the kickstart does not exist")
    if not wanted:
        raise InstallFailed("disk", "no disk to install to (the install media excluded)")
    for name in wanted:
        _check_cleared(h, name)
    return [f"/dev/{name}" for name in wanted]


def _check_cleared(h: Any, name: str) -> None:
    # The sample installer always empties the disk: a disk without partitions is carried
    # out whatever clearpart says (--linux, --none, or no clearpart); one with partitions
    # only when clearpart --all clears it. Anything else would keep data: refused.
    has_parts = any(p.name.startswith(name) for p in (SYS_BLOCK / name).iterdir())
    drives = _names(h.clearpart.drives)
    cleared = h.clearpart.type == CLEARPART_TYPE_ALL and (not drives or name in drives)
    if has_parts and not cleared:
        where = f"line {h.clearpart.lineno}" if h.clearpart.seen else "the kickstart"
        raise unsupported(f"clearpart (keeping the partitions of /dev/{name})", where,
                          "the sample installs onto emptied disks only: clearpart --all")


def plan_all(requests: list[disk.PartRequest], targets: list[str], *,
             gpt: bool) -> dict[str, list[disk.PlannedPart]]:
    """The partition plan of each target disk (requests without --ondisk: the first)."""
    by_disk: dict[str, list[disk.PartRequest]] = {t: [] for t in targets}
    for request in requests:
        target = f"/dev/{request.disk}" if request.disk else targets[0]
        if target not in by_disk:
            raise InstallFailed("kickstart", f"part {request.mountpoint} (line "
                                f"{request.lineno}): --ondisk={request.disk} is not a disk "
                                "the install uses")
        by_disk[target].append(request)
    return {target: disk.plan(reqs, disk_mib=disk.disk_size_mib(target), gpt=gpt, disk=target)
            for target, reqs in by_disk.items() if reqs}


def check_group_fits(group: storage.VolumeGroup, layout: storage.Layout,
                     planned: dict[str, list[disk.PlannedPart]]) -> None:
    """Raise InstallFailed('disk') if the group's planned PVs cannot hold its volumes."""
    sizes = {p.request.mountpoint: p.size_mib for parts in planned.values() for p in parts}
    for array in layout.arrays:
        if array.request is None:
            smallest = min(sizes[m] for m in array.members)
            active = len(array.members) - array.spares
            sizes[array.name] = smallest * storage.data_members(array.level, active)
    extent_mib = group.pesize_kib / 1024
    extents = sum(int((sizes[pv] - PV_METADATA_MIB) // extent_mib) for pv in group.pvs)
    storage.lv_extents(group, extents=extents, extent_mib=extent_mib)
