"""Partitioning like anaconda (RHEL 6): msdos label on BIOS, GPT on UEFI, sizes in MB.

``plan`` is pure (sizes, order, --grow, the disk-size check) for one disk; ``apply`` runs
sfdisk, mke2fs (lazy init: the VM disks are large sparse files), mkswap and mkfs.fat.
Partitions named ``raid.*`` and ``pv.*`` are RAID members and LVM physical volumes:
partitioned here, assembled by storage.py.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InstallFailed
from .kstable import unsupported

MIB = 1024 * 1024
ALIGN_MIB = 1  # first partition at 1 MiB, like anaconda/parted
GPT_TAIL_MIB = 1  # backup GPT at the end of the disk
GPT_TYPES = {
    "linux": "0FC63DAF-8483-4772-8E79-3D69D8477DE4",
    "swap": "0657FD6D-A4AB-43C4-84E5-0933C84B4F4F",
    "efi": "C12A7328-F81F-11D2-BA4B-00A0C93EC93B",
    "raid": "A19D880F-05FC-4D3B-A006-743F0F84911E",
    "lvmpv": "E6D6D379-F507-44C2-A23C-238F2A3DF928",
}
MBR_TYPES = {"linux": "83", "swap": "82", "efi": "ef", "raid": "fd", "lvmpv": "8e"}
FSTYPES = ("ext4", "ext3", "ext2", "swap", "efi", "vfat")
# Not file systems: members of an array / volume group, made by storage.py.
CONTAINER_TYPES = ("raid", "lvmpv")
MAX_SWAP_DISK_RATIO = 0.1  # iutil.py


@dataclass(frozen=True)
class PartRequest:
    mountpoint: str  # "/", "/var", "swap", "/boot/efi"
    size_mb: int
    grow: bool
    max_mb: int | None
    fstype: str
    label: str | None = None
    lineno: int = 0
    disk: str = ""  # part --ondisk (a name such as vdb), "" for the first target disk
    fsoptions: str = ""  # --fsoptions: mount options, fstab's 4th column ("" = defaults)
    fsprofile: str = ""  # --fsprofile: mke2fs -T
    primary: bool = False  # --asprimary
    order: int = 0  # where its line came in the kickstart (kickstart.py numbers them)

    @property
    def is_container(self) -> bool:
        return self.fstype in CONTAINER_TYPES


@dataclass(frozen=True)
class PlannedPart:
    request: PartRequest
    size_mib: int
    number: int  # partition number (logical ones from 5 on msdos)


def recommended_swap_mb(meminfo: str, *, hibernation: bool = False,
                        disk_space_mb: int | None = None) -> int:
    """iutil.swapSuggestion: the RAM in MB rounded up to the next 16, the installation
    guide's table, plus the RAM for hibernation (up to 64 GB of RAM); without hibernation
    at most 10 % of the disk space."""
    kib = next((int(line.split()[1]) for line in meminfo.splitlines()
                if line.startswith("MemTotal:")), 2 * 1024 * 1024)
    ram = (kib // 1024 // 16 + 1) * 16
    if ram < 2048:
        swap = 2 * ram
    elif ram < 8192:
        swap = ram
    elif ram < 65536:
        swap = ram // 2
    else:
        swap = 4096
    if hibernation and ram <= 65536:
        swap += ram
    if disk_space_mb is not None and not hibernation:
        swap = min(swap, int(disk_space_mb * MAX_SWAP_DISK_RATIO))
    return swap


# /boot/efi's mount options, whatever --fsoptions says (kickstart.py PartitionData.execute)
EFI_FSOPTIONS = "defaults,uid=0,gid=0,umask=0077,shortname=winnt"


def _fstype_of(data: Any) -> str:
    mount = data.mountpoint
    if mount.startswith("raid."):
        return "raid"
    if mount.startswith("pv."):
        return "lvmpv"
    return (data.fstype or ("swap" if mount == "swap" else "ext4")).lower()


def requests_from_ks(partitions: list[Any], *, uefi: bool, meminfo: str = "",
                     disk_space_mb: int | None = None) -> list[PartRequest]:
    """PartRequests from pykickstart's partition data, checked like anaconda would."""
    result: list[PartRequest] = []
    seen: set[str] = set()
    for data in partitions:
        mount = data.mountpoint
        fstype = _fstype_of(data)
        where = f"part {mount} (line {data.lineno})"
        if mount == "biosboot":
            raise unsupported(f"part {mount}", f"line {data.lineno}",
                              "biosboot partitions are not carried out")
        if fstype not in FSTYPES + CONTAINER_TYPES:
            raise unsupported(f"part {mount} --fstype={fstype}", f"line {data.lineno}",
                              "the sample makes ext2/ext3/ext4, swap, vfat and efi only")
        if fstype == "efi" and not uefi:
            raise InstallFailed(
                "disk", f"{where}: an EFI system partition on a BIOS machine (anaconda refuses it)"
            )
        if mount != "swap" and mount in seen:
            raise InstallFailed("kickstart", f"{where}: mount point given twice")
        seen.add(mount)
        size = int(data.size or 0)
        max_mb = int(data.maxSizeMB) if data.maxSizeMB else None
        grow = bool(data.grow)
        if fstype == "swap" and (getattr(data, "recommended", False)
                                 or getattr(data, "hibernation", False)):
            # iutil.swapSuggestion gives (size, size) and the request grows up to it
            size = recommended_swap_mb(meminfo or _read_meminfo(),
                                       hibernation=bool(getattr(data, "hibernation", False)),
                                       disk_space_mb=disk_space_mb)
            max_mb, grow = size, True
        if not size:
            raise InstallFailed("kickstart", f"{where}: partition requires a size "
                                "specification (anaconda 13: --grow alone is not one)")
        options = EFI_FSOPTIONS if mount == "/boot/efi" else (getattr(data, "fsopts", "") or "")
        result.append(PartRequest(
            mountpoint=mount,
            size_mb=size,
            grow=grow,
            max_mb=max_mb,
            fstype=fstype,
            label=data.label or None,
            lineno=int(data.lineno or 0),
            disk=(getattr(data, "disk", "") or "").removeprefix("/dev/"),
            fsoptions=options,
            fsprofile=getattr(data, "fsprofile", "") or "",
            primary=bool(getattr(data, "primOnly", False)),
            order=int(getattr(data, "sample_order", 0) or 0),
        ))
    if uefi and not any(r.fstype == "efi" for r in result):
        raise InstallFailed(
            "kickstart", "UEFI machine but no 'part /boot/efi --fstype=efi' in the kickstart"
        )
    return result


