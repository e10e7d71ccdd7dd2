"""buildiso.boottest.runner: running a scenario's cell against a scripted guest: result files,
retries, dropped disks, cells in parallel and the longest first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bootfakes import (
    CELL,
    good_report,
    install_script,
    run_scripted_cell,
)

from buildiso.render.profile import Profile


def test_happy_path(tmp_path: Path, profile: Profile) -> None:
    result, factory = run_scripted_cell(
        tmp_path, profile, install_script(report=good_report(profile))
    )
    assert result.passed, result.message
    guest = factory.started[0]
    # serial-console install entry is one up from the default; then Enter on the default
    assert guest.keys == [["up", "ret"], ["ret"]]
    assert [p.name for p in guest.screenshots] == ["menu.png", "local-menu.png"]
    for stage in (
        "firmware",
        "menu",
        "kernel",
        "packages",
        "post",
        "reboot",
        "local-boot",
        "firstboot",
    ):
        assert result.stage_map[stage].status == "ok", stage
    assert result.stage_map["packages"].seconds == pytest.approx(1.0, abs=0.3)
    assert result.stage_map["packages"].guest_seconds == 1.0
    assert all(c.ok for c in result.checks) and len(result.checks) == 11
    art = tmp_path / CELL.name
    saved = json.loads((art / "result.json").read_text())
    assert saved["passed"] is True and saved["cell"] == "bios-dvd" and saved["accel"] == "tcg"
    assert json.loads((art / "timings.json").read_text())["kernel"]["status"] == "ok"
    assert json.loads((art / "postinstall-report.json").read_text())["build"] == 190
    spec = factory.specs[0]
    assert spec.reboot is True and spec.disk == art / "disk.qcow2"


def test_infrastructure_failure_is_retried_once(tmp_path: Path, profile: Profile) -> None:
    result, factory = run_scripted_cell(
        tmp_path, profile, install_script(report=good_report(profile)), start_failures=1
    )
    assert result.passed and result.attempts == 2 and len(factory.specs) == 2
    result, factory = run_scripted_cell(
        tmp_path / "again", profile, install_script(report={}), start_failures=2
    )
    assert result.failure_class == "infrastructure" and result.attempts == 2
    assert "Could not allocate memory" in result.message
