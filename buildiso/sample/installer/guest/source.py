"""The install tree, mounted and unmounted where and when anaconda 13's yum backend does it.

- The method (``method_of``): the kickstart's ``cdrom``/``harddrive`` command when there is
  one (the loader reads it after the boot line, loader/kickstart.c runKickstart), else what
  stage 1 used (``repo=hd:…`` or the CD-ROM).
- ``setup`` (yuminstall.py AnacondaYum.configBaseURL, image.py): ``cdrom``: the first
  CD-ROM whose ``.discinfo`` is disc 1 of this arch, at /mnt/source. ``hd:DEV:/DIR``: DEV
  at /mnt/source, the tree in DIR when DIR holds ``repodata/repomd.xml``; else DEV at
  /mnt/isodir and the disc 1 ISO image found in DIR loop-mounted at /mnt/source.
- ``unmount_stage2`` (yuminstall.py YumBackend.doInstall): the loader's CD mount at
  /mnt/stage2 goes before the packages are installed.
- ``complete`` (installmethod.py doMethodComplete → yuminstall.py YumBackend.complete, run
  before %post by dispatch.py): /mnt/source is unmounted unless the media is a CD-ROM, so
  a ``%post --nochroot`` of an hd: install finds no media there (/mnt/isodir of an ISO
  image install stays mounted).
"""

from __future__ import annotations

import fcntl
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .disk import run
from .errors import InstallFailed
from .media import Media, find_device

SOURCE = Path("/mnt/source")
ISODIR = Path("/mnt/isodir")
STAGE2 = Path("/mnt/stage2")
CDIMAGE = Path("/mnt/cdimage")  # image.py findIsoImages' probe mount
ARCH = "x86_64"
PRODUCT_PATH = "Packages"  # RHEL 6's productPath: binary packages, not a source disc
CDROMEJECT = 0x5309  # linux/cdrom.h
ISO_MAGIC_OFFSET = 32769  # "CD001" of the primary volume descriptor (isys.isIsoImage)


@dataclass(frozen=True)
class Method:
    kind: str  # "cdrom" or "hd"
    device: str = ""  # hd: sdb1, /dev/sdb1, LABEL=…, UUID=…; cdrom: stage 1's drive
    path: str = "/"  # hd: the directory on the device
    line: int = 0  # the kickstart line that chose it (0: the boot line)


@dataclass
class Source:
    method: Method
    tree: Path  # where Packages/ and repodata/ are
    device: str  # the /dev node holding the media
    mounted: list[Path] = field(default_factory=list)

    @property
    def is_cdrom(self) -> bool:
        return self.method.kind == "cdrom"


def method_of(handler: Any, media: Media) -> Method:
    if handler.harddrive.seen:
        hd = handler.harddrive  # --biospart is refused by the table (kstable.py)
        return Method("hd", hd.partition or "", hd.dir or "/", int(hd.lineno or 0))
    if handler.cdrom.seen:
        return Method("cdrom", "", "/", int(handler.cdrom.lineno or 0))
    if media.method == "hd":
        return Method("hd", media.device, media.tree_path or "/")
    return Method("cdrom", media.device)


def media_device(method: Method, media: Media) -> str:
    """The device no disk is installed onto: the hd: partition the tree is read from, else
    the one stage 1 booted from (a CD, or a USB stick when the kickstart says cdrom)."""
    if method.kind == "hd":
        return find_device(method.device)
    return media.device


def disc_numbers(line: str) -> list[int]:
    """image.py getDiscNums: "1,2" → [1, 2]; "ALL" (a DVD) counts as disc 1."""
    words = line.strip().split(",")
    if words == ["ALL"]:
        return [1]
    try:
        return [int(w) for w in words]
    except ValueError:
        return [0]


def verify_media(tree: Path, disc: int = 1) -> bool:
    """image.py verifyMedia: .discinfo names this arch and holds disc ``disc``."""
    try:
        lines = (tree / ".discinfo").read_text(errors="replace").splitlines()
    except OSError:
        return False
    lines += [""] * 4
    return lines[2].strip() == ARCH and disc in disc_numbers(lines[3])


def is_iso_image(path: Path) -> bool:
    try:
        with path.open("rb") as f:
            f.seek(ISO_MAGIC_OFFSET)
            return f.read(5) == b"CD001"
    except OSError:
        return False


def disc1_usable(tree: Path) -> bool:
    """findIsoImages' test of a mounted image: disc 1 of this arch, with images/install.img
    and the binary packages directory."""
    return (verify_media(tree) and (tree / "images/install.img").is_file()
            and (tree / PRODUCT_PATH).is_dir())


