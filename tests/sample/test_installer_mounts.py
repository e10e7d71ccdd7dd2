"""Sample installer: /etc/fstab as anaconda 13 writes it and the mounts made for the install
(storage/__init__.py FSSet.fstab, FSSet.mountFilesystems)."""

from __future__ import annotations

import pytest

from buildiso.sample.installer.guest import mounts
from buildiso.sample.installer.guest.disk import EFI_FSOPTIONS, PartRequest


def _req(mount: str, fstype: str = "ext4", fsoptions: str = "") -> PartRequest:
    return PartRequest(mount, 100, False, None, fstype, fsoptions=fsoptions)


def test_fstab_carries_fsoptions_and_sorts_by_mount_point() -> None:
    text = mounts.fstab([
        (_req("/var", fsoptions="nodev,noexec,nosuid"), "u-var", "/dev/vda3"),
        (_req("swap", "swap"), "u-swap", "/dev/vda4"),
        (_req("/"), "u-root", "/dev/mapper/vg_gw-lv_root"),
        (_req("/boot/efi", "efi", EFI_FSOPTIONS), "u-efi", "/dev/vda1"),
        (_req("/boot"), "u-boot", "/dev/vda2"),
    ])
    lines = [ln for ln in text.splitlines() if ln and not ln.startswith("#")]
    assert [ln.split()[:4] for ln in lines[:5]] == [
        ["/dev/mapper/vg_gw-lv_root", "/", "ext4", "defaults"],
        ["UUID=u-boot", "/boot", "ext4", "defaults"],
        ["UUID=u-efi", "/boot/efi", "vfat", EFI_FSOPTIONS],
        ["UUID=u-var", "/var", "ext4", "nodev,noexec,nosuid"],
        ["UUID=u-swap", "swap", "swap", "defaults"],
    ]
    assert lines[0].split()[4:] == ["1", "1"] and lines[3].split()[4:] == ["1", "2"]
    assert lines[2].split()[4:] == ["0", "0"] and lines[4].split()[4:] == ["0", "0"]
    assert lines[3] == (f"{'UUID=u-var':<23} {'/var':<23} {'ext4':<7} "
                        f"{'nodev,noexec,nosuid':<15} 1 2")


def test_install_mounts_use_the_fsoptions_and_skip_noauto(
        monkeypatch: pytest.MonkeyPatch, tmp_path: object) -> None:
    made: list[tuple[str, str, str, str]] = []
    table = mounts.Mounts()
    monkeypatch.setattr(table, "mount", lambda dev, where, fstype, *, options="": made.append(
        (dev, where, fstype, options)))
    table.mount_filesystems([(_req("/var", fsoptions="defaults,nodev"), "/dev/vda2"),
                             (_req("/"), "/dev/vda1"),
                             (_req("/srv", fsoptions="noauto"), "/dev/vda3"),
                             (_req("swap", "swap"), "/dev/vda4")])
    assert made == [("/dev/vda1", "/", "ext4", ""), ("/dev/vda2", "/var", "ext4", "nodev")]
