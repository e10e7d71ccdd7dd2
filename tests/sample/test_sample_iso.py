"""The sample DVD ISO: label, BIOS + EFI El Torito entries, hybrid MBR/GPT, size."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildiso.sample import iso
from buildiso.sample.base import SampleBase


def _xorriso(*args: str) -> str:
    proc = subprocess.run(["xorriso", *args], capture_output=True, text=True, check=True)
    return proc.stdout + proc.stderr


def test_mkisofs_arguments_have_both_boot_entries() -> None:
    args = iso.mkisofs_args(tree=Path("/t"), iso=Path("/o.iso"))
    assert args[args.index("-V") + 1] == "RHEL-6.10 Server.x86_64"
    assert args.index("-b") < args.index("-eltorito-alt-boot") < args.index("-e")
    assert "-isohybrid-gpt-basdat" in args


@pytest.mark.integration
def test_iso_has_bios_and_efi_boot_entries(sample_base: SampleBase) -> None:
    report = _xorriso("-indev", str(sample_base.iso), "-report_el_torito", "plain")
    entries = [line for line in report.splitlines() if line.startswith("El Torito boot img :")]
    platforms = [line.split()[6] for line in entries]
    assert platforms == ["BIOS", "UEFI"], report
    assert "/isolinux/isolinux.bin" in report
    assert "/images/efiboot.img" in report


@pytest.mark.integration
def test_iso_label_hybrid_and_size(sample_base: SampleBase) -> None:
    report = _xorriso("-indev", str(sample_base.iso), "-pvd_info", "-report_system_area", "plain")
    assert "Volume Id    : RHEL-6.10 Server.x86_64" in report
    assert "MBR isohybrid" in report
    assert "GPT array CRC wrong" not in report
    assert "GPT partition path :   2  /images/efiboot.img" in report
    assert sample_base.iso.stat().st_size < 300 * 1024 * 1024
