"""A scenario of the test's own, written as a QA engineer would, run for real through the CLI.

``menu-check``: boot the shipped ISO on BIOS and UEFI, wait for each firmware's menu, check
it against the profile and press the keys of the serial-console install entry; the scenario
ends there (the machine is stopped as its boot loader starts the installer). No Python
beyond the file: the steps are the vocabulary's. Figures: ``pytest -s``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from buildiso.boottest.screendump import png_size
from buildiso.cli import main

pytestmark = pytest.mark.vm

SCENARIO = """\
[scenario]
name = "menu-check"
proves = "the ISO boots to the profile's menu on both firmwares and takes the install entry"

[cells]
allowed = ["bios-dvd", "uefi-dvd"]
matrix = ["bios-dvd", "uefi-dvd"]

[inputs]
iso = "product-iso"

[[steps]]
do = "boot-media"
media = "iso"
limit = 120

[[steps]]
do = "choose-entry"
entry = "serial-install"
stage = "boot-menu"
limit = 90
"""
# The boot loaders' screens: vesamenu's 640x480 (SeaBIOS), GRUB's gfxterm under OVMF.
MENU_SIZES = {"bios-dvd": (640, 480), "uefi-dvd": (1280, 800)}  # GOP mode (docs/design.md)


def test_a_scenario_file_of_ones_own_runs(
    built_iso: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    mine = tmp_path / "menu-check.toml"
    mine.write_text(SCENARIO)
    art = tmp_path / "art"
    started = time.monotonic()
    code = main(["boot-test", str(built_iso), "--scenario", str(mine), "--matrix",
                 "--artifacts", str(art), "--junit", str(tmp_path / "junit.xml")])  # fmt: skip
    out = capsys.readouterr().out
    print(f"\n{out}(wall {time.monotonic() - started:.1f} s)")
    summary = json.loads((art / "summary.json").read_text())
    cells = {c["cell"]: c for c in summary["cells"]}
    assert code == 0, {n: (c["failure_class"], c["message"]) for n, c in cells.items()}
    assert summary["scenario"] == "menu-check"
    assert sorted(cells) == ["bios-dvd-menu-check", "uefi-dvd-menu-check"]
    for name, cell in cells.items():
        assert list(cell["stages"]) == ["firmware", "boot-menu"]
        assert all(s["status"] == "ok" for s in cell["stages"].values())
        assert cell["menu_screenshot"]["colours"] > 1  # not a blank screen
        machine = name.removesuffix("-menu-check")
        assert png_size(art / name / "menu.png") == MENU_SIZES[machine]
        assert not list((art / name).glob("disk*.qcow2"))  # a passed cell's disks dropped
    assert "boot-menu" in out.splitlines()[0]  # the table names the file's own stage