def _read_meminfo() -> str:
    try:
        return Path("/proc/meminfo").read_text()
    except OSError:
        return ""


def _order_key(request: PartRequest) -> tuple[int, str]:
    # anaconda puts the ESP and /boot first; the rest keep the kickstart's order.
    if request.fstype == "efi":
        return (0, "")
    if request.mountpoint == "/boot":
        return (1, "")
    return (2, "")


def plan(requests: list[PartRequest], *, disk_mib: int, gpt: bool, disk: str) -> list[PlannedPart]:
    """Sizes in MiB for each request; too small a disk raises InstallFailed('disk')."""
    ordered = sorted(requests, key=_order_key)  # stable: kickstart order within a class
    logical = (not gpt) and len(ordered) > 4
    if logical:
        ordered = _primaries_first(ordered, disk=disk)
    # Each logical partition needs 1 MiB in front of it for its EBR (aligned).
    overhead = ALIGN_MIB + (GPT_TAIL_MIB if gpt else 0) + (len(ordered) - 3 if logical else 0)
    fixed = sum(r.size_mb for r in ordered)
    usable = disk_mib - overhead
    if fixed > usable:
        detail = ", ".join(f"{r.mountpoint} {r.size_mb} MB" for r in ordered)
        raise InstallFailed(
            "disk",
            f"disk {disk} is too small: {disk_mib} MB, the kickstart's partitions need "
            f"{fixed + overhead} MB ({detail})",
        )
    sizes = {id(r): r.size_mb for r in ordered}
    growers = [r for r in ordered if r.grow]
    free = usable - fixed
    # anaconda grows the requests in proportion to their base size, up to --maxsize.
    while free > 0 and growers:
        total_base = sum(r.size_mb for r in growers)
        given = 0
        still: list[PartRequest] = []
        for r in growers:
            share = max(1, free * r.size_mb // total_base)
            if r.max_mb is not None:
                share = min(share, r.max_mb - sizes[id(r)])
            share = min(share, free - given)
            sizes[id(r)] += share
            given += share
            if r.max_mb is None or sizes[id(r)] < r.max_mb:
                still.append(r)
        if given == 0:
            break
        free -= given
        growers = still
    planned: list[PlannedPart] = []
    for index, r in enumerate(ordered):
        number = index + 1 if not logical or index < 3 else index + 2
        planned.append(PlannedPart(r, sizes[id(r)], number))
    return planned


def _primaries_first(ordered: list[PartRequest], *, disk: str) -> list[PartRequest]:
    """msdos with an extended partition: three primary slots, --asprimary requests first
    (anaconda's allocation fails when they do not fit: "Unable to allocate requested
    partition scheme")."""
    wanted = [r for r in ordered if r.primary]
    if len(wanted) > 3:
        lines = ", ".join(str(r.lineno) for r in wanted)
        raise InstallFailed("disk", f"disk {disk}: {len(wanted)} partitions --asprimary (lines "
                            f"{lines}) but an msdos label with {len(ordered)} partitions has 3 "
                            "primary slots: unable to allocate requested partition scheme")
    others = [i for i, r in enumerate(ordered) if not r.primary]
    head = sorted([i for i, r in enumerate(ordered) if r.primary] + others[:3 - len(wanted)])
    return [ordered[i] for i in head] + [r for i, r in enumerate(ordered) if i not in head]


def sfdisk_script(parts: list[PlannedPart], *, gpt: bool, boot_mount: str) -> str:
    """The sfdisk input for ``parts`` (starts left to sfdisk, which aligns to 1 MiB)."""
    lines = ["label: gpt" if gpt else "label: dos", "unit: sectors", ""]
    logical = (not gpt) and len(parts) > 4
    for index, part in enumerate(parts):
        kind = {"swap": "swap", "efi": "efi", "raid": "raid", "lvmpv": "lvmpv"}.get(
            part.request.fstype, "linux")
        ptype = GPT_TYPES[kind] if gpt else MBR_TYPES[kind]
        if logical and index == 3:
            lines.append("type=5")  # extended partition over the rest of the disk
        attrs = ""
        if not gpt and part.request.mountpoint == boot_mount:
            attrs = ", bootable"
        lines.append(f"size={part.size_mib}MiB, type={ptype}{attrs}")
    return "\n".join(lines) + "\n"


def partition_device(disk: str, number: int) -> str:
    """/dev/vda + 1 → /dev/vda1; /dev/nvme0n1 + 1 → /dev/nvme0n1p1."""
    return f"{disk}p{number}" if disk[-1].isdigit() else f"{disk}{number}"


def run(cmd: list[str], *, klass: str, input: str | None = None) -> str:
    """Run a tool of stage 2; a failure stops the install with its stderr."""
    try:
        proc = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False)
    except OSError as exc:
        raise InstallFailed(klass, f"{cmd[0]}: {exc}") from exc
    if proc.returncode != 0:
        tail = " ".join((proc.stderr or proc.stdout).strip().splitlines()[-3:])
        raise InstallFailed(klass, f"{' '.join(cmd[:3])} failed ({proc.returncode}): {tail}")
    return proc.stdout


