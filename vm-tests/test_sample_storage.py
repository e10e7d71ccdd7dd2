"""The sample installer on LVM and software RAID layouts, then the installed system boots.

Uses test_sample_install.py's media and QEMU helpers. LVM: /boot on a partition, / , swap
and /var as logical volumes of one volume group on one disk. RAID 1: two disks, /boot, /
and /var each a RAID 1 array; the installed system must then boot from either disk alone
(degraded), as the boot loader is on both and the initramfs starts degraded arrays.
RAID 5: / and /var on three disks. autopart: RHEL 6's default layout (docs/anaconda13.md).
bootloader --location=partition: GRUB in /boot's boot sector, the MBR left empty; with a
generic MBR (syslinux's mbr.bin, as another boot manager would be) the disk then boots.
The guest's own %post reports what it mounted from which device (/proc/mounts, /proc/mdstat).
"""

from __future__ import annotations

import base64
import json
import re
import shutil
from pathlib import Path

import pytest
from test_sample_install import (
    DISK_SIZE,
    Cell,
    Outcome,
    _explain,
    build_test_iso,
    kickstart,
    make_ks_iso,
    qemu_command,
)

from buildiso.run import run
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

PRE_START = "%pre --log=/tmp/ks-pre.log\n"

LVM_PARTS = """\
echo "part /boot --fstype=ext4 --size=500" >> /tmp/part-include
echo "part pv.01 --size=1000 --grow" >> /tmp/part-include
echo "volgroup vg_gw pv.01" >> /tmp/part-include
echo "logvol / --vgname=vg_gw --name=lv_root --fstype=ext4 --size=20480" >> /tmp/part-include
echo "logvol swap --vgname=vg_gw --name=lv_swap --recommended" >> /tmp/part-include
echo "logvol /var --vgname=vg_gw --name=lv_var --fstype=ext4 --size=61440 --grow" \\
  >> /tmp/part-include
"""

RAID1_PARTS = """\
for d in vda vdb; do
  echo "part raid.$d.1 --size=500 --ondisk=$d"
  echo "part raid.$d.2 --size=20480 --ondisk=$d"
  echo "part raid.$d.3 --size=61440 --grow --ondisk=$d"
done >> /tmp/part-include
echo "raid /boot --level=1 --device=md0 --fstype=ext4 raid.vda.1 raid.vdb.1" >> /tmp/part-include
echo "raid / --level=1 --device=md1 --fstype=ext4 raid.vda.2 raid.vdb.2" >> /tmp/part-include
echo "raid /var --level=1 --device=md2 --fstype=ext4 raid.vda.3 raid.vdb.3" >> /tmp/part-include
"""

RAID5_PARTS = """\
echo "part /boot --fstype=ext4 --size=500 --ondisk=vda" >> /tmp/part-include
for d in vda vdb vdc; do
  echo "part raid.$d.2 --size=10240 --ondisk=$d"
  echo "part raid.$d.3 --size=30720 --grow --ondisk=$d"
done >> /tmp/part-include
echo "raid / --level=5 --device=md1 --fstype=ext4 raid.vda.2 raid.vdb.2 raid.vdc.2" \\
  >> /tmp/part-include
echo "raid /var --level=RAID5 --device=md2 --fstype=ext4 raid.vda.3 raid.vdb.3 raid.vdc.3" \\
  >> /tmp/part-include
"""

PLAIN_PARTS = """\
echo "part /boot --fstype=ext4 --size=500" >> /tmp/part-include
echo "part / --fstype=ext4 --size=20480" >> /tmp/part-include
echo "part /var --fstype=ext4 --size=61440 --grow" >> /tmp/part-include
"""
SYSLINUX_MBR = Path("/usr/lib/syslinux/mbr/mbr.bin")
GRUB_BOOT_IMG = Path("/usr/lib/grub/i386-pc/boot.img")

