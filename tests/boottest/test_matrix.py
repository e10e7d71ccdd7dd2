"""buildiso.boottest.matrix: the matrix, its table, JUnit output and exit status."""

from __future__ import annotations

import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from bootfakes import MENU, FakeFactory, Script, good_report, install_script

from buildiso import paths
from buildiso.boottest import matrix as boottest
from buildiso.boottest.accel import AccelChoice
from buildiso.boottest.bootcell import ALL_CELLS, Cell, CellResult
from buildiso.boottest.bootproto import ALL_STAGES
from buildiso.boottest.postreport import CheckResult
from buildiso.config import Accel, Firmware, Media, Variant
from buildiso.errors import BuildError, InputError
from buildiso.render.profile import Profile


def _quick(script: Script) -> Script:
    # Real time in these tests: the scripted install plays 20x faster.
    return [(trigger, delay / 20, channel, text) for trigger, delay, channel, text in script]


def _results(tmp_path: Path) -> list[CellResult]:
    ok = CellResult(
        cell=Cell(Firmware.BIOS, Media.DVD),
        passed=True,
        failure_class=None,
        message="ok",
        stages={
            "firmware": {"seconds": 0.4, "status": "ok", "guest_seconds": None},
            "packages": {"seconds": 12.25, "status": "ok", "guest_seconds": 12.0},
        },
        checks=[CheckResult("tls10", True, "disabled")],
        artifacts=tmp_path / "bios-dvd",
        accel="tcg",
        seconds=40.0,
    )
    bad = CellResult(
        cell=Cell(Firmware.UEFI, Media.USB),
        passed=False,
        failure_class="timeout-in-stage-packages",
        message="stuck in stage packages after 900 s",
        stages={"packages": {"seconds": 900.0, "status": "timeout", "guest_seconds": None}},
        checks=[],
        artifacts=tmp_path / "uefi-usb",
        accel="tcg",
        seconds=950.0,
        console_tail=["installing packages (3/10)"],
    )
    return [ok, bad]


def test_table_has_a_row_per_cell_with_stage_times(tmp_path: Path) -> None:
    table = boottest.format_table(_results(tmp_path)).splitlines()
    assert table[0].split() == ["cell", "result", "firmware", "packages", "total"]
    assert table[1].split() == ["bios-dvd", "pass", "0.4", "12.2", "40.0"]
    assert table[2].split() == [
        "uefi-usb",
        "FAIL:timeout-in-stage-packages",
        "-",
        "900.0!",
        "950.0",
    ]


def test_junit_has_a_case_per_cell_and_per_check(tmp_path: Path, profile: Profile) -> None:
    path = tmp_path / "out" / "junit.xml"
    boottest.write_junit(_results(tmp_path), path, profile=profile)
    suite = ET.parse(path).getroot().find("testsuite")
    assert suite is not None
    cases = suite.findall("testcase")
    # 12 checks: the profile's 10 + installed-packages (rpm -qa = the manifest's install set)
    # + storage-layout (each mount's device and size, arrays clean)
    assert len(cases) == 2 * (1 + 12) and suite.get("tests") == "26"
    assert [c.get("name") for c in cases].count("installed-packages") == 2
    assert [c.get("name") for c in cases].count("storage-layout") == 2
    cell_cases = [c for c in cases if c.get("name") == "install-and-first-boot"]
    assert [c.get("classname") for c in cell_cases] == ["boot-test.bios-dvd", "boot-test.uefi-usb"]
    assert cell_cases[0].find("failure") is None
    failure = cell_cases[1].find("failure")
    assert failure is not None
    assert (
        failure.get("message") == "timeout-in-stage-packages: stuck in stage packages after 900 s"
    )
    assert f"artifacts: {tmp_path / 'uefi-usb'}" in (failure.text or "")
    assert "installing packages (3/10)" in (failure.text or "")
    # the passing cell's tls10 check passed, its other checks were not in its result: skipped;
    # the failed cell never produced a report: all skipped
    tls = [c for c in cases if c.get("name") == "tls10"]
    assert tls[0].find("skipped") is None and tls[0].find("failure") is None
    assert tls[1].find("skipped") is not None
    assert suite.get("failures") == "1" and suite.get("skipped") == str(11 + 12)


def test_junit_failed_check_is_a_failure(tmp_path: Path, profile: Profile) -> None:
    result = _results(tmp_path)[0]
    result.passed, result.failure_class = False, "post-install-check"
    result.checks = [CheckResult("forbidden-packages-absent", False, "postfix is installed")]
    path = tmp_path / "j.xml"
    boottest.write_junit([result], path, profile=profile)
    case = [
        c
        for c in ET.parse(path).getroot().iter("testcase")
        if c.get("name") == "forbidden-packages-absent"
    ][0]
    failure = case.find("failure")
    assert failure is not None and failure.get("message") == "postfix is installed"


def _fake_read_menu(iso: Path, firmware: Firmware):  # type: ignore[no-untyped-def]
    return MENU


# Real time in the tests below: a broken harness fails in seconds, not in minutes.
SHORT = dict.fromkeys(ALL_STAGES, 10.0)


