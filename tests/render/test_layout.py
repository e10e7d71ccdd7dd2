"""buildiso.render.layout: the profile's disk layout (plain, lvm, raid1) in the kickstart.

Golden files tests/data/golden/<variant>/ks-<layout>.cfg.expected (regenerate with
BUILDISO_UPDATE_GOLDEN=1 and review). Each layout's kickstart must pass validate (the
product rules see / and /var through LVM and RAID) and pykickstart's ksvalidator; the
raid1 %pre is run for real against a fake /sys/block.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion
from test_templates import _section  # the kickstart's sections by header

from buildiso import paths
from buildiso.config import Variant
from buildiso.render import layout
from buildiso.render.profile import DiskLayout, Profile, load_profile
from buildiso.render.templates import render_kickstart
from buildiso.render.validate import validate_kickstart_text

GOLDEN = Path(__file__).parents[1] / "data" / "golden"
REGEN = os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1"
PRE = "%pre --log=/tmp/ks-pre.log --erroronfail"


def _profile(disk_layout: DiskLayout, variant: Variant = Variant.TEST) -> Profile:
    base = load_profile(paths.DEFAULT_PROFILE, variant)
    return dataclasses.replace(base, disk_layout=disk_layout)


def _ks(disk_layout: DiskLayout, variant: Variant = Variant.TEST) -> str:
    profile = _profile(disk_layout, variant)
    return render_kickstart(profile, password_hash=profile.admin_password_hash)


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("disk_layout", [DiskLayout.LVM, DiskLayout.RAID1])
def test_golden(variant: Variant, disk_layout: DiskLayout) -> None:
    text = _ks(disk_layout, variant)
    golden = GOLDEN / variant.value / f"ks-{disk_layout.value}.cfg.expected"
    if REGEN:
        golden.write_text(text)
    assert golden.exists(), f"{golden} missing: run BUILDISO_UPDATE_GOLDEN=1 pytest {__file__}"
    assert text == golden.read_text(), f"{golden} differs (regenerate on purpose, then review)"


def test_plain_layout_is_todays_kickstart() -> None:
    plain = (GOLDEN / "test" / "ks.cfg.expected").read_text()
    assert _ks(DiskLayout.PLAIN) == plain


@pytest.mark.parametrize("variant", list(Variant))
@pytest.mark.parametrize("disk_layout", list(DiskLayout))
def test_every_layout_passes_validate_and_ksvalidator(
    tmp_path: Path, variant: Variant, disk_layout: DiskLayout
) -> None:
    text = _ks(disk_layout, variant)
    profile = _profile(disk_layout, variant)
    assert validate_kickstart_text(text, filename="ks.cfg", profile=profile) == []
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    ksvalidator = Path(sys.executable).parent / "ksvalidator"
    proc = subprocess.run([ksvalidator, "-v", "RHEL6", path], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_small_var_caught_in_every_layout() -> None:
    for disk_layout in (DiskLayout.LVM, DiskLayout.RAID1):
        profile = _profile(disk_layout)
        small = tuple(dataclasses.replace(p, size_mb=10240) if p.mount == "/var" else p
                      for p in profile.partitions)
        profile = dataclasses.replace(profile, partitions=small)  # bypasses load_profile's check
        text = render_kickstart(profile, password_hash=profile.admin_password_hash)
        problems = validate_kickstart_text(text, filename="ks.cfg", profile=profile)
        assert len(problems) == 1, problems
        assert problems[0].message.startswith("/var ") and "too small" in problems[0].message
        line = text.splitlines()[problems[0].line - 1]
        assert ("logvol /var" if disk_layout is DiskLayout.LVM else "raid /var") in line


def _run_pre(tmp_path: Path, text: str, *, disks: dict[str, int], media: str) -> tuple[
        subprocess.CompletedProcess[str], Path]:
    """Run the %pre against a fake /sys/block with ``disks`` (name: sectors), findfs faked."""
    sys_block = tmp_path / "sys-block"
    for name, sectors in disks.items():
        (sys_block / name).mkdir(parents=True)
        (sys_block / name / "size").write_text(f"{sectors}\n")
    bindir = tmp_path / "bin"
    bindir.mkdir()
    findfs = bindir / "findfs"
    findfs.write_text(f"#!/bin/sh\necho /dev/{media}\n")
    findfs.chmod(0o755)
    out = tmp_path / "part-include"
    script = _section(text, PRE)
    for old, new in (("/sys/block", str(sys_block)), ("/tmp/part-include", str(out)),
                     ("/sys/firmware/efi", str(tmp_path / "no-efi"))):
        script = script.replace(old, new)
    shell = shutil.which("dash") or "/bin/sh"
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "LANG": "C"}
    return subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env), out


def test_raid1_pre_picks_two_disks_never_the_media(tmp_path: Path) -> None:
    proc, out = _run_pre(tmp_path, _ks(DiskLayout.RAID1),
                         disks={"sda": 10**9, "sdb": 2 * 10**6, "sdc": 10**9, "vda": 0},
                         media="sdb1")
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "ignoredisk --only-use=sda,sdc"
    assert "raid / --level=1 --device=md1 --fstype=ext4 raid.1.sda raid.1.sdc" in lines
    assert "part raid.2.sdc --size=61440 --grow --ondisk=sdc" in lines
    # the written file is a valid RHEL 6 storage layout
    handler = makeVersion(RHEL6)
    KickstartParser(handler).readKickstartFromString(out.read_text())
    assert {r.mountpoint for r in handler.raid.raidList} == {"/boot", "/", "/var"}


def test_raid1_pre_fails_with_one_disk(tmp_path: Path) -> None:
    proc, _ = _run_pre(tmp_path, _ks(DiskLayout.RAID1), disks={"vda": 10**9, "sr0": 1},
                       media="sr0")
    assert proc.returncode == 1
    assert "the raid1 layout needs two disks, found:  vda" in proc.stderr


def test_disk_sizes_per_layout() -> None:
    plain = _profile(DiskLayout.PLAIN)
    assert layout.disk_mb(plain) == plain.min_disk_mb
    assert layout.disk_mb(_profile(DiskLayout.LVM)) > plain.min_disk_mb + layout.BOOT_MB
    assert DiskLayout.RAID1.disks == 2
