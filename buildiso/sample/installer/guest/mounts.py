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


def fstab(entries: list[tuple[PartRequest, str]]) -> str:
    """/etc/fstab as anaconda writes it: UUID= specs, / first, then the kernel file systems."""
    lines = ["#", "# /etc/fstab", "# Created by anaconda (buildiso sample installer)", "#"]
    ordered = sorted(entries, key=lambda e: (e[0].fstype == "swap", e[0].mountpoint.count("/"),
                                             e[0].mountpoint))
    for request, uuid in ordered:
        if request.fstype == "swap":
            lines.append(f"UUID={uuid} swap                    swap    defaults        0 0")
            continue
        fstype = "vfat" if request.fstype == "efi" else request.fstype
        options = "umask=0077,shortname=winnt" if fstype == "vfat" else "defaults"
        passno = 1 if request.mountpoint == "/" else 2
        lines.append(f"UUID={uuid} {request.mountpoint:<23} {fstype:<7} {options:<15} 1 {passno}"
                     if fstype != "vfat" else
                     f"UUID={uuid} {request.mountpoint:<23} {fstype:<7} {options} 0 0")
    lines += [
        "tmpfs                   /dev/shm                tmpfs   defaults        0 0",
        "devpts                  /dev/pts                devpts  gid=5,mode=620  0 0",
        "sysfs                   /sys                    sysfs   defaults        0 0",
        "proc                    /proc                   proc    defaults        0 0",
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
        for request, device in sorted(devices, key=lambda d: d[0].mountpoint.count("/")
                                      if d[0].mountpoint != "/" else -1):
            if request.fstype == "swap":
                continue
            fstype = "vfat" if request.fstype == "efi" else request.fstype
            self.mount(device, request.mountpoint, fstype)

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
