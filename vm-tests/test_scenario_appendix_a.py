"""``buildiso boot-test --scenario appendix-a`` for real: the installation guide's Appendix A.

A Minimal RHEL 6.10 server is installed from the sample base ISO (no gateway), boots its
disk with ``EMAIL_490_190.iso`` in the DVD drive, and root types the guide's five commands
on the serial console; then rpm and yum on the server are asked what happened.

1. As printed: passes; the console log shows each command as typed, followed by its
   output; the checks (gateway version, the three gone, cs-* repositories disabled, vendor
   key imported) all ran and passed.
2. Step 4 skipped (postfix still there): step 5 fails with class ``packages`` and the
   conflict with postfix named.

Measured figures (wall time, per-stage seconds) are printed: ``pytest -s``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildiso.boottest.accel import choose_accel
from buildiso.boottest.bootcell import Cell, CellResult
from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.console import echoed
from buildiso.boottest.matrix import format_table
from buildiso.boottest.scenarios import APPENDIX_A_STEPS, scenario_results
from buildiso.config import Accel, Firmware, Media, Scenario
from buildiso.render.profile import Profile
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

BIOS_DVD = Cell(Firmware.BIOS, Media.DVD)


def _run(
    *, iso: Path, base: SampleBase, profile: Profile, artifacts: Path, skip: frozenset[str]
) -> CellResult:
    (result,) = scenario_results(
        scenario=Scenario.APPENDIX_A,
        iso=iso,
        profile=profile,
        cells=[BIOS_DVD],
        accel=choose_accel(Accel.AUTO).accel,
        artifacts=artifacts,
        server_base=base.iso,
        timeouts=None,
        skip_steps=skip,
    )
    print("\n" + format_table([result]))
    print(f"{result.cell.name}: {result.seconds:.0f} s; {result.message}")
    return result


def test_appendix_a_as_printed_passes(
    built_iso: Path, sample_base: SampleBase, profile: Profile, tmp_path: Path
) -> None:
    result = _run(iso=built_iso, base=sample_base, profile=profile, artifacts=tmp_path,
                  skip=frozenset())
    assert result.passed, f"[{result.failure_class}] {result.message}"
    assert {c.name for c in result.checks} == {
        "gateway-version", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
    }
    assert all(c.ok for c in result.checks)
    # every command as typed, in order, each followed by its output
    console = strip_ansi((result.artifacts / "appendix-a" / "console.log").read_text())
    at = 0
    for _, command, _ in APPENDIX_A_STEPS:
        # the shell's line editor wraps long lines: the echo may hold line breaks
        found = re.compile(r"# " + echoed(command)).search(console, at)
        assert found, f"{command!r} not on the console after offset {at}"
        at = found.end()
    assert "Complete!" in console[at:]  # yum's own last word after step 5
    transcript = json.loads((result.artifacts / "transcript.json").read_text())
    assert [t["command"] for t in transcript] == [c for _, c, _ in APPENDIX_A_STEPS]
    assert all(t["status"] == 0 for t in transcript)
    for stage in ("kernel", "packages", "server-boot", "step-5", "checks"):
        assert result.stages[stage]["status"] == "ok", stage


def test_appendix_a_without_step_4_fails_at_step_5_naming_the_conflict(
    built_iso: Path, sample_base: SampleBase, profile: Profile, tmp_path: Path
) -> None:
    result = _run(iso=built_iso, base=sample_base, profile=profile, artifacts=tmp_path,
                  skip=frozenset({"step-4"}))
    assert not result.passed
    assert result.failure_class == "packages"
    assert "step-5" in result.message and "conflicts with postfix" in result.message
    assert result.stages["step-5"]["status"] == "failed"
    assert "step-4" not in result.stages
