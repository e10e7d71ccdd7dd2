"""The overlay: only the files the ISO adds to or changes in the base tree.

xorriso grafts this folder over the base (iso.py), so the base itself is never copied.
It holds the rendered ks.cfg and menus, an edited copy of images/efiboot.img (the EFI menu
inside; for RHEL 6's grub-legacy also the kernel and initrd the menu loads), .treeinfo
(checksums of what changed, the gateway repo listed, the lines of what the product leaves
out dropped: pruning.py), .discinfo, media.repo and cs-repo/ (composed by repo.py before
the install-set check). Every file and folder gets SOURCE_DATE_EPOCH as its date, so the
ISO does not depend on the clock.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildiso.compose.repo import GATEWAY_REPO_DIR
from buildiso.config import EfiFlavour, IsolinuxFlavour
from buildiso.errors import BuildError, InputError
from buildiso.master import iso, pruning
from buildiso.master.basetree import BaseTree
from buildiso.master.efiboot import boot_file_paths, edit_efiboot, rebuild_efiboot
from buildiso.render.grubbackground import solid_png
from buildiso.render.profile import Profile
from buildiso.render.templates import (
    CHAIN_C32,
    EFI_MENU_PATHS,
    GRUB2_BACKGROUND_PATH,
    GRUB2_DESKTOP_COLOUR,
    GRUB2_FONT_PATH,
    GRUB2_THEME_PATH,
)

EFIBOOT = "images/efiboot.img"
# A base tree may carry the isohybrid MBR of its own syslinux (it must match isolinux.bin).
BASE_ISOHDPFX = "isolinux/isohdpfx.bin"
# chain.c32 of Debian's syslinux 6 (package syslinux-common): the syslinux 6 menu's local entry
# needs it (render.chain_loads_local); it loads into any isolinux 6.0x with the base's own
# libcom32.c32/libutil.c32, never into RHEL 6's isolinux 4.
DEBIAN_CHAIN_C32 = Path("/usr/lib/syslinux/modules/bios/chain.c32")
# GRUB 2's graphical menu font (the theme's "Unifont Regular 16", ASCII only: profile texts
# are ASCII).
GRUB_ASCII_FONT = Path("/usr/share/grub/ascii.pf2")


class OverlayReader:
    """The media as the ISO will show it: the overlay over the base (a repo TreeReader)."""

    def __init__(self, overlay: Path, base: BaseTree) -> None:
        self.overlay, self.base = overlay, base

    def read_bytes(self, rel: str) -> bytes:
        staged = self.overlay / rel
        return staged.read_bytes() if staged.is_file() else self.base.read_bytes(rel)

    def exists(self, rel: str) -> bool:
        return (self.overlay / rel).is_file() or self.base.exists(rel)


@dataclass(frozen=True)
class Staged:
    overlay: Path
    hybrid_mbr: Path
    files: dict[str, str]  # rel path -> sha256 (gateway RPMs left out: the manifest has them)
    pruned: pruning.Pruning  # base files the ISO leaves out


def _write(root: Path, rel: str, text: str) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def media_repo(profile: Profile, base: BaseTree) -> str:
    """yum's media.repo for the disc (RHEL's layout: mediaid = the .discinfo timestamp)."""
    return (
        "[InstallMedia]\n"
        f"name={profile.product} {profile.version} (build {profile.build}) on "
        f"{base.treeinfo.family} {base.treeinfo.version}\n"
        f"mediaid={base.discinfo.timestamp}\n"
        "metadata_expire=-1\n"
        "gpgcheck=0\n"
        "cost=500\n"
    )


def _copy_tool_file(source: Path, dest: Path, *, package: str) -> None:
    if not source.is_file():
        raise BuildError(f"{source} not found", hint=f"install the Debian package {package}")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(source.read_bytes())


def _stamp_tree(root: Path, epoch: int) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


def stage_overlay(
    *,
    overlay: Path,
    scratch: Path,
    base: BaseTree,
    profile: Profile,
    rendered: Mapping[str, str],
    epoch: int,
) -> Staged:
    """Fill ``overlay`` (which already holds cs-repo/) with everything else the ISO changes."""
    for rel, text in rendered.items():
        _write(overlay, rel, text)
    _stage_efiboot(overlay=overlay, scratch=scratch, base=base, rendered=rendered, epoch=epoch)
    pruned = pruning.plan(base)
    changed = {
        rel: iso.sha256_file(overlay / rel)
        for rel in (EFIBOOT, *rendered)
        if rel in base.treeinfo.checksums or rel == EFIBOOT
    }
    repomd = overlay / GATEWAY_REPO_DIR / "repodata" / "repomd.xml"
    treeinfo = pruned.treeinfo(base.treeinfo.with_updated_checksums(changed)).with_gateway_repo(
        repository=GATEWAY_REPO_DIR,
        name=f"{profile.product} {profile.version}",
        repomd_sha256=iso.sha256_file(repomd),
    )
    _write(overlay, ".treeinfo", treeinfo.render())
    _write(overlay, ".discinfo", base.discinfo.render())
    _write(overlay, "media.repo", media_repo(profile, base))
    if GRUB2_THEME_PATH in rendered:
        _copy_tool_file(GRUB_ASCII_FONT, overlay / GRUB2_FONT_PATH, package="grub-common")
        background = overlay / GRUB2_BACKGROUND_PATH
        background.write_bytes(solid_png(GRUB2_DESKTOP_COLOUR))
    if base.isolinux_flavour is IsolinuxFlavour.SYSLINUX6 and not base.exists(CHAIN_C32):
        _copy_tool_file(DEBIAN_CHAIN_C32, overlay / CHAIN_C32, package="syslinux-common")
    _stamp_tree(overlay, epoch)

    hybrid_mbr = iso.DEBIAN_ISOHDPFX
    if base.exists(BASE_ISOHDPFX):
        hybrid_mbr = scratch / "isohdpfx.bin"
        base.extract(BASE_ISOHDPFX, hybrid_mbr)
    elif not hybrid_mbr.is_file():
        raise BuildError(f"{hybrid_mbr} not found", hint="install the Debian package isolinux")
    files = {
        rel: iso.sha256_file(overlay / rel)
        for rel in sorted(
            p.relative_to(overlay).as_posix() for p in overlay.rglob("*") if p.is_file()
        )
        if not rel.startswith(f"{GATEWAY_REPO_DIR}/Packages/")
    }
    return Staged(overlay=overlay, hybrid_mbr=hybrid_mbr, files=files, pruned=pruned)


def _stage_efiboot(
    *, overlay: Path, scratch: Path, base: BaseTree, rendered: Mapping[str, str], epoch: int
) -> None:
    """images/efiboot.img with the rendered EFI menu; for grub-legacy also the kernel and
    initrd its menu loads, at those paths (efiboot.py says why)."""
    efi_menus = {rel: text for rel, text in rendered.items() if rel.startswith("EFI/")}
    source = scratch / "base-efiboot.img"
    base.extract(EFIBOOT, source)
    legacy_menu = rendered.get(EFI_MENU_PATHS[EfiFlavour.GRUB_LEGACY])
    if base.efi_flavour is not EfiFlavour.GRUB_LEGACY or legacy_menu is None:
        edit_efiboot(source=source, dest=overlay / EFIBOOT, files=efi_menus, mtime=epoch)
        return
    add = {}
    for rel in boot_file_paths(legacy_menu):
        if not base.exists(rel):
            raise InputError(
                f"{base.source}: {rel} missing (the EFI menu, BOOTX64.conf, loads it)",
                hint="give a complete RHEL 6.10 DVD: images/pxeboot/ holds the kernel and initrd",
            )
        add[rel] = scratch / "efiboot-files" / rel
        base.extract(rel, add[rel])
    rebuild_efiboot(source=source, dest=overlay / EFIBOOT, files=efi_menus, add=add, mtime=epoch)
