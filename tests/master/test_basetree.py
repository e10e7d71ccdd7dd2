"""basetree.py: a RHEL 6 base from a directory or from the DVD ISO (pycdlib, no mount)."""

from __future__ import annotations

import hashlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildiso.config import EfiFlavour, IsolinuxFlavour
from buildiso.errors import InputError
from buildiso.master.basetree import BaseTree, open_base
from buildiso.master.treeinfo import TreeInfo
from buildiso.sample.base import SampleBase

LABEL = "RHEL-6.10 Server.x86_64"
FILES = {
    "isolinux/isolinux.bin": b"\x00isolinux 4.04",
    "isolinux/vesamenu.c32": b"menu",
    "isolinux/isolinux.cfg": b"default vesamenu.c32\n",
    "images/install.img": b"squashfs" * 1000,
    "images/pxeboot/vmlinuz": b"kernel" * 100,
    "images/pxeboot/initrd.img": b"initrd" * 100,
    "EFI/BOOT/BOOTX64.efi": b"MZ grub-legacy",
    "EFI/BOOT/BOOTX64.conf": b"default=0\n",
    "Packages/bash-4.1.2-48.el6.x86_64.rpm": b"rpm",
    "repodata/repomd.xml": b"<repomd/>",
}
CHECKSUMMED = ("images/install.img", "images/pxeboot/vmlinuz", "images/pxeboot/initrd.img",
               "repodata/repomd.xml")  # fmt: skip


def treeinfo(files: dict[str, bytes], *, arch: str = "x86_64", version: str = "6.10") -> str:
    sums = "\n".join(
        f"{rel} = sha256:{hashlib.sha256(files[rel]).hexdigest()}" for rel in CHECKSUMMED
    )
    return f"""[general]
family = Red Hat Enterprise Linux
timestamp = 1527703290.771853
variant = Server
version = {version}
packagedir = Packages
arch = {arch}

[stage2]
mainimage = images/install.img

[images-{arch}]
kernel = images/pxeboot/vmlinuz
initrd = images/pxeboot/initrd.img

[checksums]
{sums}
"""


def make_tree(root: Path, *, files: dict[str, bytes] | None = None, **kwargs: str) -> Path:
    files = dict(FILES if files is None else files)
    files[".treeinfo"] = treeinfo(files, **kwargs).encode()
    files[".discinfo"] = b"1527703288.954221\nRed Hat Enterprise Linux 6.10\nx86_64\n1\n"
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def make_iso(tree: Path, iso: Path, *, rock_ridge: bool = True) -> Path:
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", *(["-R"] if rock_ridge else []), "-J",
         "-joliet-long", "-V", LABEL, "-o", str(iso), str(tree)],
        check=True, capture_output=True,
    )  # fmt: skip
    return iso


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    return make_tree(tmp_path / "tree")


@pytest.fixture
def iso_base(tree: Path, tmp_path: Path) -> Iterator[BaseTree]:
    with open_base(make_iso(tree, tmp_path / "dvd.iso")) as base:
        yield base


def check_common(base: BaseTree) -> None:
    assert base.label == LABEL
    assert base.treeinfo.version == "6.10" and base.treeinfo.arch == "x86_64"
    assert base.discinfo.release == "Red Hat Enterprise Linux 6.10"
    assert base.isolinux_flavour is IsolinuxFlavour.SYSLINUX4
    assert base.efi_flavour is EfiFlavour.GRUB_LEGACY
    files = base.iter_files()
    assert files == sorted(files)
    assert set(files) == set(FILES) | {".treeinfo", ".discinfo"}
    assert base.exists("images/install.img") and base.exists("/isolinux/isolinux.cfg")
    assert not base.exists("images/nothere.img")
    assert base.read_bytes("isolinux/isolinux.cfg") == FILES["isolinux/isolinux.cfg"]
    assert (
        base.sha256("images/install.img") == hashlib.sha256(FILES["images/install.img"]).hexdigest()
    )
    base.verify_checksums()
    with pytest.raises(InputError, match="images/nothere.img not found"):
        base.read_bytes("images/nothere.img")


def test_directory_base(tree: Path, tmp_path: Path) -> None:
    with open_base(tree) as base:
        assert base.kind == "dir" and base.source == tree
        check_common(base)
        base.extract("images/pxeboot/vmlinuz", tmp_path / "out" / "vmlinuz")
    assert (tmp_path / "out" / "vmlinuz").read_bytes() == FILES["images/pxeboot/vmlinuz"]