# At every boot, before the FIRSTBOOT-RESULT service (S99): what the running system mounted
# from which device, and the state of its arrays, added to the report as "storage".
STORAGE_POST = r"""
%post --log=/root/ks-post-storage.log
cp /root/buildiso-postinstall.json /root/buildiso-postinstall.orig.json
cat > /etc/rc.d/init.d/buildiso-storage <<'EOS'
#!/bin/sh
[ "$1" = start ] || exit 0
{
  echo "mounts:"
  awk '$1 ~ /^\/dev\// && $2 ~ /^\/(var|boot|home)?$/ {print $1, $2}' /proc/mounts
  echo "mdstat:"
  cat /proc/mdstat 2>/dev/null
  for md in /sys/block/md*; do
    [ -d "$md/md" ] || continue
    echo "md ${md##*/} level=$(cat $md/md/level) degraded=$(cat $md/md/degraded)" \
      "sync=$(cat $md/md/sync_action) disks=$(cat $md/md/raid_disks)"
  done
  for dm in /sys/block/dm-*; do
    [ -d "$dm/dm" ] && echo "dm ${dm##*/} name=$(cat $dm/dm/name)"
  done
} > /root/storage.txt
enc=$(base64 /root/storage.txt | tr -d '\n')
sed "s|^{|{\"storage\": \"$enc\", |" /root/buildiso-postinstall.orig.json \
  > /root/buildiso-postinstall.json
EOS
chmod 755 /etc/rc.d/init.d/buildiso-storage
mkdir -p /etc/rc.d/rc3.d
ln -s ../init.d/buildiso-storage /etc/rc.d/rc3.d/S98buildiso-storage
%end
"""


def storage_kickstart(parts: str, *, extra_commands: str = "") -> str:
    text = kickstart(extra_commands=extra_commands, extra_sections=STORAGE_POST)
    start = text.index(PRE_START) + len(PRE_START)
    end = text.index("%end", start)
    # keep the UEFI ESP logic, replace the partitions
    pre = text[start:end]
    keep = pre[: pre.index('echo "part / ')]
    return text[:start] + keep + parts + text[end:]


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sample-storage")


@pytest.fixture(scope="module")
def cdrom_iso(sample_base: SampleBase, work: Path) -> Path:
    return build_test_iso(sample_base, work=work, name="storage", args="ks=cdrom:/ks.cfg")


def _sector(disk: Path, number: int) -> bytes:
    """Sector ``number`` of a qcow2 disk (qemu-img dd counts the skipped blocks too)."""
    out = disk.with_name(f"{disk.stem}-sector{number}.raw")
    run(["qemu-img", "dd", "-f", "qcow2", "-O", "raw", f"if={disk}", f"of={out}", "bs=512",
         f"skip={number}", f"count={number + 1}"])
    data = out.read_bytes()
    out.unlink()
    return data


class MultiDiskCell(Cell):
    """A cell with ``disks`` virtio disks (the first one is the Cell's own disk)."""

    def __init__(self, work: Path, name: str, disks: int) -> None:
        cell_dir = work / name
        cell_dir.mkdir(exist_ok=True)
        super().__init__("bios", "cd", cell_dir, cell_dir / "disk.qcow2", cell_dir / "OVMF_VARS.fd")
        self.disks = [self.disk] + [cell_dir / f"disk{i}.qcow2" for i in range(1, disks)]

    def _cmd(self, *, media: Path | None, ks_iso: Path | None, disks: list[Path]) -> list[str]:
        cmd = qemu_command(
            work=self.work,
            firmware=self.firmware,
            disk=disks[0],
            media=media,
            media_kind=self.media_kind,
            ks_iso=ks_iso,
            vars_file=self.vars_file,
        )
        for index, extra in enumerate(disks[1:], start=1):
            cmd += [
                "-drive",
                f"file={extra},if=none,id=disk{index},format=qcow2",
                "-device",
                f"virtio-blk-pci,drive=disk{index}",
            ]
        return cmd

    def install(self, media: Path, ks_iso: Path, *, disk_size: str = DISK_SIZE) -> Outcome:
        from test_sample_install import INSTALL_TIMEOUT, boot

        for path in self.disks:
            path.unlink(missing_ok=True)
            run(["qemu-img", "create", "-q", "-f", "qcow2", path, disk_size])
        cmd = self._cmd(media=media, ks_iso=ks_iso, disks=self.disks)
        return boot(cmd, work=self.work, until="INSTALL-RESULT", timeout=INSTALL_TIMEOUT)

    def boot_disks(self, disks: list[Path]) -> Outcome:
        from test_sample_install import BOOT_TIMEOUT, boot

        cmd = self._cmd(media=None, ks_iso=None, disks=disks)
        return boot(cmd, work=self.work, until="FIRSTBOOT-RESULT", timeout=BOOT_TIMEOUT)

    def cleanup(self) -> None:
        shutil.rmtree(self.work, ignore_errors=True)


