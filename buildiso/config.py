"""Closed choices used across buildiso, as enums (values are what the CLI accepts)."""

from __future__ import annotations

import enum


class Variant(enum.StrEnum):
    TEST = "test"
    PRODUCTION = "production"


class Firmware(enum.StrEnum):
    BIOS = "bios"
    UEFI = "uefi"


class Media(enum.StrEnum):
    DVD = "dvd"
    USB = "usb"  # the ISO's bytes on a stick, as dd-style writers make it
    USB_FILES = "usb-files"  # the ISO's files on a FAT32 stick, as Rufus' ISO Image mode makes it


class IsolinuxFlavour(enum.StrEnum):
    """syslinux 4.x (RHEL 6: vesamenu.c32 alone) or 6.x (needs ldlinux/libcom32/libutil)."""

    SYSLINUX4 = "syslinux4"
    SYSLINUX6 = "syslinux6"


class EfiFlavour(enum.StrEnum):
    """RHEL 6's grub-legacy (EFI/BOOT/BOOTX64.conf) or GRUB 2 (EFI/BOOT/grub.cfg)."""

    GRUB_LEGACY = "grub-legacy"
    GRUB2 = "grub2"


class Accel(enum.StrEnum):
    AUTO = "auto"
    KVM = "kvm"
    TCG = "tcg"


class KsRules(enum.StrEnum):
    """What ``buildiso validate --rules`` checks in a kickstart."""

    RHEL6 = "rhel6"  # only what anaconda 13 (RHEL 6's parser) refuses; its warnings shown
    PRODUCT = "product"  # only the product's own rules (and --media)
    ALL = "all"
