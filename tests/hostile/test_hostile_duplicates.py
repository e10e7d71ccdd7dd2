"""Hostile audit #7 (item 6 of the brief): two builds of one gateway package are refused."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from hostile.hostile_build import copy_rpms, sample_args
from rpm_factory import build_rpm

from buildiso.cli import main
from buildiso.sample.base import SampleBase


@pytest.mark.integration
def test_two_builds_of_cs_email_are_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rpms = copy_rpms(sample_base, tmp_path / "rpms")
    newer = build_rpm(tmp_path / "rpmbuild", "cs-email", version="4.9.0", release="191")
    shutil.copyfile(newer, rpms / newer.name)
    out = tmp_path / "out"
    assert main(["build", *sample_args(sample_base, rpms=rpms), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err
    error = next(line for line in err.splitlines() if line.startswith("buildiso: error:"))
    assert "cs-email.x86_64 is given 2 times" in error
    assert "cs-email-4.9.0-190.x86_64.rpm" in error and "cs-email-4.9.0-191.x86_64.rpm" in error
    assert "keep exactly one build" in error
    assert not out.exists()