def mounted(path: Path, mounts: str | None = None) -> bool:
    text = mounts if mounts is not None else Path("/proc/mounts").read_text()
    return any(line.split()[1:2] == [str(path)] for line in text.splitlines())


def _mount(device: str, where: Path, *, fstype: str = "", options: str = "ro") -> bool:
    where.mkdir(parents=True, exist_ok=True)
    cmd = ["/bin/mount", *(["-t", fstype] if fstype else []), "-o", options, device, str(where)]
    return subprocess.run(cmd, capture_output=True, check=False).returncode == 0


def _umount(where: Path) -> None:
    run(["/bin/umount", "-d", str(where)], klass="media")


def _find_iso_images(directory: Path) -> list[Path]:
    found: list[Path] = []
    for image in sorted(p for p in directory.iterdir() if p.is_file()):
        if not is_iso_image(image) or not _mount(str(image), CDIMAGE, fstype="iso9660",
                                                 options="ro,loop"):
            continue
        try:
            if disc1_usable(CDIMAGE):
                found.append(image)
        finally:
            _umount(CDIMAGE)
    return found


def _setup_cdrom(method: Method) -> Source:
    for device in sorted(str(p) for p in Path("/dev").glob("sr[0-9]*")):
        if not _mount(device, SOURCE, fstype="iso9660"):
            continue
        if verify_media(SOURCE):
            return Source(method, SOURCE, device, [SOURCE])
        _umount(SOURCE)
    raise InstallFailed("media", f"no CD-ROM drive holds disc 1 of RHEL 6 for {ARCH} "
                        "(.discinfo), as the cdrom method needs")


def _setup_hd(method: Method) -> Source:
    where = f"hd:{method.device}:{method.path}"
    device = find_device(method.device)
    rel = method.path.strip("/")
    if not _mount(device, SOURCE):
        raise InstallFailed("media", f"cannot mount {device} ({where})")
    tree = SOURCE / rel if rel else SOURCE
    if (tree / "repodata/repomd.xml").is_file():
        return Source(method, tree, device, [SOURCE])
    _umount(SOURCE)
    if not _mount(device, ISODIR):
        raise InstallFailed("media", f"cannot mount {device} ({where})")
    directory = ISODIR / rel if rel else ISODIR
    images = _find_iso_images(directory) if directory.is_dir() else []
    if not images:
        raise InstallFailed("media", f"{where}: neither an install tree (repodata/repomd.xml) "
                            f"nor a disc 1 ISO image for {ARCH} in {method.path}")
    if not _mount(str(images[0]), SOURCE, fstype="iso9660", options="ro,loop"):
        raise InstallFailed("media", f"cannot loop-mount {images[0].name} ({where})")
    return Source(method, SOURCE, device, [ISODIR, SOURCE])


def setup(method: Method) -> Source:
    """Mount the install tree as anaconda's yum backend does (configBaseURL)."""
    if method.kind == "cdrom":
        return _setup_cdrom(method)
    return _setup_hd(method)


def unmount_stage2(mounts: str | None = None) -> bool:
    """yuminstall.py doInstall: the loader's /mnt/stage2 goes before the packages."""
    if not mounted(STAGE2, mounts):
        return False
    _umount(STAGE2)
    return True


def complete(source: Source) -> list[Path]:
    """yuminstall.py YumBackend.complete, before %post: /mnt/source is unmounted unless the
    media is a CD-ROM (anaconda.mediaDevice). Returns what was unmounted."""
    if source.is_cdrom or SOURCE not in source.mounted:
        return []
    _umount(SOURCE)
    source.mounted.remove(SOURCE)
    return [SOURCE]


def eject_all(say: Any) -> None:
    """``reboot --eject`` (anaconda's main script after the install): every CD-ROM drive is
    unmounted and ejected with the CDROMEJECT ioctl (isys ejectcdrom); a failure is only a
    warning, as storage/devices.py OpticalDevice.eject() logs it."""
    for device in sorted(str(p) for p in Path("/dev").glob("sr[0-9]*")):
        for line in Path("/proc/mounts").read_text().splitlines():
            fields = line.split()
            if fields and fields[0] == device:
                subprocess.run(["/bin/umount", fields[1]], capture_output=True, check=False)
        try:
            fd = os.open(device, os.O_RDONLY | os.O_NONBLOCK)
            try:
                fcntl.ioctl(fd, CDROMEJECT)
            finally:
                os.close(fd)
        except OSError as exc:
            say(f"Warning: cannot eject {device}: {exc.strerror}")
        else:
            say(f"Ejected {device}")
