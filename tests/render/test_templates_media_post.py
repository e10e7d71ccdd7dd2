"""The product kickstart's first %post --nochroot: finding the install media for the vendor key.

RHEL 6 has unmounted the media by then for repo=hd: (anaconda's YumBackend.complete() runs
in the methodcomplete step, before postscripts), so the script finds the device by its
volume label with blkid and mounts it read-only with the file system blkid reports. The
rendered script runs for real (dash, and busybox's sh: the sample's stage 2 shell) with a
fake /proc/mounts, a fake ``blkid`` on PATH and ``mount``/``umount`` faked as shell
functions (busybox's sh prefers its own applets to PATH). The fake mount refuses a file
system type that is not the device's, as the kernel does.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.render.templates import render_kickstart

MEDIA_POST = "%post --nochroot --log=/mnt/sysimage/root/ks-post-media.log"
PROFILE = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
LABEL = PROFILE.volume_label
KEY = PROFILE.signing.public_key.name
KEY_TEXT = "-----BEGIN PGP PUBLIC KEY BLOCK-----\nvendor\n"


@dataclass
class Device:
    name: str  # /dev/...
    fstype: str
    label: str = LABEL
    tree: bool = True  # holds cs-repo/ and the key (else: a file system without them)


@dataclass
class World:
    devices: list[Device]
    mounted: dict[str, str] = field(default_factory=dict)  # device -> mount point (abs)
    candidate: str | None = None  # a /mnt/... candidate that still holds the tree


def _section(ks: str) -> str:
    start = ks.index(MEDIA_POST + "\n") + len(MEDIA_POST) + 1
    return ks[start : ks.index("\n%end\n", start) + 1]


def _tree(where: Path) -> None:
    (where / "cs-repo/repodata").mkdir(parents=True, exist_ok=True)
    (where / "cs-repo/repodata/repomd.xml").write_text("<repomd/>\n")
    (where / KEY).write_text(KEY_TEXT)


def _shells(tmp_path: Path) -> list[list[str]]:
    shells = [[shutil.which("dash") or "/bin/sh", "-c"]]
    busybox = shutil.which("busybox")
    assert busybox is not None, "busybox not installed: run ./setup.sh (busybox-static)"
    shells.append([busybox, "sh", "-c"])
    return shells


def _run(tmp_path: Path, world: World, shell: list[str]) -> tuple[subprocess.CompletedProcess[str],
                                                                  Path, list[str]]:
    """Run the script; returns the process, the fake root and the mount/umount calls."""
    root = tmp_path / "root"
    (root / "mnt/sysimage/root").mkdir(parents=True)
    contents = tmp_path / "devices"  # what each fake device holds
    table = []
    for dev in world.devices:
        where = contents / dev.name.strip("/").replace("/", "_")
        where.mkdir(parents=True)
        if dev.tree:
            _tree(where)
        table.append(f"{dev.name} {dev.label} {dev.fstype} {where}")
    (tmp_path / "devices.txt").write_text("\n".join(table) + "\n")
    mounts = ["proc /proc proc rw 0 0", "/dev/sda2 /mnt/sysimage ext4 rw 0 0"]
    for dev_name, point in world.mounted.items():
        dev = next(d for d in world.devices if d.name == dev_name)
        target = root / point.lstrip("/")
        shutil.copytree(contents / dev.name.strip("/").replace("/", "_"), target)
        mounts.append(f"{dev_name} {target} {dev.fstype} rw 0 0")
    if world.candidate:
        _tree(root / world.candidate.lstrip("/"))
    (tmp_path / "mounts").write_text("\n".join(mounts) + "\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    calls = tmp_path / "calls.log"
    devices = tmp_path / "devices.txt"
    # blkid -t LABEL=X -o device | blkid -o value -s TYPE DEV (util-linux-ng's syntax)
    (bindir / "blkid").write_text(
        "#!/bin/sh\n"
        f'echo "blkid $*" >> {calls}\n'
        'if [ "$1" = -t ]; then want=${2#LABEL=}\n'
        f'  awk -v l="$want" \'$2 == l {{ print $1 }}\' {devices}; exit 0; fi\n'
        'if [ "$1 $2 $3 $4" = "-o value -s TYPE" ]; then\n'
        f'  awk -v d="$5" \'$1 == d {{ print $3; f = 1 }} END {{ exit !f }}\' {devices}; exit; fi\n'
        "exit 4\n"
    )
    # mount -o ro -t TYPE DEV DIR: the device's files appear in DIR, if TYPE is right
    (bindir / "fake-mount").write_text(
        "#!/bin/sh\n"
        f'echo "mount $*" >> {calls}\n'
        '[ "$1 $2 $3" = "-o ro -t" ] || exit 1\n'
        f'line=$(awk -v d="$5" \'$1 == d\' {devices})\n'
        'set -- "$4" "$5" "$6" $line\n'
        '[ "$4" = "$2" ] || { echo "mount: unknown device $2" >&2; exit 32; }\n'
        '[ "$6" = "$1" ] || { echo "mount: wrong fs type on $2" >&2; exit 32; }\n'
        'cp -R "$7/." "$3/"\n'
    )
    (bindir / "fake-umount").write_text(
        f'#!/bin/sh\necho "umount $*" >> {calls}\nrm -rf "$1"/* "$1"/.[!.]*\n'
    )
    for name in ("blkid", "fake-mount", "fake-umount"):
        (bindir / name).chmod(0o755)
    script = _section(render_kickstart(PROFILE, password_hash=PROFILE.admin_password_hash))
    assert script.count("mounts=/proc/mounts\n") == 1
    script = script.replace("mounts=/proc/mounts\n", f"mounts={tmp_path / 'mounts'}\n")
    script = re.sub(r"(?<![\w.])/mnt/", f"{root}/mnt/", script)
    script = (f'mount() {{ {bindir}/fake-mount "$@"; }}\n'
              f'umount() {{ {bindir}/fake-umount "$@"; }}\n' + script)  # fmt: skip
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "LANG": "C"}
    proc = subprocess.run([*shell, script], capture_output=True, text=True, env=env, cwd=tmp_path)
    logged = calls.read_text().splitlines() if calls.exists() else []
    return proc, root, logged


def _key(root: Path) -> Path:
    return root / "mnt/sysimage/etc/pki/rpm-gpg" / KEY


CASES = {
    # RHEL 6 after the hd: install: nothing mounted; the DVD carries the label
    "dvd": (World([Device("/dev/sr0", "iso9660")]), "/dev/sr0", "iso9660"),
    # a dd'd stick: the disk and its isohybrid partition are both ISO 9660 with the label
    "dd-stick": (World([Device("/dev/sdb", "iso9660"), Device("/dev/sdb1", "iso9660")]),
                 "/dev/sdb", "iso9660"),
    # Rufus "ISO Image mode": one FAT32 partition labelled like the ISO
    "rufus-fat32-stick": (World([Device("/dev/sdb1", "vfat")]), "/dev/sdb1", "vfat"),
    # a labelled file system without the tree (e.g. an ESP) is tried, unmounted, passed over
    "label-twice": (World([Device("/dev/sdc1", "vfat", tree=False), Device("/dev/sr0", "iso9660")]),
                    "/dev/sr0", "iso9660"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_media_mounted_by_label_with_its_own_file_system(tmp_path: Path, case: str) -> None:
    world, device, fstype = CASES[case]
    for i, shell in enumerate(_shells(tmp_path)):
        work = tmp_path / str(i)
        work.mkdir()
        proc, root, calls = _run(work, world, shell)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert _key(root).read_text() == KEY_TEXT, f"{shell[0]}: {proc.stdout}"
        mnt = f"{root}/mnt/buildiso-media"
        assert f"mount -o ro -t {fstype} {device} {mnt}" in calls
        assert f"buildiso: mounted {device} ({fstype})" in proc.stdout
        assert calls[-1] == f"umount {mnt}"  # left as found
        assert not any(" -t iso9660 " in c and fstype != "iso9660" for c in calls)


def test_media_still_mounted_where_anaconda_keeps_it(tmp_path: Path) -> None:
    """cdrom: method (and the sample installer today): /mnt/source holds the tree."""
    world = World([Device("/dev/sr0", "iso9660")], candidate="/mnt/source")
    proc, root, calls = _run(tmp_path, world, _shells(tmp_path)[0])
    assert proc.returncode == 0, proc.stderr
    assert _key(root).is_file() and calls == []
    assert f"install media found at {root}/mnt/source" in proc.stdout


def test_device_mounted_elsewhere_is_read_there(tmp_path: Path) -> None:
    """A second, read-only mount of a device mounted read-write fails on RHEL 6's kernel."""
    world = World([Device("/dev/sdb1", "vfat")], mounted={"/dev/sdb1": "/mnt/stick"})
    proc, root, calls = _run(tmp_path, world, _shells(tmp_path)[0])
    assert proc.returncode == 0, proc.stderr
    assert _key(root).is_file()
    assert not any(c.startswith(("mount", "umount")) for c in calls)
    assert f"install media found at {root}/mnt/stick" in proc.stdout


@pytest.mark.parametrize("devices", [[], [Device("/dev/sdb1", "vfat", label="OTHER")],
                                     [Device("/dev/sdb1", "vfat", tree=False)]])
def test_no_media_is_not_fatal(tmp_path: Path, devices: list[Device]) -> None:
    proc, root, calls = _run(tmp_path, World(devices), _shells(tmp_path)[0])
    assert proc.returncode == 0, proc.stderr
    assert "install media with cs-repo/ not found" in proc.stdout
    assert not _key(root).exists()
    assert sum(c.startswith("mount") for c in calls) == sum(c.startswith("umount") for c in calls)


def test_no_findfs_and_no_fixed_file_system_type() -> None:
    script = _section(render_kickstart(PROFILE, password_hash=PROFILE.admin_password_hash))
    assert "findfs" not in script  # RHEL 6's stage 2 has none
    assert "-t iso9660" not in script
