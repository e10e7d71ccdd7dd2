"""Mounting the new system under /mnt/sysimage, its /etc/fstab, and unmounting it all."""

from __future__ import annotations

import subprocess
from pathlib import Path

from .disk import PartRequest, run
from .errors import InstallFailed

SYSIMAGE = Path("/mnt/sysimage")


def blkid_uuid(device: str) -> str:
    uuid = run(["/sbin/blkid", "-s", "UUID", "-o", "value", device], klass="disk").strip()
    if not uuid:
        raise InstallFailed("disk", f"{device} has no file system UUID after formatting")
    return uuid


FSTAB_LINE = "{:<23} {:<23} {:<7} {:<15} {} {}"  # storage/__init__.py FSSet.fstab


def fstab_spec(uuid: str, device: str) -> str:
    """A logical volume by its /dev/mapper path (its fstabSpec), anything else by UUID."""
    return device if device.startswith("/dev/mapper/") else f"UUID={uuid}"


def fstab(entries: list[tuple[PartRequest, str, str]]) -> str:
    """/etc/fstab as anaconda writes it (FSSet.fstab): file systems by mount point, then
    swap, then the kernel file systems; the options are --fsoptions or "defaults".
    ``entries``: (request, UUID, device)."""
    lines = ["", "#", "# /etc/fstab", "# Created by anaconda (buildiso sample installer)", "#"]
    mounted = sorted((e for e in entries if e[0].fstype != "swap"), key=lambda e: e[0].mountpoint)
    swaps = [e for e in entries if e[0].fstype == "swap"]
    for request, uuid, device in [*mounted, *swaps]:
        options = request.fsoptions or "defaults"
        if request.fstype == "swap":
            line = FSTAB_LINE.format(fstab_spec(uuid, device), "swap", "swap", options, 0, 0)
        elif request.fstype in ("efi", "vfat"):
            line = FSTAB_LINE.format(fstab_spec(uuid, device), request.mountpoint, "vfat",
                                     options, 0, 0)
        else:
            passno = 1 if request.mountpoint == "/" else 2
            line = FSTAB_LINE.format(fstab_spec(uuid, device), request.mountpoint,
                                     request.fstype, options, 1, passno)
        lines.append(line.rstrip())
    lines += [
        FSTAB_LINE.format("tmpfs", "/dev/shm", "tmpfs", "defaults", 0, 0),
        FSTAB_LINE.format("devpts", "/dev/pts", "devpts", "gid=5,mode=620", 0, 0),
        FSTAB_LINE.format("sysfs", "/sys", "sysfs", "defaults", 0, 0),
        FSTAB_LINE.format("proc", "/proc", "proc", "defaults", 0, 0),
    ]
    return "\n".join(lines) + "\n"


class Mounts:
    """Everything mounted under /mnt/sysimage, unmounted in reverse order."""

    def __init__(self, root: Path = SYSIMAGE) -> None:
        self.root = root
        self.mounted: list[Path] = []

    def mount(self, device: str, mountpoint: str, fstype: str, *, options: str = "") -> None:
        target = self.root / mountpoint.lstrip("/")
        target.mkdir(parents=True, exist_ok=True)
        cmd = ["/bin/mount", "-t", fstype, *(["-o", options] if options else []), device,
               str(target)]
        run(cmd, klass="disk")
        self.mounted.append(target)

    def mount_filesystems(self, devices: list[tuple[PartRequest, str]]) -> None:
        """Mounted by mount point with their --fsoptions (a noauto one not at all), as
        FSSet.mountFilesystems does during the install."""
        for request, device in sorted(devices, key=lambda d: d[0].mountpoint):
            options = [o for o in request.fsoptions.split(",") if o and o != "defaults"]
            if request.fstype == "swap" or "noauto" in options:
                continue
            fstype = "vfat" if request.fstype == "efi" else request.fstype
            self.mount(device, request.mountpoint, fstype, options=",".join(options))

    def bind_kernel_filesystems(self) -> None:
        for source, where, fstype in (("/dev", "dev", ""), ("proc", "proc", "proc"),
                                      ("sysfs", "sys", "sysfs")):
            if fstype:
                self.mount(source, where, fstype)
            else:
                target = self.root / where
                target.mkdir(parents=True, exist_ok=True)
                run(["/bin/mount", "-o", "bind", source, str(target)], klass="disk")
                self.mounted.append(target)

    def unmount_all(self) -> None:
        subprocess.run(["/bin/sync"], check=False)
        for target in reversed(self.mounted):
            subprocess.run(["/bin/umount", str(target)], check=False, capture_output=True)
        self.mounted.clear()
