"""The overlay: only new/changed files, dated SOURCE_DATE_EPOCH, .treeinfo kept honest."""

from __future__ import annotations

import hashlib
import os
import re
import time
from pathlib import Path

import pytest
from mini_media import EPOCH, make_efiboot, make_tree

from buildiso.config import EfiFlavour, Variant
from buildiso.errors import InputError
from buildiso.master import efiboot, iso, pruning, staging
from buildiso.master.basetree import open_base
from buildiso.paths import DEFAULT_PROFILE
from buildiso.render.grubbackground import solid_png
from buildiso.render.profile import load_profile
from buildiso.render.templates import render_efi_menu, render_grub2_theme

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


# --- a grub-legacy base (RHEL 6): kernel and initrd into efiboot.img; what leaves ---------


def _legacy_base(root: Path, *, with_kernel: bool = True) -> Path:
    """mini_media's tree made RHEL-6-like: grub-legacy EFI, images/pxeboot, a .treeinfo that
    lists images/boot.iso (absent) and efidisk.img, TRANS.TBL files."""
    tree = make_tree(root / "tree")
    (tree / "EFI" / "BOOT" / "grub.cfg").unlink()
    (tree / "EFI" / "BOOT" / "BOOTX64.conf").write_text("stock RHEL menu\n")
    efiboot_img = tree / "images" / "efiboot.img"
    make_efiboot(efiboot_img, config_name="BOOTX64.conf", text="stock RHEL menu\n")
    pxeboot = tree / "images" / "pxeboot"
    pxeboot.mkdir()
    if with_kernel:
        (pxeboot / "vmlinuz").write_bytes(b"kernel" * 50_000)
        (pxeboot / "initrd.img").write_bytes(b"initrd" * 100_000)
    (tree / "images" / "efidisk.img").write_bytes(b"stock efidisk")
    for folder in (tree, tree / "images", tree / "isolinux"):
        (folder / "TRANS.TBL").write_text("F stale table\n")
    digest = hashlib.sha256
    (tree / ".treeinfo").write_text(
        TREEINFO.format(efiboot=digest(efiboot_img.read_bytes()).hexdigest())
        + f"images/boot.iso = sha256:{'2' * 64}\n"
        + f"images/efidisk.img = sha256:{digest(b'stock efidisk').hexdigest()}\n"
        + "\n[images-x86_64]\nkernel = images/pxeboot/vmlinuz\n"
        + "initrd = images/pxeboot/initrd.img\nboot.iso = images/boot.iso\n"
    )
    return tree


def _legacy_menu() -> dict[str, str]:
    profile = load_profile(DEFAULT_PROFILE, Variant.TEST)
    return {"EFI/BOOT/BOOTX64.conf": render_efi_menu(profile, flavour=EfiFlavour.GRUB_LEGACY)}


def test_grub_legacy_efiboot_carries_kernel_and_initrd(tmp_path: Path) -> None:
    tree = _legacy_base(tmp_path)
    menu = _legacy_menu()
    overlay = tmp_path / "work" / "overlay"
    repodata = overlay / "cs-repo" / "repodata"
    repodata.mkdir(parents=True)
    (repodata / "repomd.xml").write_text("<repomd/>\n")
    with open_base(tree) as base:
        assert base.efi_flavour is EfiFlavour.GRUB_LEGACY
        staged = staging.stage_overlay(
            overlay=overlay, scratch=tmp_path / "work", base=base,
            profile=load_profile(DEFAULT_PROFILE, Variant.TEST),
            rendered={"ks.cfg": "# ks\n", **menu}, epoch=EPOCH,
        )  # fmt: skip
    image = overlay / "images" / "efiboot.img"
    conf = menu["EFI/BOOT/BOOTX64.conf"]
    assert efiboot.read_file(image, "EFI/BOOT/BOOTX64.conf") == conf.encode()
    wanted = efiboot.boot_file_paths(conf)
    assert wanted == ["images/pxeboot/vmlinuz", "images/pxeboot/initrd.img"]
    for rel in wanted:
        assert efiboot.read_file(image, rel) == (tree / rel).read_bytes(), rel
    # .treeinfo: efiboot.img's new checksum; boot.iso and efidisk.img forgotten
    treeinfo = (overlay / ".treeinfo").read_text()
    assert f"images/efiboot.img = sha256:{iso.sha256_file(image)}" in treeinfo
    assert "boot.iso" not in treeinfo and "efidisk" not in treeinfo
    assert "kernel = images/pxeboot/vmlinuz" in treeinfo
    assert staged.pruned.removed == (
        "TRANS.TBL", "images/TRANS.TBL", "images/efidisk.img", "isolinux/TRANS.TBL"
    )
    assert staged.pruned.listed_absent == ("images/boot.iso",)
    assert not any(pruning.is_trans_tbl(rel) for rel in staged.files)


def test_grub_legacy_base_without_the_kernel_its_menu_loads(tmp_path: Path) -> None:
    tree = _legacy_base(tmp_path, with_kernel=False)
    with pytest.raises(InputError, match=r"images/pxeboot/vmlinuz missing \(the EFI menu"):
        _stage(tree, tmp_path / "work", extra=_legacy_menu())


def test_grub2_efiboot_only_gets_the_menu(tmp_path: Path) -> None:
    staged = _stage(_base(tmp_path), tmp_path / "work")
    image = staged.overlay / "images" / "efiboot.img"
    assert efiboot.list_files(image) == ["EFI/BOOT/BOOTX64.EFI", "EFI/BOOT/grub.cfg"]
    assert image.stat().st_size == 2880 * 1024  # edited in place, not rebuilt


def test_grub_legacy_efiboot_is_reproducible(tmp_path: Path) -> None:
    """The kernel and initrd are extracted anew each build: their dates must not leak in."""
    tree = _legacy_base(tmp_path)
    images = []
    for run in ("a", "b"):
        staged = _stage(tree, tmp_path / run, extra=_legacy_menu())
        images.append((staged.overlay / "images" / "efiboot.img").read_bytes())
        time.sleep(2.1)  # FAT times have 2 s resolution
    assert images[0] == images[1]
