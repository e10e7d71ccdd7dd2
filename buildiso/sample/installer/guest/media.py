"""What stage 1 found (the boot line's media), the kickstart file, and the disks.

Devices named by label or UUID are found with util-linux's blkid, as in RHEL 6's stage 2
(no findfs there: scripts/upd-instroot keeps sbin/blkid, not findfs).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from .cmdline import Location
from .errors import InstallFailed

MEDIA_FILE = Path("/run/buildiso-media")
BLKID = "/sbin/blkid"
KS_COPY = Path("/tmp/ks.cfg")


@dataclass(frozen=True)
class Media:
    method: str
    device: str
    tree_path: str
    ks: str


def read_media_file(path: Path = MEDIA_FILE) -> Media:
    values: dict[str, str] = {}
    for line in path.read_text().splitlines():
        key, _, value = line.partition("=")
        values[key] = value
    return Media(values.get("METHOD", ""), values.get("DEVICE", ""),
                 values.get("TREE_PATH", "/"), values.get("KS", ""))


def find_device(spec: str, *, wait: float = 15.0) -> str:
    """/dev path of sdb1, /dev/sdb1, LABEL=…, UUID=… (waits for late USB devices)."""
    deadline = time.monotonic() + wait
    while True:
        if spec.startswith(("LABEL=", "UUID=")):
            proc = subprocess.run([BLKID, "-c", "/dev/null", "-l", "-o", "device", "-t", spec],
                                  capture_output=True, text=True, check=False)
            device = proc.stdout.strip()
        else:
            device = spec if spec.startswith("/dev/") else f"/dev/{spec}"
        if device and Path(device).exists():
            return device
        if time.monotonic() > deadline:
            raise InstallFailed("media", f"device {spec} not found")
        time.sleep(0.25)


def _copy_from_device(device: str, path: str) -> bool:
    mnt = Path("/tmp/ks-mnt")
    mnt.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(["/bin/mount", "-o", "ro", device, str(mnt)], capture_output=True,
                          check=False)
    if proc.returncode != 0:
        return False
    try:
        source = mnt / path.lstrip("/")
        if not source.is_file():
            return False
        shutil.copyfile(source, KS_COPY)
        return True
    finally:
        subprocess.run(["/bin/umount", str(mnt)], capture_output=True, check=False)


def fetch_kickstart(location: Location) -> Path:
    """Copy the kickstart to /tmp/ks.cfg (where anaconda keeps it) and return that path."""
    if location.method == "file":
        if not Path(location.path).is_file():
            raise InstallFailed("kickstart", f"kickstart file {location.path} not found")
        shutil.copyfile(location.path, KS_COPY)
        return KS_COPY
    if location.method == "cdrom":
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            for device in sorted(str(p) for p in Path("/dev").glob("sr[0-9]*")):
                if _copy_from_device(device, location.path):
                    return KS_COPY
            time.sleep(0.5)
        raise InstallFailed("kickstart", f"no CD-ROM holds the kickstart {location.path}")
    assert location.device is not None
    try:
        device = find_device(location.device)
    except InstallFailed as exc:
        raise InstallFailed(
            "kickstart", f"kickstart device {location.device} not found (ks=hd:…)"
        ) from exc
    if not _copy_from_device(device, location.path):
        raise InstallFailed("kickstart", f"kickstart {location.path} not found on {device} "
                            f"({location.device})")
    return KS_COPY


def whole_disk(device: str) -> str:
    """/dev/sda1 → sda; /dev/sr0 → sr0 (the block device a partition lives on)."""
    name = Path(device).name
    sys_path = Path("/sys/class/block") / name
    if (sys_path / "partition").exists():
        return sys_path.resolve().parent.name
    return name


def candidate_disks(exclude: set[str]) -> list[str]:
    """Disks the install may use, in name order (virtio, SATA/SCSI, NVMe)."""
    disks: list[str] = []
    for entry in sorted(Path("/sys/block").iterdir()):
        name = entry.name
        if not name.startswith(("vd", "sd", "hd", "nvme", "xvd")) or name in exclude:
            continue
        try:
            if int((entry / "size").read_text()) == 0:
                continue
        except (OSError, ValueError):
            continue
        disks.append(f"/dev/{name}")
    return disks
