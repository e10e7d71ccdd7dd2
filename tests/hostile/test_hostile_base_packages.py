"""Hostile audit #2: a damaged base package in the install set is refused, never shipped."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hostile.hostile_build import sample_args
from mini_media import plain_xorriso_iso

from buildiso.cli import main
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def _damaged_tree(sample: SampleBase, tmp: Path) -> Path:
    tree = tmp / "tree"
    shutil.copytree(sample.tree, tree)
    (busybox,) = (tree / "Packages").glob("busybox-*.rpm")
    data = bytearray(busybox.read_bytes())
    middle = len(data) // 2  # inside the payload
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    busybox.write_bytes(bytes(data))
    # the referee: rpm itself says the package is damaged
    check = subprocess.run(
        ["rpmkeys", "-K", "--nosignature", str(busybox)], capture_output=True, text=True
    )
    assert check.returncode != 0 and "NOT OK" in check.stdout
    return tree


def _refused(args: list[str], out: Path, capsys: pytest.CaptureFixture[str]) -> str:
    out.mkdir()
    assert main(["build", *args, "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no ISO, no manifest, no work folder
    return err


def test_damaged_package_in_a_base_tree_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _damaged_tree(sample_base, tmp_path)
    err = _refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert "busybox-1.15.1-21.el6.x86_64.rpm" in err and "DIGESTS NOT OK" in err


def test_damaged_package_in_a_base_iso_without_implanted_md5_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _damaged_tree(sample_base, tmp_path)
    dvd = plain_xorriso_iso(tree, tmp_path / "dvd.iso", volid="RHEL-6.10")
    err = _refused(sample_args(sample_base, base=dvd), tmp_path / "out", capsys)
    assert "busybox-1.15.1-21.el6.x86_64.rpm" in err and "DIGESTS NOT OK" in err
