"""Sample installer stage 2: install.img holds a Python that runs the installer and its tools."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.sample.installer.stage2 import MAX_SIZE, build_stage2
from buildiso.sample.kernel import fetch_kernel


@pytest.mark.integration
@pytest.mark.skipif(os.geteuid() != 0, reason="chroot into the image needs root (CI runs as root)")
def test_stage2_image_runs_the_installer_python(tmp_path: Path) -> None:
    image = build_stage2(
        kernel=fetch_kernel(paths.DEFAULT_OUT / "cache"), dest=tmp_path / "install.img"
    )
    assert image.stat().st_size < MAX_SIZE
    root = tmp_path / "root"
    subprocess.run(
        ["unsquashfs", "-q", "-n", "-d", str(root), str(image)], check=True, capture_output=True
    )
    probe = (
        "import sampleinstaller.main, charset_normalizer\n"
        "from pykickstart.version import makeVersion, RHEL6\n"
        "print(type(makeVersion(RHEL6)).__name__)\n"
    )
    out = subprocess.run(
        ["chroot", str(root), "/usr/bin/python3", "-c", probe],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "RHEL6Handler"
    for tool in (
        "/usr/bin/rpm --version",
        "/sbin/sfdisk --version",
        "/sbin/mke2fs -V",
        "/sbin/mkfs.fat --help",
        "/sbin/blkid -V",
        "/sbin/findfs",
        "/usr/bin/efibootmgr --version",
    ):
        proc = subprocess.run(
            ["chroot", str(root), *tool.split()], capture_output=True, text=True, check=False
        )
        assert "not found" not in proc.stderr and "error while loading" not in proc.stderr, (
            tool,
            proc.stderr,
        )
    for mountpoint in ("mnt", "tmp", "run", "dev", "proc", "sys"):
        assert (root / mountpoint).is_dir()
