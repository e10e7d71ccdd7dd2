"""The kickstart's disk layout, from the profile's ``[storage] layout``: plain, lvm, raid1.

``pre_lines`` are the shell lines of the kickstart's ``%pre`` that write the partitioning
file (``%include /tmp/part-include``); every layout keeps RHEL 6's rules:
- ``plain``: the profile's partitions on the first disk (what the product always did);
- ``lvm``: ``/boot`` on a partition (RHEL 6's GRUB cannot boot from LVM), one physical
  volume growing over the rest of the disk, a volume group ``vg_gateway`` and a logical
  volume per profile partition, with its size and ``--grow``;
- ``raid1``: two disks (the guide's hardware table: RAID 1 for high-volume servers),
  each file system (``/boot`` included, so either disk boots alone) a RAID 1 array of a
  partition on each disk. The disks are the machine's first two, never the install media
  (found by its volume label): ``ignoredisk --only-use`` and ``--ondisk`` name them.
On UEFI machines each layout starts with the EFI system partition (on the first disk).
Sizes come from the profile, so validate's / and /var minima apply to every layout.
"""

from __future__ import annotations

from buildiso.render.profile import EFI_PARTITION_MB, DiskLayout, Partition, Profile

BOOT_MB = 500  # RHEL 6's default /boot
VOLUME_GROUP = "vg_gateway"
# Room for LVM metadata and extent rounding (32 MiB extents) in the physical volume.
PV_SLACK_MB = 64


def _options(part: Partition) -> str:
    return f"--size={part.size_mb}{' --grow' if part.grow else ''}"


def _lv_name(part: Partition) -> str:
    return "lv_" + ("root" if part.mount == "/" else part.mount.strip("/").replace("/", "_"))


def disk_mb(profile: Profile) -> int:
    """Smallest disk (each disk, for raid1) the layout fits on, the ESP included."""
    extra = {DiskLayout.PLAIN: 0, DiskLayout.LVM: BOOT_MB + PV_SLACK_MB,
             DiskLayout.RAID1: BOOT_MB + 8}[profile.disk_layout]  # fmt: skip
    return profile.min_disk_mb + extra


def pre_lines(profile: Profile, *, media_label: str) -> list[str]:
    """Shell lines (indented for the ``{ ... } > /tmp/part-include`` group) per layout."""
    esp = f"echo 'part /boot/efi --fstype=efi --size={EFI_PARTITION_MB}"
    if profile.disk_layout is DiskLayout.RAID1:
        return _raid1(profile, esp=esp, media_label=media_label)
    lines = ["if [ -d /sys/firmware/efi ]; then", f"  {esp}'", "fi"]
    if profile.disk_layout is DiskLayout.PLAIN:
        return lines + [
            f"echo 'part {p.mount} --fstype={p.fstype} {_options(p)}'" for p in profile.partitions
        ]
    pv_mb = sum(p.size_mb for p in profile.partitions) + PV_SLACK_MB
    lines += [
        f"echo 'part /boot --fstype=ext4 --size={BOOT_MB}'",
        f"echo 'part pv.01 --size={pv_mb} --grow'",
        f"echo 'volgroup {VOLUME_GROUP} pv.01'",
    ]
    lines += [
        f"echo 'logvol {p.mount} --vgname={VOLUME_GROUP} --name={_lv_name(p)} "
        f"--fstype={p.fstype} {_options(p)}'"
        for p in profile.partitions
    ]
    return lines


def _raid1(profile: Profile, *, esp: str, media_label: str) -> list[str]:
    lines = [
        "# the first two disks, never the install media (found by its label)",
        f"media=$(findfs LABEL={media_label} 2>/dev/null || blkid -L {media_label} 2>/dev/null)",
        "media=${media#/dev/}",
        "disks=''",
        "for path in /sys/block/sd* /sys/block/vd* /sys/block/hd* /sys/block/nvme*; do",
        "  name=${path##*/}",
        '  [ -e "$path/size" ] && [ "$(cat "$path/size")" -gt 0 ] || continue',
        '  case "$media" in "$name"|"$name"[0-9]*|"$name"p[0-9]*) continue ;; esac',
        '  disks="$disks $name"',
        "done",
        "set -- $disks",
        'if [ "$#" -lt 2 ]; then',
        '  echo "buildiso: the raid1 layout needs two disks, found: ${disks:-none}" >&2',
        "  exit 1",
        "fi",
        "d1=$1 d2=$2",
        'echo "ignoredisk --only-use=$d1,$d2"',
        "if [ -d /sys/firmware/efi ]; then",
        f'  {esp.replace(chr(39), chr(34))} --ondisk=$d1"',
        "fi",
    ]
    # One line per disk (no shell loop), so validate can follow each member to its array.
    for disk in ("$d1", "$d2"):
        lines.append(f'echo "part raid.boot.{disk} --size={BOOT_MB} --ondisk={disk}"')
        for index, part in enumerate(profile.partitions, start=1):
            lines.append(f'echo "part raid.{index}.{disk} {_options(part)} --ondisk={disk}"')
    lines.append(
        'echo "raid /boot --level=1 --device=md0 --fstype=ext4 raid.boot.$d1 raid.boot.$d2"'
    )
    for index, part in enumerate(profile.partitions, start=1):
        lines.append(
            f'echo "raid {part.mount} --level=1 --device=md{index} --fstype={part.fstype} '
            f'raid.{index}.$d1 raid.{index}.$d2"'
        )
    return lines
