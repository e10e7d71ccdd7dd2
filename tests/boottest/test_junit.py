"""buildiso.boottest.junit: JUnit XML from typed results (a shard's file and the merged one)."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from buildiso.boottest.junit import CELL_CASE, NotRun, write_junit
from buildiso.boottest.results import CellResult, Check, StageStatus, StageTiming

CHECKS = ("tls10", "admin-user", "forbidden-packages-absent")


def _results(tmp_path: Path) -> list[CellResult]:
    ok = CellResult(
        name="bios-dvd", cell="bios-dvd", scenario="install", passed=True, failure_class=None,
        message="ok", accel="tcg", seconds=40.0, artifacts=str(tmp_path / "bios-dvd"),
        stages=(StageTiming("packages", StageStatus.OK, 12.25, 12.0),),
        checks=(Check("tls10", True, "disabled"), Check("admin-user", True, "exists"),
                Check("forbidden-packages-absent", False, "postfix is installed")),
        expected_checks=CHECKS,
    )  # fmt: skip
    bad = CellResult(
        name="uefi-usb", cell="uefi-usb", scenario="install", passed=False,
        failure_class="timeout-in-stage-packages", message="stuck in stage packages after 900 s",
        accel="tcg", seconds=950.0, artifacts=str(tmp_path / "uefi-usb"),
        stages=(StageTiming("packages", StageStatus.TIMEOUT, 900.0),),
        expected_checks=CHECKS, console_tail=("installing packages (3/10)",),
    )  # fmt: skip
    return [ok, bad]


def test_a_case_per_cell_and_per_check(tmp_path: Path) -> None:
    path = tmp_path / "out" / "junit.xml"
    write_junit(_results(tmp_path), path)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    assert len(cases) == 2 * (1 + len(CHECKS)) and suite.get("tests") == "8"
    cells = [c for c in cases if c.get("name") == CELL_CASE]
    assert [c.get("classname") for c in cells] == ["boot-test.bios-dvd", "boot-test.uefi-usb"]
    assert cells[0].find("failure") is None
    failure = cells[1].find("failure")
    assert failure is not None
    assert failure.get("message") == (
        "timeout-in-stage-packages: stuck in stage packages after 900 s"
    )
    assert f"artifacts: {tmp_path / 'uefi-usb'}" in (failure.text or "")
    assert "installing packages (3/10)" in (failure.text or "")
    checks = [c for c in cases if c.get("classname") == "boot-test.bios-dvd.post-install"]
    assert [c.get("name") for c in checks] == list(CHECKS)
    forbidden = checks[2].find("failure")
    assert forbidden is not None and forbidden.get("message") == "postfix is installed"
    # the failed cell never got to its checks: all skipped
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("classname") for c in skipped] == ["boot-test.uefi-usb.post-install"] * 3
    assert suite.get("failures") == "2" and suite.get("skipped") == "3"
    assert suite.get("time") == "990.00"


def test_a_cell_no_shard_ran_is_a_not_run_failure(tmp_path: Path) -> None:
    path = tmp_path / "junit.xml"
    write_junit([NotRun("bios-usb", "no shard's results have this cell"),
                 *_results(tmp_path)], path)  # fmt: skip
    first = ET.parse(path).getroot().iter("testcase").__next__()
    assert first.get("classname") == "boot-test.bios-usb" and first.get("name") == CELL_CASE
    failure = first.find("failure")
    assert failure is not None and failure.get("type") == "not-run"
    assert not list(tmp_path.glob(".*tmp"))  # written whole: no temporary file left
