"""buildiso.boottest.runner: running a scenario's cell against a scripted guest: result files,
retries, dropped disks, cells in parallel and the longest first."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from bootfakes import (
    CELL,
    TIMEOUTS,
    FakeClock,
    FakeFactory,
    cut_after,
    good_report,
    install_script,
    plan_for,
    quick,
    run_scripted_cell,
)

from buildiso.boottest.runner import run_cells
from buildiso.boottest.scenarioreader import load_scenario
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


def test_cells_run_in_parallel_each_with_its_own_disk_and_folder(
    tmp_path: Path, profile: Profile
) -> None:
    script = quick(install_script(report=good_report(profile)))
    cells = list(load_scenario("install").matrix)
    factory = FakeFactory(time.monotonic, {c.name: script for c in cells})
    plan = plan_for(tmp_path, profile, factory, limits=dict.fromkeys(TIMEOUTS, 10.0))
    results = run_cells(plan, cells, jobs=2)
    assert [r.name for r in results] == ["bios-dvd", "bios-usb", "uefi-dvd", "uefi-usb"]
    assert all(r.passed for r in results), [r.message for r in results]
    assert len({s.disk for s in factory.specs}) == 4  # a disk of its own each
    assert factory.max_active == 2  # two at a time, as --jobs 2 says, and really in parallel
    for r in results:
        assert (tmp_path / r.name / "result.json").exists()


def test_the_longest_expected_cell_starts_first(tmp_path: Path, profile: Profile) -> None:
    script = quick(install_script(report=good_report(profile)))
    cells = list(load_scenario("install").matrix)
    factory = FakeFactory(time.monotonic, {c.name: script for c in cells})
    plan = plan_for(tmp_path, profile, factory, limits=dict.fromkeys(TIMEOUTS, 10.0))
    weights = {"bios-dvd": 50.0, "bios-usb": 90.0, "uefi-dvd": 70.0, "uefi-usb": 70.0}
    results = run_cells(plan, cells, jobs=1, seconds=lambda c: weights[c.name])
    started = [f"{s.firmware.value}-{s.media.value}" for s in factory.specs]
    assert started == ["bios-usb", "uefi-dvd", "uefi-usb", "bios-dvd"]  # ties: matrix order
    assert [r.name for r in results] == [c.name for c in cells]  # results in cell order


def test_a_passed_cells_disks_are_dropped_and_a_failed_ones_kept(
    tmp_path: Path, profile: Profile
) -> None:
    good = install_script(report=good_report(profile))
    for folder, script, passed in (("ok", good, True),
                                   ("bad", cut_after(good, "name=packages status=start"), False)):
        clock = FakeClock()
        factory = FakeFactory(clock, {CELL.name: script}, make_disks=True)
        plan = plan_for(tmp_path / folder, profile, factory)
        assert plan.run_cell(CELL, clock=clock, sleep=clock.sleep).passed is passed
        assert factory.new_disks == [(tmp_path / folder / CELL.name / "disk.qcow2",)]
        left = [p.name for p in (tmp_path / folder / CELL.name).glob("disk*.qcow2")]
        assert left == ([] if passed else ["disk.qcow2"])  # kept for the post-mortem