def _storage_report(outcome: Outcome) -> tuple[dict[str, object], str]:
    line = outcome.find("FIRSTBOOT-RESULT")
    assert line is not None and line.startswith("FIRSTBOOT-RESULT status=ok report="), _explain(
        outcome
    )
    report = json.loads(base64.b64decode(line.split("report=", 1)[1]))
    return report, base64.b64decode(report["storage"]).decode()


def test_lvm_install_then_boot(work: Path, cdrom_iso: Path) -> None:
    cell = MultiDiskCell(work, "lvm", 1)
    ks = make_ks_iso(
        storage_kickstart(LVM_PARTS, extra_commands="logging --level=info"),
        dest=work / "ks-lvm.iso",
    )
    installed = cell.install(cdrom_iso, ks)
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    booted = cell.boot_disks(cell.disks)
    report, storage = _storage_report(booted)
    mounts = dict(reversed(line.split()) for line in storage.split("mdstat:")[0].splitlines()[1:])
    assert mounts["/boot"] == "/dev/vda1", storage
    # / and /var on the volume group's logical volumes (device-mapper names vg-lv)
    names = dict(re.findall(r"dm (dm-\d+) name=(\S+)", storage))
    assert set(names.values()) >= {"vg_gw-lv_root", "vg_gw-lv_var", "vg_gw-lv_swap"}, storage
    for mount, lv in (("/", "lv_root"), ("/var", "lv_var")):
        device = mounts[mount]
        assert (
            device in (f"/dev/mapper/vg_gw-{lv}", f"/dev/vg_gw/{lv}")
            or names.get(device.removeprefix("/dev/")) == f"vg_gw-{lv}"
        ), storage
    print(f"\n[lvm] install {installed.seconds:.0f} s, boot {booted.seconds:.0f} s")
    cell.cleanup()


def test_raid1_install_then_boot_and_degraded_boots(work: Path, cdrom_iso: Path) -> None:
    cell = MultiDiskCell(work, "raid1", 2)
    ks = make_ks_iso(
        storage_kickstart(RAID1_PARTS, extra_commands="ignoredisk --only-use=vda,vdb"),
        dest=work / "ks-raid1.iso",
    )
    text = storage_kickstart(RAID1_PARTS, extra_commands="ignoredisk --only-use=vda,vdb")
    assert "clearpart --all --initlabel" in text
    installed = cell.install(cdrom_iso, ks)
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    booted = cell.boot_disks(cell.disks)
    _, storage = _storage_report(booted)
    arrays = re.findall(r"md (md\d+) level=(\w+) degraded=(\d+) sync=(\w+) disks=(\d+)", storage)
    assert len(arrays) == 3, storage
    assert all(
        level == "raid1" and degraded == "0" and disks == "2"
        for _, level, degraded, _, disks in arrays
    ), storage
    mounts = [line.split() for line in storage.split("mdstat:")[0].splitlines()[1:]]
    assert {m for _, m in mounts} == {"/", "/boot", "/var"}, storage
    assert all(dev.startswith("/dev/md") for dev, _ in mounts), storage
    print(f"\n[raid1] install {installed.seconds:.0f} s, boot {booted.seconds:.0f} s")
    # Either disk alone still boots: GRUB on both, the initramfs runs degraded arrays.
    for alone in cell.disks:
        degraded = cell.boot_disks([alone])
        _, storage = _storage_report(degraded)
        arrays = re.findall(r"md (md\d+) level=(\w+) degraded=(\d+)", storage)
        assert len(arrays) == 3 and all(d == "1" for _, _, d in arrays), storage
        print(f"[raid1] degraded boot from {alone.name} alone: {degraded.seconds:.0f} s")
    cell.cleanup()


