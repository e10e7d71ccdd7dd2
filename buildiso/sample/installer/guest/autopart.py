"""``autopart``: RHEL 6's default layout, as anaconda 13 builds it.

installclass.py setDefaultPartitioning and platform.py (x86, EFI), scheduled by
storage/partitioning.py doAutoPartition: partitions /boot (500 MB, the platform's ext4) and,
on UEFI, /boot/efi (50 MB growing up to 200 MB); one LVM physical volume per disk filling
it; one volume group (storage createSuggestedVGName: vg_<short host name>, or VolGroup for
localhost) holding lv_root (/, 1 GB growing up to 50 GB), lv_home (/home, 100 MB growing,
only when the group holds 50 GB) and lv_swap (iutil.swapSuggestion against the disks' space).
The extent size is LVM's 4 MiB default. Sizes then grow as the sample grows every request
(disk.py, storage.py lv_extents).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from . import disk, storage
from .disk import PartRequest
from .kstable import unsupported

BOOT_MB = 500
EFI_MB, EFI_MAX_MB = 50, 200
ROOT_MB, ROOT_MAX_MB = 1024, 50 * 1024
HOME_MB, HOME_REQUIRED_MB = 100, 50 * 1024
PESIZE_KIB = 4096
LVM_MAX_NAME_LEN = 128


def check_alone(handler: Any) -> None:
    """autopart beside part/raid/volgroup/logvol lines is refused (not carried out)."""
    h = handler
    if h.autopart.autopart and (h.partition.partitions or h.raid.raidList or h.volgroup.vgList
                                or h.logvol.lvList):
        raise unsupported("autopart with part/raid/volgroup/logvol lines",
                          f"line {h.autopart.lineno}", "anaconda's outcome depends on "
                          "their order; the sample carries out one or the other")


def safe_lvm_name(name: str) -> str:
    """storage/devicelibs/lvm.py safeLvmName."""
    name = re.sub(r"[^0-9a-zA-Z._]", "", name.strip().replace("/", "_")).lstrip("_")
    return name[:LVM_MAX_NAME_LEN]


def vg_name(hostname: str) -> str:
    if not hostname or hostname in ("localhost", "localhost.localdomain"):
        return "VolGroup"
    return safe_lvm_name("vg_" + hostname.split(".")[0].lower())


def layout(handler: Any, targets: list[str], *, uefi: bool, hostname: str,
           meminfo: str = "", sizes_mb: dict[str, int] | None = None,
           ) -> tuple[list[PartRequest], storage.Layout]:
    """The partition requests and the volume group of ``autopart`` on ``targets``."""
    line = int(handler.autopart.lineno or 0)
    sizes = sizes_mb if sizes_mb is not None else {
        t: disk.disk_size_mib(t) for t in targets}
    first = Path(targets[0]).name
    requests = [PartRequest("/boot", BOOT_MB, False, None, "ext4", lineno=line, disk=first)]
    if uefi:
        requests.append(PartRequest("/boot/efi", EFI_MB, True, EFI_MAX_MB, "efi", lineno=line,
                                    disk=first, fsoptions=disk.EFI_FSOPTIONS))
    pvs = []
    for index, target in enumerate(targets):
        name = f"pv.autopart{index:02d}"
        pvs.append(name)
        requests.append(PartRequest(name, 1, True, None, "lvmpv", lineno=line,
                                    disk=Path(target).name))
    fixed = sum(r.size_mb for r in requests if r.fstype != "lvmpv")
    group_mb = sum(sizes.values()) - fixed
    swap = disk.recommended_swap_mb(meminfo or _meminfo(), disk_space_mb=sum(sizes.values()))
    volumes = [storage.LogicalVolume("lv_root", ROOT_MB, True, ROOT_MAX_MB, 0,
                                     PartRequest("/", ROOT_MB, True, ROOT_MAX_MB, "ext4",
                                                 lineno=line))]
    if group_mb >= HOME_REQUIRED_MB:  # requiredSpace against the new group's size
        volumes.append(storage.LogicalVolume("lv_home", HOME_MB, True, None, 0,
                                             PartRequest("/home", HOME_MB, True, None, "ext4",
                                                         lineno=line)))
    volumes.append(storage.LogicalVolume("lv_swap", swap, True, swap, 0,
                                         PartRequest("swap", swap, True, swap, "swap",
                                                     lineno=line)))
    group = storage.VolumeGroup(vg_name(hostname), tuple(pvs), PESIZE_KIB, tuple(volumes), line)
    return requests, storage.Layout(groups=[group])


def _meminfo() -> str:
    try:
        return Path("/proc/meminfo").read_text()
    except OSError:
        return ""
