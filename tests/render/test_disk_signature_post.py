"""The kickstart's disk-signature ``%post --nochroot`` (kickstart/ks.cfg.j2), run for real.

The script runs under dash, and under dash with busybox's tools (a busybox installer),
against a fake machine: /proc/mounts, a /sys/block tree shaped as the kernel's (a
partition's folder inside its disk's, arrays and volumes with ``slaves/``, device-mapper
names in ``dm/name``, ``/`` written as ``!``) and /dev nodes that are 512-byte files whose
every byte is known. Only the 4 signature bytes of the right disks may change.
"""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import EfiFlavour, IsolinuxFlavour, Variant
from buildiso.render.profile import DiskLayout, load_profile
from buildiso.render.templates import KS_PATH, render_kickstart, render_media_files

HEADER = "%post --nochroot --log=/mnt/sysimage/root/ks-post-disk-signature.log --erroronfail"
ORIGINAL = bytes(range(256)) * 2  # a "disk" whose every byte is known
SIGNATURE = b"\x45\x49\x01\x90"  # the profile's 0x90014945, little-endian as on disk


def _section(ks: str, header: str) -> str:
    start = ks.index(header + "\n") + len(header) + 1
    return ks[start : ks.index("\n%end\n", start) + 1]


def _kickstart(disk_layout: DiskLayout = DiskLayout.PLAIN) -> str:
    profile = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
    if disk_layout is not profile.disk_layout:
        profile = dataclasses.replace(profile, disk_layout=disk_layout)
    return render_kickstart(profile, password_hash=profile.admin_password_hash)