def test_raid5_install_then_boot(work: Path, cdrom_iso: Path) -> None:
    cell = MultiDiskCell(work, "raid5", 3)
    ks = make_ks_iso(storage_kickstart(RAID5_PARTS, extra_commands="ignoredisk --only-use="
                                       "vda,vdb,vdc"), dest=work / "ks-raid5.iso")
    installed = cell.install(cdrom_iso, ks, disk_size="60G")
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    booted = cell.boot_disks(cell.disks)
    _, storage = _storage_report(booted)
    arrays = re.findall(r"md (md\d+) level=(\w+) degraded=(\d+) sync=(\w+) disks=(\d+)", storage)
    assert sorted((name, level, degraded, disks) for name, level, degraded, _, disks in arrays) == [
        ("md1", "raid5", "0", "3"), ("md2", "raid5", "0", "3")], storage
    mounts = dict(reversed(line.split()) for line in storage.split("mdstat:")[0].splitlines()[1:])
    assert mounts["/"] == "/dev/md1" and mounts["/var"] == "/dev/md2", storage
    assert mounts["/boot"] == "/dev/vda1", storage
    print(f"\n[raid5] install {installed.seconds:.0f} s, boot {booted.seconds:.0f} s")
    cell.cleanup()


def test_autopart_install_then_boot(work: Path, cdrom_iso: Path) -> None:
    """autopart: /boot, then vg_<host> with lv_root (50 GB cap), lv_home, lv_swap."""
    cell = MultiDiskCell(work, "autopart", 1)
    ks = make_ks_iso(storage_kickstart("", extra_commands="autopart"),
                     dest=work / "ks-autopart.iso")
    installed = cell.install(cdrom_iso, ks)
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    booted = cell.boot_disks(cell.disks)
    report, storage = _storage_report(booted)
    mounts = dict(reversed(line.split()) for line in storage.split("mdstat:")[0].splitlines()[1:])
    assert mounts["/boot"] == "/dev/vda1", storage
    names = set(re.findall(r"dm dm-\d+ name=(\S+)", storage))
    # network --hostname=sample-test.example.com: vg_ + "sample-test" without the "-"
    assert names == {"vg_sampletest-lv_root", "vg_sampletest-lv_home",
                     "vg_sampletest-lv_swap"}, storage
    assert {"/", "/home"} <= set(mounts), storage
    print(f"\n[autopart] install {installed.seconds:.0f} s, boot {booted.seconds:.0f} s")
    cell.cleanup()


def test_bootloader_location_partition(work: Path, cdrom_iso: Path) -> None:
    """GRUB's boot.img in /boot's first sector and the MBR untouched (booty's stage1 on the
    partition); a generic MBR that starts the active partition then boots the system."""
    if not SYSLINUX_MBR.is_file():
        pytest.fail(f"{SYSLINUX_MBR} missing: install the Debian package syslinux-common")
    cell = MultiDiskCell(work, "location-partition", 1)
    text = storage_kickstart(PLAIN_PARTS).replace("bootloader --location=mbr",
                                                  "bootloader --location=partition")
    assert "--location=partition" in text
    installed = cell.install(cdrom_iso, make_ks_iso(text, dest=work / "ks-vbr.iso"))
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    mbr = _sector(cell.disk, 0)
    assert mbr[:440] == bytes(440) and mbr[510:] == b"\x55\xaa"  # no boot code, a table
    boot_sector = _sector(cell.disk, 2048)  # /boot: the first partition, at 1 MiB
    # the sample grub package ships Debian's GRUB 2 boot.img as it is (grub.spec)
    assert boot_sector == GRUB_BOOT_IMG.read_bytes()[:510] + b"\x55\xaa", boot_sector[:16]
    run(["qemu-io", "-f", "qcow2", "-c", f"write -s {SYSLINUX_MBR} 0 440", cell.disk])
    booted = cell.boot_disks(cell.disks)
    _, storage = _storage_report(booted)
    assert "/dev/vda1 /boot" in storage, storage
    print(f"\n[location=partition] install {installed.seconds:.0f} s, "
          f"boot (syslinux MBR → GRUB in /boot) {booted.seconds:.0f} s")
    cell.cleanup()
