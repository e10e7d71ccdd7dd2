"""The overlay: only new/changed files, dated SOURCE_DATE_EPOCH, .treeinfo kept honest."""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

import pytest
from mini_media import EPOCH, make_tree

from buildiso.config import Variant
from buildiso.master import efiboot, iso, staging
from buildiso.master.basetree import open_base
from buildiso.paths import DEFAULT_PROFILE
from buildiso.render.grubbackground import solid_png
from buildiso.render.profile import load_profile
from buildiso.render.templates import render_grub2_theme

pytestmark = pytest.mark.integration

TREEINFO = """\
[general]
family = Red Hat Enterprise Linux
timestamp = 1700000000.0
variant = Server
version = 6.10
arch = x86_64
packagedir = Packages

[checksums]
images/efiboot.img = sha256:{efiboot}
"""


def _base(root: Path) -> Path:
    tree = make_tree(root / "tree")
    digest = hashlib.sha256((tree / "images" / "efiboot.img").read_bytes()).hexdigest()
    (tree / ".treeinfo").write_text(TREEINFO.format(efiboot=digest))
    return tree


def _stage(tree: Path, work: Path, extra: dict[str, str] | None = None) -> staging.Staged:
    overlay = work / "overlay"
    repodata = overlay / "cs-repo" / "repodata"
    repodata.mkdir(parents=True)
    (repodata / "repomd.xml").write_text("<repomd/>\n")
    rendered = {
        "ks.cfg": "# ks\n",
        "isolinux/isolinux.cfg": "default local\n",
        "EFI/BOOT/grub.cfg": "menuentry 'Install Secure Email Gateway' {}\n",
        **(extra or {}),
    }
    with open_base(tree) as base:
        return staging.stage_overlay(
            overlay=overlay,
            scratch=work,
            base=base,
            profile=load_profile(DEFAULT_PROFILE, Variant.TEST),
            rendered=rendered,
            epoch=EPOCH,
        )


def test_overlay_contents(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    staged = _stage(tree, tmp_path / "work")
    overlay = staged.overlay
    assert sorted(staged.files) == [
        ".discinfo", ".treeinfo", "EFI/BOOT/grub.cfg", "cs-repo/repodata/repomd.xml",
        "images/efiboot.img", "isolinux/isolinux.cfg", "ks.cfg", "media.repo",
    ]  # fmt: skip
    assert efiboot.read_file(overlay / "images" / "efiboot.img", "EFI/BOOT/grub.cfg") == (
        b"menuentry 'Install Secure Email Gateway' {}\n"
    )
    treeinfo = (overlay / ".treeinfo").read_text()
    new_digest = iso.sha256_file(overlay / "images" / "efiboot.img")
    assert f"images/efiboot.img = sha256:{new_digest}" in treeinfo
    repomd = hashlib.sha256(b"<repomd/>\n").hexdigest()
    assert f"cs-repo/repodata/repomd.xml = sha256:{repomd}" in treeinfo
    assert "gateway_repository = cs-repo" in treeinfo
    assert "mediaid=1700000000.0" in (overlay / "media.repo").read_text()
    for path in [overlay, *overlay.rglob("*")]:
        assert path.stat().st_mtime == EPOCH, path
    # The base is untouched; no isohdpfx.bin in it, so Debian's MBR is used.
    assert (tree / "isolinux" / "isolinux.cfg").read_text() == "default old-base-menu\n"
    assert staged.hybrid_mbr == iso.DEBIAN_ISOHDPFX


def test_base_isohdpfx_is_preferred(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    (tree / "isolinux" / "isohdpfx.bin").write_bytes(b"\xfa" * 432)
    os.utime(tree / "isolinux" / "isohdpfx.bin", (EPOCH, EPOCH))
    staged = _stage(tree, tmp_path / "work")
    assert staged.hybrid_mbr.read_bytes() == b"\xfa" * 432


@pytest.mark.parametrize("base_chain", [False, True])
def test_syslinux6_media_get_chain_c32(tmp_path: Path, base_chain: bool) -> None:
    tree = _base(tmp_path)
    (tree / "isolinux" / "ldlinux.c32").write_bytes(b"ldlinux")  # makes it syslinux 6
    if base_chain:
        (tree / "isolinux" / "chain.c32").write_bytes(b"the base's own chain.c32")
    staged = _stage(tree, tmp_path / "work")
    if base_chain:  # the base's own stays; the overlay does not replace it
        assert "isolinux/chain.c32" not in staged.files
    else:
        copied = staged.overlay / "isolinux" / "chain.c32"
        assert copied.read_bytes() == staging.DEBIAN_CHAIN_C32.read_bytes()
        assert copied.stat().st_mtime == EPOCH
        assert "isolinux/chain.c32" in staged.files


def test_grub2_theme_gets_its_font(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    work = tmp_path / "work"
    assert "EFI/BOOT/fonts/ascii.pf2" not in _stage(tree, work / "a").files  # no theme
    staged = _stage(tree, work / "b", extra={"EFI/BOOT/theme.txt": 'title-text: "T"\n'})
    font = staged.overlay / "EFI" / "BOOT" / "fonts" / "ascii.pf2"
    assert font.read_bytes() == staging.GRUB_ASCII_FONT.read_bytes()
    assert b"Unifont Regular 16" in font.read_bytes()[:64]  # the theme's font name
    assert "EFI/BOOT/fonts/ascii.pf2" in staged.files


def test_grub2_theme_gets_its_background_picture(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    work = tmp_path / "work"
    assert "EFI/BOOT/background.png" not in _stage(tree, work / "a").files  # no theme
    theme = render_grub2_theme(load_profile(DEFAULT_PROFILE, Variant.TEST))
    staged = _stage(tree, work / "b", extra={"EFI/BOOT/theme.txt": theme})
    named = re.search(r'^desktop-image: "([^"]+)"$', theme, re.M)
    assert named is not None
    picture = staged.overlay / "EFI" / "BOOT" / named.group(1)  # relative to the theme
    assert picture.read_bytes() == solid_png("#000000")
    assert picture.stat().st_mtime == EPOCH
    assert "EFI/BOOT/background.png" in staged.files


def test_syslinux4_media_get_no_chain_c32(tmp_path: Path) -> None:
    staged = _stage(_base(tmp_path), tmp_path / "work")  # no ldlinux.c32: syslinux 4
    assert "isolinux/chain.c32" not in staged.files  # Debian's 6.04 module won't load in 4.04


def test_overlay_reader_prefers_the_overlay(tmp_path: Path) -> None:
    tree = _base(tmp_path)
    overlay = tmp_path / "overlay"
    (overlay / "isolinux").mkdir(parents=True)
    (overlay / "isolinux" / "isolinux.cfg").write_text("new\n")
    with open_base(tree) as base:
        reader = staging.OverlayReader(overlay, base)
        assert reader.read_bytes("isolinux/isolinux.cfg") == b"new\n"
        assert reader.read_bytes(".discinfo").startswith(b"1700000000.0")
        assert reader.exists("Packages/base-pkg-1.0-1.el6.x86_64.rpm")
        assert not reader.exists("cs-repo/repodata/repomd.xml")
