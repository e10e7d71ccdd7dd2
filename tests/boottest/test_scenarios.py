"""buildiso.boottest.scenarios and server: what runs before any guest boots."""

from __future__ import annotations

import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso.boottest.bootcell import Cell, CellResult
from buildiso.boottest.console import CommandResult
from buildiso.boottest.matrix import format_table, write_junit
from buildiso.boottest.postreport import CheckResult
from buildiso.boottest.scenarios import APPENDIX_A_STEPS, reason, run_scenario
from buildiso.boottest.server import KICKSTART_TEMPLATE
from buildiso.cli import main
from buildiso.config import Firmware, Media, Scenario
from buildiso.errors import InputError
from buildiso.render.password import hash_password
from buildiso.render.profile import Profile


def test_the_guides_commands_exactly_as_printed() -> None:
    assert [c for _, c, _ in APPENDIX_A_STEPS] == [
        "mkdir -p /media/os",
        "mount /dev/cdrom /media/os",
        "rpm -ivh /media/os/cs-repo/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm",
        "yum remove -y postfix rsyslog samba-common",
        "yum install -y cs-email --enablerepo=cs-*",
    ]


def test_the_reason_of_a_failed_step_names_the_conflict() -> None:
    out = (
        "Error: \n Problem: package cs-email-4.9.0-190.x86_64 conflicts with postfix provided "
        "by postfix-2:2.6.6-8.el6.x86_64\n  - conflicting requests\n"
    )
    found = reason(CommandResult(command="yum", output=out, status=1, seconds=1))
    assert found == "conflicts with postfix provided by postfix-2:2.6.6-8.el6.x86_64"
    tail = reason(CommandResult(command="x", output="a\nb\nlast words\n", status=1, seconds=1))
    assert tail == "b; last words"


def test_the_minimal_server_kickstart_is_valid_rhel6(tmp_path: Path) -> None:
    ks = tmp_path / "ks.cfg"
    root_hash = hash_password("Bt-Only-For-Tests-9x", salt="t")
    ks.write_text(KICKSTART_TEMPLATE.read_text().format(root_hash=root_hash))
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("ksvalidator")), "-v", "RHEL6", str(ks)],
        capture_output=True, text=True, check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    text = ks.read_text()
    assert "part / --fstype=ext4 --size=20480" in text and "part /var " in text
    assert "cs-" not in text  # nothing of the product on the existing server


@pytest.mark.parametrize(
    ("scenario", "cells", "message"),
    [
        (Scenario.UPGRADE, [Cell(Firmware.BIOS, Media.DVD)], "upgrade.upgrade_results"),
        (Scenario.APPENDIX_A, [Cell(Firmware.UEFI, Media.DVD)], "bios-dvd only"),
        (Scenario.UPGRADE, [Cell(Firmware.BIOS, Media.USB)], "upgrade runs on bios-dvd only"),
    ],
)
def test_unsupported_runs_are_refused_before_anything_boots(
    tmp_path: Path, scenario: Scenario, cells: list[Cell], message: str
) -> None:
    def no_config(cell: Cell, art: Path) -> None:
        raise AssertionError("must not get this far")

    with pytest.raises(InputError, match=message):
        run_scenario(scenario=scenario, iso=tmp_path / "x.iso", rhel_iso=tmp_path / "r.iso",
                     cell_config=no_config, cells=cells, artifacts=tmp_path, disk_mb=1)  # type: ignore[arg-type]
    assert not any(tmp_path.iterdir())


def test_table_and_junit_show_a_scenarios_own_stages_and_checks(
    tmp_path: Path, profile: Profile
) -> None:
    result = CellResult(
        cell=Cell(Firmware.BIOS, Media.DVD),
        passed=False,
        failure_class="packages",
        message="step-5 failed",
        stages={
            "kernel": {"seconds": 20.0, "status": "ok"},
            "server-boot": {"seconds": 30.0, "status": "ok"},
            "step-5": {"seconds": 9.0, "status": "failed"},
        },
        checks=[CheckResult(name="gateway-version", ok=False, message="cs-email missing")],
        artifacts=tmp_path,
        accel="tcg",
        seconds=60.0,
    )
    table = format_table([result])
    assert table.splitlines()[0].split() == ["cell", "result", "kernel", "server-boot",
                                             "step-5", "total"]
    assert "9.0!" in table and "FAIL:packages" in table
    junit = tmp_path / "junit.xml"
    write_junit([result], junit, profile=profile)
    names = [c.get("name") for c in ET.parse(junit).getroot().iter("testcase")]
    assert names == ["install-and-first-boot", "gateway-version"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--scenario", "appendix-a", "--matrix"], "runs on bios-dvd only"),
        (["--scenario", "upgrade"], "--scenario upgrade needs --from OLD.iso"),
        (["--scenario", "upgrade", "--from", "{tmp}/missing.iso"],
         "missing.iso: --from is not a file"),
        (["--from", "{tmp}/x.iso"], "--from is only for --scenario upgrade"),
        (["--scenario", "appendix-a", "--from", "{tmp}/x.iso"],
         "--from is only for --scenario upgrade"),
        (["--scenario", "upgrade", "--from", "{tmp}/x.iso", "--firmware", "uefi"],
         "--scenario upgrade runs on bios-dvd only, not uefi-dvd"),
    ],
)
def test_cli_refuses_in_one_line_before_booting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"not booted")
    code = main(["boot-test", str(iso), "--accel", "tcg", "--artifacts", str(tmp_path / "a"),
                 *(a.format(tmp=tmp_path) for a in args)])
    err = capsys.readouterr().err
    assert code == 2
    assert message in err and "Traceback" not in err
    assert not (tmp_path / "a").exists()
