"""buildiso.boottest.progress: live stage and elapsed time per cell (terminal and CI logs)."""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from bootfakes import FakeClock, good_report, install_script, quick, run_shard

from buildiso.boottest import progress as progress_mod
from buildiso.boottest.progress import Progress
from buildiso.render.profile import Profile


def test_plain_lines_on_stage_changes_and_a_heartbeat() -> None:
    clock = FakeClock()
    out = io.StringIO()
    prog = Progress(["bios-dvd", "uefi-usb"], stream=out, tty=False, clock=clock)
    prog.stage("bios-dvd", "firmware")
    clock.sleep(3)
    prog.stage("bios-dvd", "firmware")  # same stage: nothing new
    prog.stage("bios-dvd", "menu")
    clock.sleep(40)
    prog.stage("uefi-usb", "firmware")
    lines = out.getvalue().splitlines()
    assert len(lines) == 3
    assert lines[1].split() == ["progress:", "bios-dvd", "menu", "0", "s", "(cell", "3", "s)"]
    assert lines[2].split()[:3] == ["progress:", "uefi-usb", "firmware"]
    prog.heartbeat()  # < 60 s since the start: quiet
    assert len(out.getvalue().splitlines()) == 3
    clock.sleep(30)
    prog.heartbeat()
    beat = out.getvalue().splitlines()[-1]
    assert "bios-dvd  menu           70 s  (cell 73 s)" in beat and "uefi-usb" in beat
    assert "\x1b" not in out.getvalue()  # no terminal codes in a CI log


def test_terminal_block_is_redrawn_in_place_with_logs_above_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(progress_mod, "REDRAW_S", 3600.0)  # redraws only when asked here
    clock = FakeClock()
    out = io.StringIO()
    prog = Progress(["bios-dvd", "uefi-dvd"], stream=out, tty=True, clock=clock)
    logger = logging.getLogger("buildiso.test-progress")
    logger.propagate = False
    logger.handlers[:] = [logging.StreamHandler(out)]
    logger.setLevel(logging.INFO)
    with prog.shown(logger):
        first = out.getvalue()
        assert first.splitlines() == ["bios-dvd  waiting", "uefi-dvd  waiting"]
        prog.stage("bios-dvd", "kernel")
        clock.sleep(12)
        prog.redraw()
        redrawn = out.getvalue()[len(first) :]
        assert redrawn.startswith("\x1b[2F\x1b[J")
        assert "bios-dvd  kernel         12 s  (cell 12 s)" in redrawn
        mark = len(out.getvalue())
        logger.info("uefi-dvd: booting")
        logged = out.getvalue()[mark:]
        # block cleared, the log line, then the block again below it
        assert logged.startswith("\x1b[2F\x1b[Juefi-dvd: booting\nbios-dvd  kernel")
        prog.done("bios-dvd", passed=True, seconds=45.2, failure=None)
        prog.done("uefi-dvd", passed=False, seconds=80, failure="post")
    final = out.getvalue().rsplit("\x1b[J", 1)[1].splitlines()
    assert final == ["bios-dvd  passed in 45 s", "uefi-dvd  FAILED [post] in 80 s"]
    assert all(not isinstance(h, progress_mod._AboveProgress) for h in logger.handlers)


def test_a_matrix_run_reports_each_cells_stages(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="buildiso")
    out = io.StringIO()
    script = quick(install_script(report=good_report(profile)))
    failed = run_shard(
        tmp_path, artifacts=tmp_path / "art", scripts={"bios-dvd": script, "uefi-dvd": script},
        cell_names=["bios-dvd", "uefi-dvd"], progress_stream=out,
    )  # fmt: skip
    assert failed is None
    for cell in ("bios-dvd", "uefi-dvd"):
        stages = [
            line.split()[2] for line in out.getvalue().splitlines() if line.split()[1] == cell
        ]
        assert stages[:3] == ["firmware", "menu", "kernel"] and stages[-1] == "firstboot"


def test_quiet_runs_print_no_progress(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="buildiso")  # what --quiet sets
    out = io.StringIO()
    script = quick(install_script(report=good_report(profile)))
    run_shard(tmp_path, artifacts=tmp_path / "art", scripts={"bios-dvd": script},
              cell_names=["bios-dvd"], progress_stream=out)  # fmt: skip
    assert out.getvalue() == ""
