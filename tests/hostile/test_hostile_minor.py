"""Hostile audit #9 (minor): no empty --out after a refused build; one message for a
negative partition size; a damaged sample cache is rebuilt, not blamed on "a RHEL 6 DVD"."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hostile.hostile_build import sample_args

from buildiso import paths
from buildiso.cli import main
from buildiso.sample import base as sample_base_mod
from buildiso.sample.base import SampleBase


@pytest.mark.integration
def test_refused_build_leaves_no_new_out_folder(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "no-rpms"
    empty.mkdir()
    out = tmp_path / "new" / "out"
    assert main(["build", *sample_args(sample_base, rpms=empty), "--out", str(out)]) == 2
    assert "holds no *.rpm files" in capsys.readouterr().err
    assert not (tmp_path / "new").exists()


def test_negative_partition_size_is_one_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = paths.DEFAULT_PROFILE.read_text()
    assert "size_mb = 20480" in text
    profile = tmp_path / "profile.toml"
    profile.write_text(text.replace("size_mb = 20480", "size_mb = -20480", 1))
    assert main(["render", "--profile", str(profile), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert "-20480 out of range" in err
    assert "too small" not in err


def _damaged_copy(sample: SampleBase, tmp: Path) -> Path:
    copy = tmp / "sample-base"
    shutil.copytree(sample.tree.parent, copy)
    vmlinuz = copy / "tree" / "images" / "pxeboot" / "vmlinuz"
    data = bytearray(vmlinuz.read_bytes())
    data[len(data) // 2] ^= 0xFF
    vmlinuz.write_bytes(bytes(data))
    return copy


@pytest.mark.integration
def test_damaged_base_hint_does_not_blame_a_rhel_dvd(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copy = _damaged_copy(sample_base, tmp_path)
    out = tmp_path / "out"
    assert main(["build", *sample_args(sample_base, base=copy / "tree"), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "images/pxeboot/vmlinuz: sha256 does not match .treeinfo" in err
    assert "RHEL 6 DVD" not in err and "copy it again" in err


@pytest.mark.integration
def test_damaged_sample_cache_is_not_a_cache_hit(sample_base: SampleBase, tmp_path: Path) -> None:
    intact = sample_base_mod._layout(sample_base.tree.parent)
    assert sample_base_mod._intact(intact)
    damaged = sample_base_mod._layout(_damaged_copy(sample_base, tmp_path))
    assert not sample_base_mod._intact(damaged)
