"""``buildiso boot-test`` on the profile's other disk layouts: ``lvm`` and ``raid1``.

Each builds the product ISO from the sample base with the shipped profile set to the
layout (``[storage] layout``), then runs one BIOS DVD cell: the boot test gives the VM
the disks the layout needs (raid1: two), installs, boots the installed disk(s) and checks
the post-install report, including ``storage-layout`` (each mount's device: an LVM volume
or a RAID 1 array, arrays clean) and the file-system sizes. The degraded RAID 1 boot (either
disk alone) is vm-tests/test_sample_storage.py's.
"""

from __future__ import annotations

import dataclasses
import time
from pathlib import Path

import pytest
from test_boot_matrix import _build_variant, _one_cell, accel  # noqa: F401 (fixture)

from buildiso.boottest.accel import AccelChoice
from buildiso.boottest.bootproto import DEFAULT_TIMEOUTS
from buildiso.render.profile import DiskLayout, Profile

pytestmark = pytest.mark.vm


@pytest.mark.parametrize("disk_layout", [DiskLayout.LVM, DiskLayout.RAID1], ids=str)
def test_layout_cell_installs_and_boots(
    sample_base: object,
    profile: Profile,
    accel: AccelChoice,  # noqa: F811
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    disk_layout: DiskLayout,
) -> None:
    chosen = dataclasses.replace(profile, disk_layout=disk_layout)
    iso = _build_variant(sample_base, tmp_path / "out", monkeypatch, profile=chosen)
    started = time.monotonic()
    result = _one_cell(iso, chosen, accel, tmp_path / "art", timeouts=dict(DEFAULT_TIMEOUTS))
    assert result.passed, f"[{result.failure_class}] {result.message}"
    checks = {c.name: c for c in result.checks}
    assert checks["storage-layout"].ok, checks["storage-layout"].message
    want = "/dev/md" if disk_layout is DiskLayout.RAID1 else "/dev/"
    assert f"/ on {want}" in checks["storage-layout"].message
    assert checks["filesystem-size /var"].ok and checks["filesystem-size /"].ok
    print(
        f"\n[{disk_layout.value}] cell passed in {time.monotonic() - started:.0f} s: "
        f"{checks['storage-layout'].message}"
    )
