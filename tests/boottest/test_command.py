"""buildiso.boottest.command: the boot-test verb: cells, table, summary, JUnit, exit status."""

from __future__ import annotations

import hashlib
import io
import json
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
from bootfakes import (
    MENU,
    TIMEOUTS,
    FakeFactory,
    Script,
    cut_after,
    good_report,
    install_script,
    quick,
    run_shard,
)

from buildiso.boottest import command, inputs
from buildiso.boottest.accel import AccelChoice
from buildiso.boottest.command import BootTestRequest, boot_test_command, format_table
from buildiso.boottest.results import CellResult, Check, StageStatus, StageTiming, Summary
from buildiso.cli import main
from buildiso.config import Accel, Firmware, Media
from buildiso.errors import BuildError, InputError
from buildiso.render.profile import Profile

MATRIX = ["bios-dvd", "bios-usb", "uefi-dvd", "uefi-usb"]


def _results(tmp_path: Path) -> list[CellResult]:
    ok = CellResult(
        name="bios-dvd", cell="bios-dvd", scenario="install", passed=True, failure_class=None,
        message="ok", accel="tcg", seconds=40.0, artifacts=str(tmp_path / "bios-dvd"),
        stages=(StageTiming("firmware", StageStatus.OK, 0.4),
                StageTiming("packages", StageStatus.OK, 12.25, 12.0)),
        checks=(Check("tls10", True, "disabled"),),
    )  # fmt: skip
    bad = CellResult(
        name="uefi-usb", cell="uefi-usb", scenario="install", passed=False,
        failure_class="timeout-in-stage-packages", message="stuck in stage packages after 900 s",
        accel="tcg", seconds=950.0, artifacts=str(tmp_path / "uefi-usb"),
        stages=(StageTiming("packages", StageStatus.TIMEOUT, 900.0),),
        console_tail=("installing packages (3/10)",),
    )  # fmt: skip
    return [ok, bad]


def test_table_has_a_row_per_cell_with_stage_times(tmp_path: Path) -> None:
    table = format_table(_results(tmp_path)).splitlines()
    assert table[0].split() == ["cell", "result", "firmware", "packages", "total"]
    assert table[1].split() == ["bios-dvd", "pass", "0.4", "12.2", "40.0"]
    assert table[2].split() == [
        "uefi-usb", "FAIL:timeout-in-stage-packages", "-", "900.0!", "950.0",
    ]  # fmt: skip


def test_table_shows_a_scenarios_own_stages_in_order(tmp_path: Path) -> None:
    result = CellResult(
        name="bios-dvd-appendix-a", cell="bios-dvd", scenario="appendix-a", passed=False,
        failure_class="packages", message="step-5 failed", accel="tcg", seconds=60.0,
        artifacts=str(tmp_path),
        stages=(StageTiming("kernel", StageStatus.OK, 20.0),
                StageTiming("server-boot", StageStatus.OK, 30.0),
                StageTiming("step-5", StageStatus.FAILED, 9.0)),
    )  # fmt: skip
    table = format_table([result])
    assert table.splitlines()[0].split() == ["cell", "result", "kernel", "server-boot",
                                             "step-5", "total"]  # fmt: skip
    assert "9.0!" in table and "FAIL:packages" in table


def _request(tmp_path: Path, **overrides: Any) -> BootTestRequest:
    iso = tmp_path / "EMAIL_490_190.iso"
    if not iso.exists():
        iso.write_bytes(b"\0" * 2048)
    fields: dict[str, Any] = dict(iso=iso, jobs=1, accel=Accel.TCG, artifacts=tmp_path / "art")
    fields.update(overrides)
    return BootTestRequest(**fields)


def _run(request: BootTestRequest, scripts: dict[str, Script], **kw: Any) -> Summary:
    return boot_test_command(
        request, out=kw.pop("out", io.StringIO()), limits=dict.fromkeys(TIMEOUTS, 10.0),
        accel_chooser=kw.pop("accel_chooser", lambda a: AccelChoice(Accel.TCG, "asked")),
        machines=FakeFactory(time.monotonic, scripts), **kw,
    )  # fmt: skip