class FakeMachine:
    """/proc/mounts, /sys/block and /dev of an installer, under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.sys_block = root / "sys-block"
        self.dev = root / "dev"
        self.mounts = root / "mounts"
        self.efi = root / "sys-firmware-efi"
        self.sys_block.mkdir(parents=True)
        self.dev.mkdir()
        self.mounts.write_text("proc /proc proc rw 0 0\n/dev/sr0 /mnt/source iso9660 ro 0 0\n")

    def node(self, name: str) -> Path:
        """/dev/NAME (``cciss/c0d0`` → dev/cciss/c0d0)."""
        return self.dev / name

    def disk(self, name: str, *partitions: str) -> Path:
        """A whole disk: /sys/block/NAME (``/`` as ``!``), its partitions inside, /dev/NAME."""
        folder = self.sys_block / name.replace("/", "!")
        folder.mkdir()
        for part in partitions:
            (folder / part.replace("/", "!")).mkdir()
        node = self.node(name)
        node.parent.mkdir(parents=True, exist_ok=True)
        node.write_bytes(ORIGINAL)
        return node

    def stacked(self, name: str, *members: str, dm_name: str | None = None) -> None:
        """An md array or a device-mapper volume over ``members`` (kernel names)."""
        slaves = self.sys_block / name / "slaves"
        slaves.mkdir(parents=True)
        for member in members:
            (slaves / member).mkdir()
        if dm_name is not None:
            (self.sys_block / name / "dm").mkdir()
            (self.sys_block / name / "dm" / "name").write_text(dm_name + "\n")

    def mount(self, device: str, where: str) -> None:
        with self.mounts.open("a") as f:
            f.write(f"{device} {where} ext4 rw,relatime 0 0\n")

    def run(
        self, ks: str | None = None, *, busybox: bool = False
    ) -> subprocess.CompletedProcess[str]:
        script = _section(ks or _kickstart(), HEADER)
        for old, new in (
            ("efi_dir=/sys/firmware/efi\n", f"efi_dir={self.efi}\n"),
            ("mounts=/proc/mounts\n", f"mounts={self.mounts}\n"),
            ("dev_dir=/dev\n", f"dev_dir={self.dev}\n"),
            ("sys_block=/sys/block\n", f"sys_block={self.sys_block}\n"),
        ):
            assert script.count(old) == 1, old
            script = script.replace(old, new)
        path = "/usr/bin:/bin"
        if busybox:  # the installer's tools on a busybox system
            binary = shutil.which("busybox")
            assert binary is not None, "busybox not installed: run ./setup.sh (busybox-static)"
            tools = self.root / "busybox-tools"
            tools.mkdir(exist_ok=True)
            for tool in ("awk", "sed", "dd", "sync", "ls", "cat", "readlink"):
                if not (tools / tool).exists():
                    (tools / tool).symlink_to(binary)
            path = f"{tools}:{path}"
        shell = shutil.which("dash") or "/bin/sh"
        return subprocess.run(
            [shell, "-c", script], capture_output=True, text=True, cwd=self.root,
            env={"PATH": path, "LANG": "C"},
        )  # fmt: skip


def _stamped(node: Path) -> bool:
    data = node.read_bytes()
    assert data[:440] == ORIGINAL[:440] and data[444:] == ORIGINAL[444:]  # only 4 bytes
    return data[440:444] == SIGNATURE


@pytest.fixture
def machine(tmp_path: Path) -> FakeMachine:
    return FakeMachine(tmp_path)


@pytest.mark.parametrize("busybox", [False, True])
@pytest.mark.parametrize(
    ("disk", "partition"),
    [
        ("sda", "sda2"),
        ("vda", "vda2"),
        ("cciss/c0d0", "cciss/c0d0p1"),  # HP Smart Array: /sys/block/cciss!c0d0/cciss!c0d0p1
        ("nvme0n1", "nvme0n1p2"),
        ("mmcblk0", "mmcblk0p2"),
    ],
)
def test_signature_on_the_disk_of_the_partition(
    machine: FakeMachine, disk: str, partition: str, busybox: bool
) -> None:
    node = machine.disk(disk, partition)
    other = machine.disk("sdz", "sdz1")  # another disk of the machine stays untouched
    machine.mount(f"/dev/{partition}", "/mnt/sysimage")
    proc = machine.run(busybox=busybox)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert _stamped(node)
    assert not _stamped(other)
    assert f"written to {node}" in proc.stdout
    assert "WARNING" not in proc.stderr


def test_boot_mount_wins_over_root(machine: FakeMachine) -> None:
    boot, root = machine.disk("sda", "sda1"), machine.disk("sdb", "sdb1")
    machine.mount("/dev/sdb1", "/mnt/sysimage")
    machine.mount("/dev/sda1", "/mnt/sysimage/boot")
    assert machine.run().returncode == 0
    assert _stamped(boot) and not _stamped(root)


@pytest.mark.parametrize("busybox", [False, True])
def test_md_over_two_disks(machine: FakeMachine, busybox: bool) -> None:
    disks = [machine.disk("sda", "sda1", "sda2"), machine.disk("sdb", "sdb1", "sdb2")]
    machine.stacked("md0", "sda1", "sdb1")
    machine.mount("/dev/md0", "/mnt/sysimage/boot")
    proc = machine.run(busybox=busybox)
    assert proc.returncode == 0, proc.stderr
    assert all(_stamped(d) for d in disks)


def test_md_over_whole_disks(machine: FakeMachine) -> None:
    disks = [machine.disk("sda"), machine.disk("sdb")]
    machine.stacked("md127", "sda", "sdb")
    machine.mount("/dev/md127", "/mnt/sysimage")
    assert machine.run().returncode == 0
    assert all(_stamped(d) for d in disks)


@pytest.mark.parametrize("mapper_link", [False, True])
@pytest.mark.parametrize("busybox", [False, True])
def test_dm_volume_over_md(machine: FakeMachine, mapper_link: bool, busybox: bool) -> None:
    """LVM on RAID 1 with no separate /boot: / on /dev/mapper/vg-lv → dm-0 → md1 → sda2+sdb2.
    RHEL 6 makes /dev/mapper/NAME a device node (found by dm/name); later udev a link."""
    disks = [machine.disk("sda", "sda1", "sda2"), machine.disk("sdb", "sdb1", "sdb2")]
    machine.stacked("md1", "sda2", "sdb2")
    machine.stacked("dm-0", "md1", dm_name="vg_gateway-lv_root")
    machine.stacked("dm-1", "md1", dm_name="vg_gateway-lv_var")
    mapper = machine.node("mapper/vg_gateway-lv_root")
    mapper.parent.mkdir()
    if mapper_link:
        machine.node("dm-0").write_bytes(b"")
        mapper.symlink_to("../dm-0")
    else:
        mapper.write_bytes(b"")
    machine.mount("/dev/mapper/vg_gateway-lv_root", "/mnt/sysimage")
    proc = machine.run(busybox=busybox)
    assert proc.returncode == 0, proc.stderr
    assert all(_stamped(d) for d in disks)
    assert proc.stdout.count("written to") == 2


def test_md_device_named_by_a_link(machine: FakeMachine) -> None:
    disks = [machine.disk("vda", "vda1"), machine.disk("vdb", "vdb1")]
    machine.stacked("md127", "vda1", "vdb1")
    machine.node("md").mkdir()
    machine.node("md127").write_bytes(b"")
    machine.node("md/boot").symlink_to("../md127")
    machine.mount("/dev/md/boot", "/mnt/sysimage/boot")
    assert machine.run().returncode == 0
    assert all(_stamped(d) for d in disks)


def test_raid1_layout_kickstart_stamps_both_disks(machine: FakeMachine) -> None:
    disks = [machine.disk("vda", "vda1", "vda2"), machine.disk("vdb", "vdb1", "vdb2")]
    machine.stacked("md0", "vda1", "vdb1")
    machine.stacked("md1", "vda2", "vdb2")
    machine.mount("/dev/md1", "/mnt/sysimage")
    machine.mount("/dev/md0", "/mnt/sysimage/boot")
    proc = machine.run(_kickstart(DiskLayout.RAID1))
    assert proc.returncode == 0, proc.stderr
    assert all(_stamped(d) for d in disks)


# --- never fatal where the disk cannot be worked out -----------------------------------


@pytest.mark.parametrize(
    ("setup", "warning"),
    [
        ("nothing mounted", "/mnt/sysimage is not mounted from a /dev device"),
        ("tmpfs", "/mnt/sysimage is not mounted from a /dev device"),
        ("unknown to sysfs", "no disk found for sdq2"),
        ("no device node", "not found"),
        ("unknown dm name", "no kernel device found for /dev/mapper/vg-gone"),
    ],
)
def test_unworkable_disk_is_a_warning(machine: FakeMachine, setup: str, warning: str) -> None:
    disk = machine.disk("sda", "sda2")
    if setup == "tmpfs":
        machine.mount("tmpfs", "/mnt/sysimage")
    elif setup == "unknown to sysfs":
        machine.mount("/dev/sdq2", "/mnt/sysimage")
    elif setup == "no device node":
        machine.disk("sdb", "sdb1")
        machine.node("sdb").unlink()
        machine.mount("/dev/sdb1", "/mnt/sysimage")
    elif setup == "unknown dm name":
        machine.stacked("dm-0", "sda2", dm_name="vg-other")
        machine.mount("/dev/mapper/vg-gone", "/mnt/sysimage")
    proc = machine.run()
    assert proc.returncode == 0, proc.stderr
    assert warning in proc.stderr
    assert "MBR disk signature not written" in proc.stderr
    assert not _stamped(disk)


def test_a_disk_found_but_not_writable_fails(machine: FakeMachine) -> None:
    machine.disk("sda", "sda2").unlink()
    machine.node("sda").mkdir()  # dd cannot write a directory
    machine.mount("/dev/sda2", "/mnt/sysimage")
    proc = machine.run()
    assert proc.returncode == 1


def test_skipped_on_uefi(machine: FakeMachine) -> None:
    disk = machine.disk("sda", "sda2")
    machine.mount("/dev/sda2", "/mnt/sysimage")
    machine.efi.mkdir()
    proc = machine.run()
    assert proc.returncode == 0 and "UEFI machine" in proc.stdout
    assert not _stamped(disk)


# --- rendered only where the BIOS menu chain-loads by signature --------------------------


@pytest.mark.parametrize(
    ("isolinux", "base_has_chain", "rendered"),
    [
        (IsolinuxFlavour.SYSLINUX6, False, True),  # the sample: chain.c32 mbr:0x90014945
        (IsolinuxFlavour.SYSLINUX4, False, False),  # a RHEL 6 DVD: localboot 0xffff
        (IsolinuxFlavour.SYSLINUX4, True, True),  # a syslinux 4 base with its own chain.c32
    ],
)
def test_rendered_only_for_chain_loading_menus(
    isolinux: IsolinuxFlavour, base_has_chain: bool, rendered: bool
) -> None:
    profile = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
    files = render_media_files(
        profile, isolinux=isolinux, efi=EfiFlavour.GRUB_LEGACY,
        password_hash=profile.admin_password_hash, base_has_chain=base_has_chain,
    )  # fmt: skip
    assert (HEADER in files[KS_PATH]) is rendered
    assert ("com32 chain.c32" in files["isolinux/isolinux.cfg"]) is rendered
    # the other sections stay, whatever the menu
    assert files[KS_PATH].count("\n%post") == (4 if rendered else 3)
