"""Sample installer: the serial line protocol (PROTOCOL.md) formatting."""

from __future__ import annotations

import base64
import re
from pathlib import Path

import pytest

from buildiso.sample.installer.guest import protocol


def test_stage_line_format() -> None:
    assert protocol.stage_line("packages", "ok", 12.345) == (
        "BUILDISO-STAGE name=packages status=ok t=12.35"
    )
    with pytest.raises(ValueError):
        protocol.stage_line("unpacking", "ok", 1.0)
    with pytest.raises(ValueError):
        protocol.stage_line("packages", "done", 1.0)


def test_failed_result_is_one_line_without_inner_quotes() -> None:
    line = protocol.result_failed_line("packages", 'package "x"\nis missing\tnow')
    assert line == (
        "INSTALL-RESULT status=failed class=packages reason=\"package 'x' is missing now\""
    )
    assert "\n" not in protocol.result_failed_line("post", "a\n" * 500)
    assert len(protocol.one_line("y" * 1000)) == 400


def test_firstboot_report_round_trips() -> None:
    report = b'{"schema": 1, "rpms": ["cs-email-4.9.0-190.x86_64"]}\n'
    line = protocol.firstboot_ok_line(report)
    match = re.fullmatch(r"FIRSTBOOT-RESULT status=ok report=([A-Za-z0-9+/=]+)", line)
    assert match is not None
    assert base64.b64decode(match.group(1)) == report


def test_reporter_writes_every_device_and_tolerates_a_missing_one(tmp_path: Path) -> None:
    good = tmp_path / "console"
    reporter = protocol.Reporter((good, tmp_path / "no-such-dir" / "ttyS1"))
    reporter.stage("media", "start")
    reporter.failed("media", "installation media LABEL=X not found")
    lines = good.read_text().splitlines()
    assert lines[0].startswith("BUILDISO-STAGE name=media status=start t=")
    assert lines[1].startswith("BUILDISO-STAGE name=media status=failed t=")
    assert lines[2] == "ERROR: installation media LABEL=X not found"
    assert lines[3] == (
        'INSTALL-RESULT status=failed class=media reason="installation media LABEL=X not found"'
    )


def test_failure_between_stages_has_no_stage_line(tmp_path: Path) -> None:
    console = tmp_path / "console"
    reporter = protocol.Reporter((console,))
    reporter.stage("packages", "start")
    reporter.stage("packages", "ok")
    reporter.failed("internal", "OSError: boom")
    lines = console.read_text().splitlines()
    assert [ln.split(" t=")[0] for ln in lines[:2]] == [
        "BUILDISO-STAGE name=packages status=start", "BUILDISO-STAGE name=packages status=ok"]
    assert lines[2:] == ["ERROR: OSError: boom",
                         'INSTALL-RESULT status=failed class=internal reason="OSError: boom"']
