"""The installation guide's Appendix C stick (Rufus, ISO Image mode) on BIOS and UEFI.

``--media usb-files``: the ISO's files on a FAT32 stick labelled as Rufus labels it
(boottest/usbfiles.py), syslinux installed on it, ``EFI/BOOT`` as copied. Both cells must
install and boot the installed disk with every post-install check passing: the shipped
volume label (11 characters) survives FAT, so the install entries find their media.
A 13-character label (the old ``EMAIL_490_190``) is refused by the profile, so a stick of
an ISO with such a label is tested in tests/boottest/test_usbfiles.py only.

Measured figures: ``pytest -s``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from buildiso.boottest import matrix as boottest
from buildiso.boottest.accel import choose_accel
from buildiso.boottest.bootcell import Cell
from buildiso.config import Accel, Firmware, Media
from buildiso.render.profile import Profile

pytestmark = pytest.mark.vm


def test_rufus_iso_mode_stick_installs_on_bios_and_uefi(
    built_iso: Path, profile: Profile, tmp_path: Path
) -> None:
    cells = [Cell(Firmware.BIOS, Media.USB_FILES), Cell(Firmware.UEFI, Media.USB_FILES)]
    started = time.monotonic()
    results = boottest.run_boot_test(
        iso=built_iso,
        profile=profile,
        cells=cells,
        jobs=2,
        accel=choose_accel(Accel.AUTO).accel,
        artifacts=tmp_path,
    )
    print(f"\n{boottest.format_table(results)}\nwall {time.monotonic() - started:.0f} s")
    for result in results:
        assert result.passed, f"{result.cell.name}: [{result.failure_class}] {result.message}"
        assert all(c.ok for c in result.checks) and len(result.checks) == 12
        assert result.stages["firstboot"]["status"] == "ok"
    assert (tmp_path / "usb-files.img").stat().st_size > built_iso.stat().st_size
