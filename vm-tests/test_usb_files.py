"""The installation guide's Appendix C stick (Rufus, ISO Image mode) on BIOS and UEFI.

``--media usb-files``: the ISO's files on a FAT32 stick labelled as Rufus labels it
(boottest/usbfiles.py), syslinux installed on it, ``EFI/BOOT`` as copied. The test writes a
scenario file of its own: the shipped install with the two usb-files cells as its matrix,
so both run side by side through the CLI. Both cells must
install and boot the installed disk with every post-install check passing: the shipped
volume label (11 characters) survives FAT, so the install entries find their media.
A 13-character label (the old ``EMAIL_490_190``) is refused by the profile, so a stick of
an ISO with such a label is tested in tests/boottest/test_usbfiles.py only.

Measured figures: ``pytest -s``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest

from buildiso.boottest.scenarioreader import load_scenario
from buildiso.cli import main

pytestmark = [pytest.mark.vm, pytest.mark.guests(2)]  # cells two at a time

CELLS = ["bios-usb-files", "uefi-usb-files"]


def test_rufus_iso_mode_stick_installs_on_bios_and_uefi(built_iso: Path, tmp_path: Path) -> None:
    install = Path(load_scenario("install").source).read_text()
    matrix = 'matrix = ["bios-dvd", "bios-usb", "uefi-dvd", "uefi-usb"]'
    assert matrix in install
    mine = tmp_path / "rufus-sticks.toml"
    mine.write_text(install.replace(matrix, f"matrix = {json.dumps(CELLS)}"))
    art = tmp_path / "art"
    started = time.monotonic()
    code = main(["boot-test", str(built_iso), "--scenario", str(mine), "--matrix",
                 "--jobs", "2", "--artifacts", str(art)])  # fmt: skip
    print(f"\nwall {time.monotonic() - started:.0f} s")
    summary = json.loads((art / "summary.json").read_text())
    results = {c["cell"]: c for c in summary["cells"]}
    assert sorted(results) == CELLS
    for name, result in results.items():
        assert result["passed"], f"{name}: [{result['failure_class']}] {result['message']}"
        assert all(c["ok"] for c in result["checks"]) and len(result["checks"]) == 12
        assert result["stages"]["firstboot"]["status"] == "ok"
    assert code == 0
    assert (art / "usb-files.img").stat().st_size > built_iso.stat().st_size