@pytest.fixture
def menus(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(inputs, "read_menu", lambda iso, firmware: MENU)


@pytest.mark.usefixtures("menus")
def test_command_exit_status_table_summary_and_junit(tmp_path: Path, profile: Profile) -> None:
    good = quick(install_script(report=good_report(profile)))
    broken = [item for item in good
              if "INSTALL-RESULT" not in item[3] and "name=post status=ok" not in item[3]]
    broken.append(("key1", 0.7, "protocol",
                   'INSTALL-RESULT status=failed class=post reason="%post exited with 1"\n'))
    scripts = {"bios-dvd": good, "bios-usb": good, "uefi-dvd": broken, "uefi-usb": good}
    out = io.StringIO()
    request = _request(tmp_path, matrix=True, jobs=2, accel=Accel.AUTO,
                       junit=tmp_path / "junit.xml")  # fmt: skip
    with pytest.raises(BuildError, match=r"1 of 4 cell\(s\); uefi-dvd: \[post\] %post exited "
                       "with 1") as err:  # fmt: skip
        _run(request, scripts, out=out,
             accel_chooser=lambda a: AccelChoice(Accel.TCG, "KVM unusable; using TCG"))
    assert err.value.exit_code == 1
    text = out.getvalue()
    assert "uefi-dvd" in text and "FAIL:post" in text and "accel tcg" in text
    root = ET.parse(tmp_path / "junit.xml").getroot()
    assert len([c for c in root.iter("testcase") if c.find("failure") is not None]) == 1
    summary = Summary.load(tmp_path / "art" / "summary.json")  # read back by its own type
    written = json.loads((tmp_path / "art" / "summary.json").read_text())["cells"][0]["stages"]
    assert list(written)[:3] == ["firmware", "menu", "kernel"]  # in the order they ran
    assert summary.matrix_cells == tuple(MATRIX) and summary.scenario == "install"
    (tested,) = summary.isos
    assert tested.role == "iso"
    assert tested.sha256 == hashlib.sha256(request.iso.read_bytes()).hexdigest()
    assert (tested.product, tested.version, tested.build) == (profile.product, profile.version,
                                                             profile.build)  # fmt: skip
    scripts["uefi-dvd"] = good  # all cells pass: no exception
    assert all(c.passed for c in _run(request, scripts).cells)


@pytest.mark.usefixtures("menus")
def test_single_cell_without_matrix(tmp_path: Path, profile: Profile) -> None:
    factory = FakeFactory(time.monotonic,
                          {"uefi-usb": quick(install_script(report=good_report(profile)))})
    boot_test_command(_request(tmp_path, firmware=Firmware.UEFI, media=Media.USB),
                      out=io.StringIO(), accel_chooser=lambda a: AccelChoice(Accel.TCG, "x"),
                      limits=dict.fromkeys(TIMEOUTS, 10.0), machines=factory)  # fmt: skip
    assert [(s.firmware, s.media) for s in factory.specs] == [(Firmware.UEFI, Media.USB)]


def test_a_file_that_is_no_iso_is_bad_input(tmp_path: Path) -> None:
    junk = tmp_path / "EMAIL_490_190.iso"
    junk.write_bytes(b"not an ISO" * 1000)
    with pytest.raises(InputError, match="not a readable ISO 9660 image") as err:
        _run(_request(tmp_path), {})
    assert err.value.exit_code == 2
    assert not (tmp_path / "art" / "bios-dvd").exists()  # nothing booted


def test_timeout_scale_reaches_every_cell(tmp_path: Path, profile: Profile) -> None:
    full = quick(install_script(report=good_report(profile)))
    stuck = cut_after(full, "name=packages status=start")
    art = tmp_path / "art"
    failed = run_shard(tmp_path, artifacts=art, scripts={"bios-dvd": stuck},
                       cell_names=("bios-dvd",), timeout_scale=0.15)  # fmt: skip
    assert isinstance(failed, BuildError)
    result = json.loads((art / "bios-dvd" / "result.json").read_text())
    assert result["failure_class"] == "timeout-in-stage-packages"
    # run_shard's limit is 10 s a stage: scaled to 1.5 s
    assert 1.5 < result["stages"]["packages"]["seconds"] < 5


def test_a_previous_runs_timings_weigh_the_cells(tmp_path: Path, profile: Profile) -> None:
    scenario = command.load_scenario("install")
    by_default = command.cell_seconds(scenario, None)
    cells = {c.name: c for c in scenario.matrix}
    assert by_default(cells["uefi-usb"]) == scenario.expected_s["uefi-usb"]
    previous = tmp_path / "previous"
    script = quick(install_script(report=good_report(profile)))
    assert run_shard(tmp_path, artifacts=previous, scripts={"bios-usb": script},
                     cell_names=("bios-usb",)) is None  # fmt: skip
    measured = command.cell_seconds(scenario, previous)
    ran = Summary.load(previous / "summary.json").cells[0].seconds
    assert measured(cells["bios-usb"]) == ran  # measured beats the scenario's figure
    assert measured(cells["uefi-usb"]) == scenario.expected_s["uefi-usb"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "appendix-a", "--matrix"], "runs on bios-dvd only: it has no --matrix"),
        (["--scenario", "appendix-a", "--firmware", "uefi"],
         "--scenario appendix-a runs on bios-dvd only, not uefi-dvd"),
        (["--scenario", "upgrade"], "--scenario upgrade needs --from OLD.iso"),
        (["--scenario", "upgrade", "--from", "{tmp}/missing.iso"],
         "missing.iso: --from is not a file"),
        (["--from", "{tmp}/x.iso"], "--from is only for a scenario with a previous-release "
         "input (upgrade); --scenario install has none"),
        (["--scenario", "appendix-a", "--from", "{tmp}/x.iso"],
         "--scenario appendix-a has none"),
        (["--scenario", "upgrade", "--from", "{tmp}/x.iso", "--firmware", "uefi"],
         "--scenario upgrade runs on bios-dvd only, not uefi-dvd"),
        (["--scenario", "nonesuch"], "no such shipped scenario (shipped: appendix-a, "),
        (["--scenario", "{tmp}/mine.toml"], "mine.toml: cannot read the scenario"),
        (["--shard", "1/2"], "--shard and --cells select from the matrix"),
    ],
)  # fmt: skip
def test_cli_refuses_in_one_line_before_booting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"not booted")
    code = main(["boot-test", str(iso), "--accel", "tcg", "--artifacts", str(tmp_path / "a"),
                 *(a.format(tmp=tmp_path) for a in args)])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1
    assert not (tmp_path / "a").exists()


def test_list_steps_prints_the_vocabulary(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["boot-test", "--list-steps"]) == 0
    out = capsys.readouterr().out
    for step in ("boot-media", "choose-entry", "follow-install", "boot-local",
                 "firstboot-report", "install-server", "boot-disk", "login", "type",
                 "inventory", "change-media", "check"):  # fmt: skip
        assert f"\n{step}\n" in out
    assert 'e.g.    { do = "type", command = "mount /dev/cdrom /media/os"' in out
    assert main(["boot-test"]) == 2
    assert "Missing argument 'ISO'" in capsys.readouterr().err
