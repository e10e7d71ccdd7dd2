"""The installed system's storage against the profile's disk layout (post-install report).

The report's ``filesystems`` give each mount's device (from ``df``) and ``arrays`` each
software RAID array's state (from /sys/block/mdN/md). Per layout:
- ``plain``: / and /var on partitions (neither an array nor a device-mapper volume);
- ``lvm``: / and /var on logical volumes (/dev/mapper/VG-LV or /dev/dm-N), /boot apart;
- ``raid1``: / and /var on RAID arrays, and every array RAID 1 over two disks, clean:
  no member missing (degraded 0) and no resync running (sync_action idle).
On UEFI machines the report has /boot/efi too: in every layout a plain partition, as the
firmware reads the EFI system partition itself and knows no arrays or volumes.
Sizes are checked by postreport's filesystem-size checks.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from buildiso.render.profile import DiskLayout, Profile


def device_kind(device: str) -> str:
    """'md' (RAID array), 'lvm' (device-mapper volume) or 'partition'."""
    name = device.removeprefix("/dev/")
    if name.startswith(("md", "md/")):
        return "md"
    if name.startswith(("mapper/", "dm-")) or name.count("/") == 1:  # /dev/VG/LV
        return "lvm"
    return "partition"


ESP = "/boot/efi"
_WANTED = {DiskLayout.PLAIN: "partition", DiskLayout.LVM: "lvm", DiskLayout.RAID1: "md"}


def layout_problems(report: Mapping[str, Any], profile: Profile) -> tuple[list[str], str]:
    """(problems, what was found when there are none) for the profile's layout."""
    want = _WANTED[profile.disk_layout]
    fs = report.get("filesystems")
    fs = fs if isinstance(fs, dict) else {}
    problems: list[str] = []
    found: list[str] = []
    for part in profile.partitions:
        if part.mount == "swap":
            continue
        entry = fs.get(part.mount)
        device = entry.get("device") if isinstance(entry, dict) else None
        if not isinstance(device, str) or not device:
            problems.append(f"no device reported for {part.mount}")
            continue
        kind = device_kind(device)
        found.append(f"{part.mount} on {device}")
        if kind != want:
            problems.append(
                f"{part.mount} is on {device} (a {kind}), the {profile.disk_layout.value} "
                f"layout puts it on a {want}"
            )
    esp = fs.get(ESP)
    esp_device = esp.get("device") if isinstance(esp, dict) else None
    if isinstance(esp_device, str) and esp_device:
        found.append(f"{ESP} on {esp_device}")
        esp_kind = device_kind(esp_device)
        if esp_kind != "partition":
            problems.append(
                f"{ESP} is on {esp_device} (a {esp_kind}): UEFI firmware reads "
                "the EFI system partition itself and needs a plain partition"
            )
    arrays = report.get("arrays")
    arrays = arrays if isinstance(arrays, dict) else {}
    if profile.disk_layout is DiskLayout.RAID1:
        if not arrays:
            problems.append("no RAID arrays reported")
        for name, state in sorted(arrays.items()):
            state = state if isinstance(state, dict) else {}
            if state.get("level") != "raid1" or state.get("raid_disks") != 2:
                problems.append(
                    f"{name} is {state.get('level')} over {state.get('raid_disks')} disks, "
                    "not RAID 1 over 2"
                )
            if state.get("degraded") != 0:
                problems.append(f"{name} is degraded ({state.get('degraded')} member(s) missing)")
            if state.get("sync_action") not in ("idle", None):
                problems.append(f"{name} is not clean (sync_action {state.get('sync_action')})")
        found.append(f"{len(arrays)} clean RAID 1 array(s)")
    elif arrays and profile.disk_layout is DiskLayout.PLAIN:
        problems.append(f"RAID arrays {', '.join(sorted(arrays))} in a plain layout")
    return problems, f"{profile.disk_layout.value} layout: {', '.join(found)}"