def test_iso_base(iso_base: BaseTree, tmp_path: Path) -> None:
    assert iso_base.kind == "iso"
    check_common(iso_base)
    iso_base.extract("images/install.img", tmp_path / "install.img")
    assert (tmp_path / "install.img").read_bytes() == FILES["images/install.img"]


def test_joliet_only_iso(tree: Path, tmp_path: Path) -> None:
    with open_base(make_iso(tree, tmp_path / "j.iso", rock_ridge=False)) as base:
        assert "EFI/BOOT/BOOTX64.conf" in base.iter_files()
        base.verify_checksums()


def test_checksum_mismatches_all_named(tree: Path) -> None:
    (tree / "images" / "install.img").write_bytes(b"tampered")
    (tree / "repodata" / "repomd.xml").unlink()
    with open_base(tree) as base, pytest.raises(InputError) as err:
        base.verify_checksums()
    text = str(err.value)
    assert "images/install.img: sha256 does not match .treeinfo" in text
    assert "repodata/repomd.xml: listed in .treeinfo but missing" in text
    assert "\n" not in text


def test_checksum_mismatch_in_iso(tree: Path, tmp_path: Path) -> None:
    (tree / "images" / "pxeboot" / "vmlinuz").write_bytes(b"other kernel")
    with (
        open_base(make_iso(tree, tmp_path / "bad.iso")) as base,
        pytest.raises(InputError, match="images/pxeboot/vmlinuz: sha256 does not match"),
    ):
        base.verify_checksums()


def test_truncated_iso(tree: Path, tmp_path: Path) -> None:
    iso = make_iso(tree, tmp_path / "dvd.iso")
    data = iso.read_bytes()
    cut = tmp_path / "cut.iso"
    cut.write_bytes(data[: len(data) - 4096])
    with pytest.raises(InputError) as err:
        open_base(cut)
    assert "cut.iso: truncated ISO" in str(err.value)
    assert "\n" not in str(err.value)
    cut.write_bytes(data[:20000])  # not even the volume descriptors are whole
    with pytest.raises(InputError, match="cut.iso: "):
        open_base(cut)


def test_not_an_iso(tmp_path: Path) -> None:
    junk = tmp_path / "junk.iso"
    junk.write_bytes(os.urandom(100_000))
    with pytest.raises(InputError, match="junk.iso: not an ISO 9660 image"):
        open_base(junk)


def test_flavours(tmp_path: Path) -> None:
    files = dict(FILES)
    files["isolinux/ldlinux.c32"] = b"ldlinux"
    del files["EFI/BOOT/BOOTX64.conf"]
    files["EFI/BOOT/grub.cfg"] = b"menuentry {}\n"
    with open_base(make_tree(tmp_path / "t6", files=files)) as base:
        assert base.isolinux_flavour is IsolinuxFlavour.SYSLINUX6
        assert base.efi_flavour is EfiFlavour.GRUB2


@pytest.mark.integration
@pytest.mark.parametrize(("config", "flavour"), [("BOOTX64.conf", EfiFlavour.GRUB_LEGACY),
                                                 ("grub.cfg", EfiFlavour.GRUB2)])  # fmt: skip
def test_efi_flavour_from_efiboot_img(tmp_path: Path, config: str, flavour: EfiFlavour) -> None:
    img = tmp_path / "efiboot.img"
    with img.open("wb") as f:
        f.truncate(1440 * 1024)
    env = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}
    subprocess.run(["mkfs.fat", str(img)], check=True, capture_output=True)
    subprocess.run(["mmd", "-i", str(img), "::/EFI", "::/EFI/BOOT"], check=True, env=env)
    (tmp_path / config).write_text("menu\n")
    subprocess.run(["mcopy", "-i", str(img), str(tmp_path / config), f"::/EFI/BOOT/{config}"],
                   check=True, env=env)  # fmt: skip
    files = {k: v for k, v in FILES.items() if not k.startswith("EFI/")}
    files["images/efiboot.img"] = img.read_bytes()
    with open_base(make_tree(tmp_path / "t", files=files)) as base:
        assert base.efi_flavour is flavour
    del files["images/efiboot.img"]
    with pytest.raises(InputError, match="no EFI boot loader config"):
        open_base(make_tree(tmp_path / "none", files=files))


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [({"arch": "i386"}, "a i386 tree; the gateway needs x86_64"),
     ({"version": "7.5"}, "RHEL 7.5 tree; the gateway needs RHEL 6.x")],
)  # fmt: skip
def test_wrong_release(tmp_path: Path, kwargs: dict[str, str], message: str) -> None:
    with pytest.raises(InputError, match=message):
        open_base(make_tree(tmp_path / "t", **kwargs))


