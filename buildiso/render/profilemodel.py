"""The product profile's values: frozen, typed dataclasses and the product's constants.

Built only by ``buildiso.render.profilereader`` (which checks every value) through
``buildiso.render.profile.load_profile``; import these names from ``buildiso.render.profile``.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from pathlib import Path

from buildiso.config import Variant
from buildiso.errors import InputError

# Where the product kickstart's last %post writes its JSON report on the installed system
# (schema: docs/design.md, "Post-install report"); the boot test reads it back.
REPORT_PATH = "/root/buildiso-postinstall.json"

# The UEFI system partition RHEL 6 needs on UEFI machines (and must not get on BIOS ones).
EFI_PARTITION_MB = 200
# Room for the partition table and 1 MiB alignment of each partition.
_PARTITION_OVERHEAD_MB = 8

# Product minima (docs/product-facts.md, "Disks and partitions": / at least 20 GB; /var at
# least 60 GB for test/demo and 200 GB for production; 25% more for two years of tracking).
ROOT_MIN_MB = 20 * 1024
VAR_MIN_MB = {Variant.TEST: 60 * 1024, Variant.PRODUCTION: 200 * 1024}
TRACKING_FACTOR = 1.25

SERIAL_CONSOLE_ARGS = "console=tty0 console=ttyS0,115200"


class DiskLayout(enum.StrEnum):
    """How the kickstart lays out the disk(s): the release engineer's choice in the profile."""

    PLAIN = "plain"  # partitions on one disk
    LVM = "lvm"  # one volume group on one disk, a logical volume per file system
    RAID1 = "raid1"  # two disks, a software RAID 1 array per file system

    @property
    def disks(self) -> int:
        """How many disks the layout installs onto."""
        return 2 if self is DiskLayout.RAID1 else 1


@dataclass(frozen=True)
class Menu:
    """Boot menu text, identical in isolinux and the EFI menu."""

    title: str
    install_label: str
    serial_install_label: str
    local_label: str
    timeout_s: int
    # isolinux "localboot" argument: 0xffff = int 18h, next device in the BIOS boot order
    # (RHEL 6's choice), 0x80 = first hard disk. See docs/design.md for what was measured.
    bios_localboot: str
    # MBR disk signature (bytes 440-443) the kickstart's %post stamps on the installed disk,
    # "0x" + 8 hex digits: the syslinux 6 menu's local entry chain-loads the disk by it
    # (chain.c32 mbr:ID), which also works from a USB stick (docs/design.md).
    bios_disk_signature: str

    @property
    def bios_disk_signature_bytes(self) -> bytes:
        """The signature as it sits on disk: a little-endian 32-bit number."""
        return int(self.bios_disk_signature, 16).to_bytes(4, "little")


@dataclass(frozen=True)
class System:
    lang: str
    keyboard: str
    timezone: str
    selinux: str


@dataclass(frozen=True)
class Packages:
    groups: tuple[str, ...]
    install: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    mount: str
    fstype: str
    size_mb: int
    grow: bool


@dataclass(frozen=True, order=True)
class FirewallPort:
    port: int
    proto: str

    def __str__(self) -> str:
        # kickstart "firewall --port=" syntax
        return f"{self.port}:{self.proto}"


@dataclass(frozen=True)
class Firewall:
    ports: tuple[FirewallPort, ...]

    @property
    def tcp(self) -> tuple[int, ...]:
        return tuple(sorted(p.port for p in self.ports if p.proto == "tcp"))

    @property
    def udp(self) -> tuple[int, ...]:
        return tuple(sorted(p.port for p in self.ports if p.proto == "udp"))


@dataclass(frozen=True)
class Signing:
    key_id: str
    public_key: Path

    def require_public_key(self) -> Path:
        """The vendor public key file, or InputError saying where to put it."""
        if not self.public_key.is_file():
            raise InputError(
                f"vendor public key {self.public_key} not found (key ID {self.key_id})",
                hint="export the vendor's RSA public key (gpg --export --armor "
                f"{self.key_id}) to that path, or use --allow-unsigned for a development build",
            )
        return self.public_key


@dataclass(frozen=True)
class Profile:
    path: Path
    variant: Variant
    product: str
    version: str
    build: int
    iso_name: str
    volume_label: str
    menu: Menu
    system: System
    packages: Packages
    admin_user: str
    # SHA-512 crypt hash of the vendor default password (never the plaintext).
    admin_password_hash: str
    partitions: tuple[Partition, ...]
    two_year_tracking: bool
    firewall: Firewall
    repos_offline: bool
    tls10: bool
    # Where the installed system mounts the media for its local repository (Appendix A).
    local_media_mount: str
    signing: Signing
    disk_layout: DiskLayout = DiskLayout.PLAIN

    @property
    def min_disk_mb(self) -> int:
        """Smallest disk that holds every partition, including /boot/efi on UEFI."""
        return sum(p.size_mb for p in self.partitions) + EFI_PARTITION_MB + _PARTITION_OVERHEAD_MB

    @property
    def install_args(self) -> str:
        """Kernel arguments of the install entries (media found by label: DVD and USB)."""
        label = self.volume_label
        return f"ks=hd:LABEL={label}:/ks.cfg repo=hd:LABEL={label}:/"

    @property
    def serial_install_args(self) -> str:
        return f"{self.install_args} {SERIAL_CONSOLE_ARGS}"

    def partition(self, mount: str) -> Partition:
        for part in self.partitions:
            if part.mount == mount:
                return part
        raise KeyError(mount)