def disk_size_mib(disk: str) -> int:
    name = Path(disk).name
    sectors = int(Path(f"/sys/block/{name}/size").read_text())
    return sectors * 512 // MIB


def make_filesystem(device: str, request: PartRequest) -> None:
    profile = ["-T", request.fsprofile] if request.fsprofile else []
    if request.fstype == "swap":
        run(["/sbin/mkswap", *(["-L", request.label] if request.label else []), device],
            klass="disk")
    elif request.fstype in ("efi", "vfat"):
        run(["/sbin/mkfs.fat", *(["-n", request.label] if request.label else []), device],
            klass="disk")
    else:
        run(["/sbin/mke2fs", "-q", "-F", "-t", request.fstype, *profile,
             "-E", "lazy_itable_init=1,lazy_journal_init=1",
             *(["-L", request.label] if request.label else []), device], klass="disk")


def device_key(part: PlannedPart) -> str:
    """The key of ``apply``'s result: the mount point, raid.NN/pv.NN, or swapN."""
    request = part.request
    return request.mountpoint if request.fstype != "swap" else f"swap{part.number}"


def apply(parts: list[PlannedPart], *, disk: str, gpt: bool) -> dict[str, str]:
    """Write the label and partitions, make the file systems; return device_key → device."""
    boot_mount = "/boot" if any(p.request.mountpoint == "/boot" for p in parts) else "/"
    run(["/sbin/wipefs", "-a", "-q", disk], klass="disk")
    run(["/sbin/sfdisk", "-q", "--wipe", "always", disk],
        input=sfdisk_script(parts, gpt=gpt, boot_mount=boot_mount), klass="disk")
    devices: dict[str, str] = {}
    for part in parts:
        device = partition_device(disk, part.number)
        deadline = time.monotonic() + 10
        while not Path(device).exists():
            if time.monotonic() > deadline:
                raise InstallFailed("disk", f"{device} did not appear after partitioning {disk}")
            time.sleep(0.1)
        if not part.request.is_container:
            make_filesystem(device, part.request)
        devices[device_key(part)] = device
    return devices