def test_not_a_tree(tmp_path: Path) -> None:
    (tmp_path / "t").mkdir()
    with pytest.raises(InputError, match="no .treeinfo at the top"):
        open_base(tmp_path / "t")
    with pytest.raises(InputError, match="base not found"):
        open_base(tmp_path / "missing")


# --- the sample base (issue 3): the same answers from its tree and from its ISO ------------


@pytest.mark.integration
def test_sample_base_tree_and_iso_agree(sample_base: SampleBase) -> None:
    with open_base(sample_base.tree) as tree, open_base(sample_base.iso) as iso:
        for base in (tree, iso):
            assert base.label == LABEL
            assert (base.treeinfo.version, base.treeinfo.arch) == ("6.10", "x86_64")
            assert base.treeinfo.checksums, "the sample's .treeinfo lists checksums"
            base.verify_checksums()
            assert base.exists("repodata/repomd.xml")
        # The ISO adds only the El Torito boot catalog, as on a real DVD.
        assert [f for f in iso.iter_files() if f != "isolinux/boot.cat"] == tree.iter_files()
        assert tree.isolinux_flavour == iso.isolinux_flavour
        assert tree.efi_flavour == iso.efi_flavour
        assert tree.treeinfo == TreeInfo.parse(iso.read_bytes(".treeinfo").decode(),
                                               source=tree.treeinfo.source)  # fmt: skip
        assert tree.discinfo == iso.discinfo
        # Written back unchanged when nothing was changed (D2 rewrites it with render()).
        assert tree.treeinfo.render() == tree.read_bytes(".treeinfo").decode()
        # The sample carries syslinux 6 (ldlinux.c32) and GRUB 2, as issue 3 asks.
        assert tree.isolinux_flavour is IsolinuxFlavour.SYSLINUX6
        assert tree.efi_flavour is EfiFlavour.GRUB2
        kernel = tree.treeinfo.images["kernel"]
        assert tree.sha256(kernel) == iso.sha256(kernel)


# --- a file .treeinfo lists but the tree lacks (pungi 2 and images/boot.iso) --------------


def _with_listed(tree: Path, rel: str, data: bytes) -> None:
    text = (tree / ".treeinfo").read_text()
    digest = hashlib.sha256(data).hexdigest()
    (tree / ".treeinfo").write_text(text + f"{rel} = sha256:{digest}\n")


def test_listed_but_absent_file_may_be_allowed(tree: Path, tmp_path: Path) -> None:
    _with_listed(tree, "images/boot.iso", b"stock RHEL boot.iso")
    for source in (tree, make_iso(tree, tmp_path / "dvd.iso")):
        with open_base(source) as base:
            assert base.verify_checksums(may_be_absent={"images/boot.iso"}) == (
                "images/boot.iso",
            )
            with pytest.raises(InputError, match="images/boot.iso: listed in .treeinfo but"):
                base.verify_checksums()  # strict by default


def test_allowed_absence_does_not_excuse_a_mismatch(tree: Path) -> None:
    _with_listed(tree, "images/boot.iso", b"stock RHEL boot.iso")
    (tree / "images" / "boot.iso").write_bytes(b"someone else's boot.iso")
    with open_base(tree) as base, pytest.raises(InputError) as err:
        base.verify_checksums(may_be_absent={"images/boot.iso"})
    assert "images/boot.iso: sha256 does not match .treeinfo" in str(err.value)


def test_other_absent_files_still_refused(tree: Path) -> None:
    _with_listed(tree, "images/boot.iso", b"stock RHEL boot.iso")
    (tree / "images" / "install.img").unlink()
    with open_base(tree) as base, pytest.raises(InputError) as err:
        base.verify_checksums(may_be_absent={"images/boot.iso"})
    assert "images/install.img: listed in .treeinfo but missing" in str(err.value)
    assert "boot.iso" not in str(err.value)
