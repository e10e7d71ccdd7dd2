"""``buildiso boot-test`` on the profile's other disk layouts: ``lvm`` and ``raid1``.

Each builds the product ISO from the sample base with the shipped profile set to the
layout (``[storage] layout``), then runs a BIOS and a UEFI DVD cell side by side: the boot
test gives the VM the disks the layout needs (raid1: two), installs, boots the installed
disk(s) and checks the post-install report, including ``storage-layout`` (each mount's
device: an LVM volume or a RAID 1 array, arrays clean) and the file-system sizes. On UEFI
the layout's ``%pre`` adds the EFI system partition (a plain partition on the first disk:
RHEL 6 cannot put /boot/efi on an array), so the UEFI cell covers the other half of the
rendered layout. The degraded RAID 1 boot (either disk alone) is
vm-tests/test_sample_storage.py's.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from test_boot_matrix import _build_variant, accel, run_cells  # noqa: F401 (fixture)

from buildiso.boottest.accel import AccelChoice
from buildiso.boottest.scenario import Cell
from buildiso.config import Firmware, Media
from buildiso.render.profile import DiskLayout, Profile

pytestmark = [pytest.mark.vm, pytest.mark.guests(2)]  # cells two at a time

CELLS = [Cell(Firmware.BIOS, Media.DVD), Cell(Firmware.UEFI, Media.DVD)]


@pytest.mark.parametrize("disk_layout", [DiskLayout.LVM, DiskLayout.RAID1], ids=str)
def test_layout_cells_install_and_boot(
    sample_base: object,
    profile: Profile,
    accel: AccelChoice,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    disk_layout: DiskLayout,
) -> None:
    chosen = dataclasses.replace(profile, disk_layout=disk_layout)
    iso = _build_variant(sample_base, tmp_path / "out", monkeypatch, profile=chosen)
    results = run_cells(iso, chosen, accel, tmp_path / "art", CELLS)
    want = "/dev/md" if disk_layout is DiskLayout.RAID1 else "/dev/"
    for result in results:
        assert result.passed, f"{result.name}: [{result.failure_class}] {result.message}"
        checks = {c.name: c for c in result.checks}
        assert checks["storage-layout"].ok, checks["storage-layout"].message
        assert f"/ on {want}" in checks["storage-layout"].message
        assert checks["filesystem-size /var"].ok and checks["filesystem-size /"].ok
        print(f"[{disk_layout.value}/{result.name}] {checks['storage-layout'].message}")
    uefi = {c.name: c for c in results[1].checks}
    # the EFI system partition is a plain partition beside the arrays / volumes
    assert "/boot/efi on /dev/" in uefi["storage-layout"].message, uefi["storage-layout"].message
    assert "/boot/efi on /dev/md" not in uefi["storage-layout"].message