def _command_kwargs(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    """boot_test_command's arguments for a single BIOS/DVD cell; tests override what matters."""
    kwargs: dict[str, Any] = dict(
        iso=tmp_path / "x.iso",
        firmware=Firmware.BIOS,
        media=Media.DVD,
        matrix=False,
        jobs=1,
        accel=Accel.TCG,
        artifacts=tmp_path / "art",
        junit=None,
        wait_local_timeout=False,
        profile_path=paths.DEFAULT_PROFILE,
        variant=Variant.TEST,
        out=io.StringIO(),
        accel_chooser=lambda a: AccelChoice(Accel.TCG, "asked"),
        timeouts=SHORT,
    )
    kwargs.update(overrides)
    return kwargs


def test_matrix_runs_all_cells_in_parallel(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boottest, "read_menu", _fake_read_menu)
    script = _quick(install_script(report=good_report(profile)))
    factory = FakeFactory(time.monotonic, {c.name: script for c in ALL_CELLS})
    results = boottest.run_boot_test(
        iso=tmp_path / "x.iso",
        profile=profile,
        cells=ALL_CELLS,
        jobs=2,
        accel=Accel.TCG,
        artifacts=tmp_path / "art",
        guest_factory=factory,
        timeouts=SHORT,
    )
    assert [r.cell.name for r in results] == ["bios-dvd", "bios-usb", "uefi-dvd", "uefi-usb"]
    assert all(r.passed for r in results), [r.message for r in results]
    assert sorted(f"{s.firmware.value}-{s.media.value}" for s in factory.specs) == sorted(
        c.name for c in ALL_CELLS
    )
    # each cell has its own disk and artifacts folder
    assert len({s.disk for s in factory.specs}) == 4
    # two at a time, as --jobs 2 says: never more, and really in parallel
    assert factory.max_active == 2
    for r in results:
        assert (tmp_path / "art" / r.cell.name / "result.json").exists()


def test_longest_cells_start_first(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    """UEFI-USB (the longest cell) starts at once; results still come in cell order."""
    monkeypatch.setattr(boottest, "read_menu", _fake_read_menu)
    script = _quick(install_script(report=good_report(profile)))
    factory = FakeFactory(time.monotonic, {c.name: script for c in ALL_CELLS})
    results = boottest.run_boot_test(
        iso=tmp_path / "x.iso",
        profile=profile,
        cells=ALL_CELLS,
        jobs=1,
        accel=Accel.TCG,
        artifacts=tmp_path / "art",
        guest_factory=factory,
        timeouts=SHORT,
    )
    started = [f"{s.firmware.value}-{s.media.value}" for s in factory.specs]
    assert started == ["uefi-usb", "uefi-dvd", "bios-usb", "bios-dvd"]
    assert [r.cell.name for r in results] == [c.name for c in ALL_CELLS]


def test_command_exit_status_table_and_junit(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boottest, "read_menu", _fake_read_menu)
    iso = tmp_path / "EMAIL_490_190.iso"
    iso.write_bytes(b"\0" * 2048)
    good = _quick(install_script(report=good_report(profile)))
    broken = [
        item
        for item in good
        if "INSTALL-RESULT" not in item[3] and "name=post status=ok" not in item[3]
    ]
    broken.append(
        (
            "key1",
            0.7,
            "protocol",
            'INSTALL-RESULT status=failed class=post reason="%post exited with 1"\n',
        )
    )
    scripts = {"bios-dvd": good, "bios-usb": good, "uefi-dvd": broken, "uefi-usb": good}
    out = io.StringIO()
    kwargs = _command_kwargs(
        tmp_path,
        iso=iso,
        matrix=True,
        jobs=2,
        accel=Accel.AUTO,
        junit=tmp_path / "junit.xml",
        out=out,
        accel_chooser=lambda a: AccelChoice(Accel.TCG, "KVM unusable; using TCG"),
    )
    with pytest.raises(
        BuildError, match=r"1 of 4 cell\(s\); uefi-dvd: \[post\] %post exited with 1"
    ) as err:
        boottest.boot_test_command(**kwargs, guest_factory=FakeFactory(time.monotonic, scripts))
    assert err.value.exit_code == 1
    text = out.getvalue()
    assert "uefi-dvd" in text and "FAIL:post" in text and "accel tcg" in text
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert len([c for c in root.iter("testcase") if c.find("failure") is not None]) == 1
    # all cells pass → no exception
    scripts["uefi-dvd"] = good
    boottest.boot_test_command(**kwargs, guest_factory=FakeFactory(time.monotonic, scripts))
    assert (tmp_path / "art" / "summary.json").exists()


def test_single_cell_without_matrix(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(boottest, "read_menu", _fake_read_menu)
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0")
    factory = FakeFactory(
        time.monotonic, {"uefi-usb": _quick(install_script(report=good_report(profile)))}
    )
    boottest.boot_test_command(
        **_command_kwargs(tmp_path, iso=iso, firmware=Firmware.UEFI, media=Media.USB, jobs=2),
        guest_factory=factory,
    )
    assert [(s.firmware, s.media) for s in factory.specs] == [(Firmware.UEFI, Media.USB)]


def test_a_file_that_is_no_iso_is_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "EMAIL_490_190.iso"
    junk.write_bytes(b"not an ISO" * 1000)
    with pytest.raises(InputError, match="not a readable ISO 9660 image") as err:
        boottest.boot_test_command(
            **_command_kwargs(tmp_path, iso=junk, timeouts=None),
            guest_factory=FakeFactory(time.monotonic, {}),
        )
    assert err.value.exit_code == 2


def test_timeout_scale_reaches_every_cell(tmp_path: Path, profile: Profile) -> None:
    from bootfakes import cut_after, quick, run_shard

    full = quick(install_script(report=good_report(profile)))
    stuck = cut_after(full, "name=packages status=start")
    art = tmp_path / "art"
    failed = run_shard(tmp_path, artifacts=art, scripts={"bios-dvd": stuck},
                       cell_names=["bios-dvd"], timeout_scale=0.15)  # fmt: skip
    assert isinstance(failed, BuildError)
    result = json.loads((art / "bios-dvd" / "result.json").read_text())
    assert result["failure_class"] == "timeout-in-stage-packages"
    # run_shard's limit is 10 s a stage: scaled to 1.5 s
    assert 1.5 < result["stages"]["packages"]["seconds"] < 5
