"""``buildiso boot-test --scenario appendix-a`` for real: the installation guide's Appendix A.

A Minimal RHEL 6.10 server is installed from the sample base ISO (no gateway), boots its
disk with ``EMAIL_490_190.iso`` in the DVD drive, and root types the guide's five commands
on the serial console; then rpm and yum on the server are asked what happened. Both runs
go through the CLI and the scenario runner.

1. As printed (the shipped ``appendix-a.toml``): passes; the console log shows each command
   as typed, followed by its output; the checks (gateway version, the three gone, cs-*
   repositories disabled, vendor key imported) all ran and passed.
2. A scenario file of the test's own: the same without step 4 (postfix still there):
   step 5 fails with class ``packages`` and the conflict with postfix named.

Measured figures (wall time, per-stage seconds) are printed: ``pytest -s``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.console import echoed
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.cli import main
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

SHIPPED = load_scenario("appendix-a")
GUIDE = [str(c.params["command"]) for c in SHIPPED.steps if c.kind == "type"]


def _run(capsys: pytest.CaptureFixture[str], iso: Path, base: SampleBase, scenario: str,
         art: Path) -> tuple[int, dict[str, object]]:  # fmt: skip
    capsys.readouterr()
    code = main(["boot-test", str(iso), "--scenario", scenario, "--server-base", str(base.iso),
                 "--artifacts", str(art)])  # fmt: skip
    print("\n" + capsys.readouterr().out)
    (cell,) = json.loads((art / "summary.json").read_text())["cells"]
    print(f"{cell['cell']}: {cell['seconds']:.0f} s; {cell['message']}")
    return code, cell


def test_appendix_a_as_printed_passes(
    built_iso: Path, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, result = _run(capsys, built_iso, sample_base, "appendix-a", tmp_path)
    assert code == 0, f"[{result['failure_class']}] {result['message']}"
    checks = result["checks"]
    assert isinstance(checks, list)
    assert {c["name"] for c in checks} == {
        "gateway-version", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
    }  # fmt: skip
    assert all(c["ok"] for c in checks)
    art = tmp_path / "bios-dvd-appendix-a"
    # every command as typed, in order, each followed by its output
    console = strip_ansi((art / "appendix-a" / "console.log").read_text())
    at = 0
    for command in GUIDE:
        # the shell's line editor wraps long lines: the echo may hold line breaks
        found = re.compile(r"# " + echoed(command)).search(console, at)
        assert found, f"{command!r} not on the console after offset {at}"
        at = found.end()
    assert "Complete!" in console[at:]  # yum's own last word after step 5
    transcript = json.loads((art / "transcript.json").read_text())
    steps = [t for t in transcript if t["stage"].startswith("step-")]
    assert [t["command"] for t in steps] == GUIDE and all(t["status"] == 0 for t in steps)
    stages = result["stages"]
    assert isinstance(stages, dict)
    for stage in ("kernel", "packages", "server-boot", "login", "step-5", "checks"):
        assert stages[stage]["status"] == "ok", stage
    assert (art / "server-install" / "console.log").is_file()


def test_a_scenario_file_without_step_4_fails_at_step_5_naming_the_conflict(
    built_iso: Path, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = Path(SHIPPED.source).read_text()
    step4 = re.search(r'\[\[steps\]\]\ndo = "type"\ncommand = "yum remove[^\[]*', text)
    assert step4 is not None
    mine = tmp_path / "appendix-a-without-step-4.toml"
    mine.write_text(text.replace(step4.group(0), ""))
    code, result = _run(capsys, built_iso, sample_base, str(mine), tmp_path / "art")
    assert code == 1
    assert result["failure_class"] == "packages"
    message = str(result["message"])
    assert "step-5" in message and "conflicts with postfix" in message
    stages = result["stages"]
    assert isinstance(stages, dict)
    assert stages["step-5"]["status"] == "failed" and "step-4" not in stages
