"""`buildiso build` from a RHEL-6.10-DVD-shaped base (tests/rhel_dvd.py), as a tree and as
the ISO, judged by tools that are not buildiso: xorriso/osirrox, isoinfo, mtools, dnf,
checkisomd5, configparser; and hostile variants of it (a mismatch is still refused).
"""

from __future__ import annotations

import configparser
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest
from hostile.hostile_build import sample_args
from rhel_dvd import ADDONS, LABEL, RhelDvd, make_rhel_dvd

from buildiso.config import EfiFlavour, IsolinuxFlavour
from buildiso.manifest import load_manifest
from buildiso.master import iso
from buildiso.master.basetree import open_base
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

ISO_NAME = "EMAIL_490_190.iso"
WARNING = "listed in .treeinfo but not in the tree"
_MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1"}


@dataclass(frozen=True)
class Built:
    out: Path
    stderr: str

    @property
    def iso(self) -> Path:
        return self.out / ISO_NAME


def _buildiso(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "buildiso", *args], capture_output=True,
                          text=True, env={**os.environ, "LANG": "C"})  # fmt: skip


@pytest.fixture(scope="module")
def dvd(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> RhelDvd:
    return make_rhel_dvd(sample_base, tmp_path_factory.mktemp("rhel-dvd"))


@pytest.fixture(scope="module")
def builds(
    dvd: RhelDvd, sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Built]:
    done = {}
    for kind, base in (("tree", dvd.tree), ("iso", dvd.iso)):
        out = tmp_path_factory.mktemp(f"out-{kind}")
        proc = _buildiso("build", *sample_args(sample_base, base=base), "--out", str(out))
        assert proc.returncode == 0, proc.stderr
        done[kind] = Built(out=out, stderr=proc.stderr)
    return done


def _files(image: Path) -> list[str]:
    """Every non-folder of the image (the El Torito catalog boot.cat too)."""
    proc = subprocess.run(["xorriso", "-indev", str(image), "-find", "/", "-not", "-type", "d"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    return sorted(line.strip("'").lstrip("/") for line in proc.stdout.splitlines())


def _read(image: Path, rel: str) -> bytes:
    return subprocess.run(["isoinfo", "-R", "-i", str(image), "-x", f"/{rel}"],
                          capture_output=True, check=True).stdout  # fmt: skip


def _extract(image: Path, rel: str, dest: Path) -> Path:
    subprocess.run(["osirrox", "-indev", str(image), "-extract", f"/{rel}", str(dest)],
                   capture_output=True, check=True)  # fmt: skip
    return dest


def _treeinfo(image: Path) -> configparser.RawConfigParser:
    parser = configparser.RawConfigParser()
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read_string(_read(image, ".treeinfo").decode())
    return parser


def _stale_trans_tbls(image: Path) -> tuple[int, list[str]]:
    """Every TRANS.TBL of the image, and the folders whose table does not list exactly
    the folder's entries (genisoimage -T lines: TYPE ISO-NAME <TAB> LONG-NAME)."""
    files = _files(image)
    proc = subprocess.run(["xorriso", "-indev", str(image), "-find", "/", "-type", "d"],
                          capture_output=True, text=True, check=True)  # fmt: skip
    folders = [line.strip("'").strip("/") for line in proc.stdout.splitlines()]
    entries: dict[str, set[str]] = {folder: set() for folder in folders}
    for path in files + folders:
        if path:
            parent, _, name = path.rpartition("/")
            entries[parent].add(name)
    tables = [f for f in files if f.rsplit("/", 1)[-1] == "TRANS.TBL"]
    stale = []
    for table in tables:
        folder = table.rpartition("/")[0]
        listed = {line.split("\t", 1)[1] for line in _read(image, table).decode().splitlines()}
        if listed != entries[folder] - {"TRANS.TBL"}:
            stale.append(folder or "/")
    return len(tables), stale


def _dnf_names(repo: Path, work: Path) -> set[str]:
    """The package names Debian's dnf reads from the repository at ``repo``."""
    work.mkdir(parents=True)
    conf = work / "dnf.conf"
    conf.write_text(
        f"[main]\nreposdir=/dev/null\ngpgcheck=0\ncachedir={work / 'cache'}\nlogdir={work}\n"
        f"persistdir={work / 'persist'}\n[addon]\nname=addon\nbaseurl=file://{repo}\n"
    )
    proc = subprocess.run(
        ["dnf", "--installroot", str(work / "root"), "--config", str(conf), "--releasever", "6",
         "--forcearch", "x86_64", "--setopt", "reposdir=/dev/null", "--noplugins", "-q",
         "repoquery", "--repo", "addon", "--qf", "%{name}"],
        capture_output=True, text=True, env={"LANG": "C", "PATH": "/usr/bin:/bin"},
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    return set(proc.stdout.split())


# --- the fixture is what a pungi 2 DVD is ------------------------------------------------


def test_fixture_is_shaped_like_the_real_dvd(dvd: RhelDvd) -> None:
    files = _files(dvd.iso)
    assert "images/boot.iso" not in files  # pungi 2: mkisofs -m boot.iso
    treeinfo = _treeinfo(dvd.iso)
    assert treeinfo.get("images-x86_64", "boot.iso") == "images/boot.iso"
    assert treeinfo.has_option("checksums", "images/boot.iso")
    assert treeinfo.get("variant-Server", "addons").split(",") == list(ADDONS)
    for section in ("general", "stage2", "images-xen", *(f"addon-{a}" for a in ADDONS)):
        assert treeinfo.has_section(section), section
    tables, stale = _stale_trans_tbls(dvd.iso)
    assert tables >= 15 and stale == []  # a table in every folder, each one right
    assert any(re.fullmatch(r"repodata/[0-9a-f]{64}-comps-rhel6-Server\.xml", f) for f in files)
    assert "repodata/productid" in files
    assert b"productid" in _read(dvd.iso, "repodata/repomd.xml")
    for rel in ("EULA", "GPL", "RPM-GPG-KEY-redhat-release", "RPM-GPG-KEY-redhat-beta",
                "images/install.img", "images/product.img", "images/efidisk.img",
                "EFI/BOOT/BOOTX64.conf", "EFI/BOOT/splash.xpm.gz", "EFI/BOOT/BOOTX64.efi",
                "isolinux/vesamenu.c32", "isolinux/isolinux.bin"):  # fmt: skip
        assert rel in files, rel
    assert "isolinux/ldlinux.c32" not in files
    assert subprocess.run(["checkisomd5", str(dvd.iso)], capture_output=True).returncode == 0
    for source in (dvd.tree, dvd.iso):
        with open_base(source) as base:
            assert base.label == LABEL
            assert base.isolinux_flavour is IsolinuxFlavour.SYSLINUX4
            assert base.efi_flavour is EfiFlavour.GRUB_LEGACY
    area = subprocess.run(["sgdisk", "-p", str(dvd.tree / "images" / "efidisk.img")],
                          capture_output=True, text=True)  # fmt: skip
    assert "EF00" in area.stdout  # efidisk.img: a GPT disk with an EFI system partition


# --- the builds ------------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_build_goes_on_says_so_once_and_records_it(
    builds: dict[str, Built], dvd: RhelDvd, kind: str
) -> None:
    built = builds[kind]
    warnings = [line for line in built.stderr.splitlines() if WARNING in line]
    assert len(warnings) == 1 and "images/boot.iso" in warnings[0], built.stderr
    manifest = load_manifest(built.out / "EMAIL_490_190.manifest.json")
    pruned = manifest["base_pruning"]
    assert pruned["listed_absent"] == ["images/boot.iso"]
    base_tables = [f for f in _files(dvd.iso) if f.endswith("TRANS.TBL")]
    assert pruned["removed"] == sorted([*base_tables, "images/efidisk.img"])


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_no_stock_images_and_no_trans_tbl(builds: dict[str, Built], kind: str) -> None:
    image = builds[kind].iso
    files = _files(image)
    assert "images/boot.iso" not in files and "images/efidisk.img" not in files
    assert _stale_trans_tbls(image) == (0, [])
    text = _read(image, ".treeinfo").decode()
    assert "boot.iso" not in text and "efidisk" not in text
    # everything else of the base is still there
    for rel in ("EULA", "GPL", "RPM-GPG-KEY-redhat-release", "images/product.img",
                "images/install.img", "repodata/productid", "EFI/BOOT/splash.xpm.gz"):  # fmt: skip
        assert rel in files, rel


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_every_treeinfo_checksum_recomputed(builds: dict[str, Built], kind: str) -> None:
    image = builds[kind].iso
    checksums = dict(_treeinfo(image).items("checksums"))
    assert "images/efiboot.img" in checksums and "cs-repo/repodata/repomd.xml" in checksums
    assert len(checksums) == 11  # images/*, 5 repomd.xml, cs-repo; no boot.iso, efidisk.img
    for rel, value in checksums.items():
        assert value == "sha256:" + hashlib.sha256(_read(image, rel)).hexdigest(), rel


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_addons_keep_their_repodata(
    builds: dict[str, Built], dvd: RhelDvd, kind: str, tmp_path: Path
) -> None:
    image = builds[kind].iso
    before, after = _treeinfo(dvd.iso), _treeinfo(image)
    for section in ("variant-Server", *(f"addon-{a}" for a in ADDONS)):
        assert dict(after.items(section)) == dict(before.items(section)), section
    files = _files(image)
    for folder, names in dvd.addon_packages.items():
        repodata = [f for f in _files(dvd.iso) if f.startswith(f"{folder}/repodata/")]
        repodata = [f for f in repodata if not f.endswith("TRANS.TBL")]
        assert repodata and all(f in files for f in repodata)
        for rel in repodata:
            assert _read(image, rel) == _read(dvd.iso, rel), rel
        copy = _extract(image, folder, tmp_path / folder)
        assert _dnf_names(copy, tmp_path / f"dnf-{folder}") == set(names)


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_efiboot_holds_what_its_grub_legacy_menu_loads(
    builds: dict[str, Built], kind: str, tmp_path: Path
) -> None:
    image = builds[kind].iso
    efiboot = _extract(image, "images/efiboot.img", tmp_path / "efiboot.img")
    menu = subprocess.run(["mtype", "-i", str(efiboot), "::/EFI/BOOT/BOOTX64.conf"],
                          capture_output=True, text=True, check=True, env=_MTOOLS).stdout
    assert menu == _read(image, "EFI/BOOT/BOOTX64.conf").decode()  # the product's menu
    assert "title Install Secure Email Gateway" in menu
    paths = re.findall(r"^\s*(?:kernel|initrd)\s+(?:--\S+\s+)*(/\S+)", menu, re.M)
    assert len(paths) == 4 and set(paths) == {"/images/pxeboot/vmlinuz",
                                              "/images/pxeboot/initrd.img"}  # fmt: skip
    for path in sorted(set(paths)):
        copy = tmp_path / path.rsplit("/", 1)[-1]
        subprocess.run(["mcopy", "-n", "-i", str(efiboot), f"::{path}", str(copy)],
                       check=True, capture_output=True, env=_MTOOLS)  # fmt: skip
        assert copy.read_bytes() == _read(image, path.lstrip("/")), path
    listing = subprocess.run(["mdir", "-b", "-i", str(efiboot), "::/EFI/BOOT"],
                             capture_output=True, text=True, env=_MTOOLS).stdout  # fmt: skip
    assert {"::/EFI/BOOT/BOOTX64.efi", "::/EFI/BOOT/splash.xpm.gz"} <= set(listing.split())
    # the El Torito EFI entry and the hybrid partition cover the grown image, whole
    size = efiboot.stat().st_size
    assert size > 16 * 2**20  # the sample's kernel + initrd
    uefi = next(line.split() for line in iso.el_torito_report(image).splitlines()
                if line.startswith("El Torito boot img :") and "UEFI" in line)  # fmt: skip
    assert int(uefi[-2]) * 512 == size  # Ldsiz, in 512-byte sectors (under 32 MiB here)
    area = iso.system_area_report(image)
    part = next(line.split() for line in area.splitlines()
                if line.startswith("MBR partition      :") and "0xef" in line)  # fmt: skip
    assert int(part[-1]) * 512 == size
    assert "/images/efiboot.img" in area and iso.hybrid_problems(image) == []


@pytest.mark.parametrize("kind", ["tree", "iso"])
def test_media_checks_and_syslinux4_menus(builds: dict[str, Built], kind: str) -> None:
    image = builds[kind].iso
    assert subprocess.run(["checkisomd5", str(image)], capture_output=True).returncode == 0
    torito = iso.el_torito_report(image)
    assert "/isolinux/isolinux.bin" in torito and "/images/efiboot.img" in torito
    ks = _read(image, "ks.cfg").decode()
    assert "ks-post-disk-signature" not in ks  # localboot menu: nothing reads a signature
    local = _read(image, "isolinux/isolinux.cfg").decode().split("\nlabel local\n")[1]
    assert "localboot 0xffff" in local and "chain.c32" not in local
    assert "isolinux/chain.c32" not in _files(image)  # Debian's 6.04 one won't load in 4.04


def test_tree_and_iso_bases_give_the_same_media(builds: dict[str, Built]) -> None:
    tree, from_iso = builds["tree"].iso, builds["iso"].iso
    assert _files(tree) == _files(from_iso)
    for rel in (".treeinfo", "images/efiboot.img", "ks.cfg", "EFI/BOOT/BOOTX64.conf"):
        assert _read(tree, rel) == _read(from_iso, rel), rel


def test_rebuild_is_byte_identical(
    builds: dict[str, Built], dvd: RhelDvd, sample_base: SampleBase, tmp_path: Path
) -> None:
    """Same inputs, another folder, seconds later: the same bytes (efiboot.img rebuilt with
    the kernel and initrd extracted anew, files removed by xorriso)."""
    out = tmp_path / "again"
    proc = _buildiso("build", *sample_args(sample_base, base=dvd.tree), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    first = builds["tree"]
    assert (out / "SHA256SUM").read_text() == (first.out / "SHA256SUM").read_text()
    assert (out / ISO_NAME).read_bytes() == first.iso.read_bytes()


def test_a_boot_iso_that_is_there_is_dropped_and_recorded(
    dvd: RhelDvd, sample_base: SampleBase, tmp_path: Path
) -> None:
    """The tree before mastering (as a compose directory): boot.iso there and matching."""
    assert (dvd.compose / "images" / "boot.iso").is_file()
    out = tmp_path / "out"
    proc = _buildiso("build", *sample_args(sample_base, base=dvd.compose), "--out", str(out))
    assert proc.returncode == 0, proc.stderr
    assert WARNING not in proc.stderr
    pruned = load_manifest(out / "EMAIL_490_190.manifest.json")["base_pruning"]
    assert pruned == {"removed": ["images/boot.iso", "images/efidisk.img"], "listed_absent": []}
    image = out / ISO_NAME
    assert "images/boot.iso" not in _files(image)
    assert "boot.iso" not in _read(image, ".treeinfo").decode()


# --- hostile: a mismatch is still refused --------------------------------------------------


def _linked_copy(tree: Path, dest: Path) -> Path:
    shutil.copytree(tree, dest, copy_function=os.link)
    return dest


@pytest.mark.parametrize(
    ("rel", "message"),
    [
        ("images/product.img", "images/product.img: sha256 does not match .treeinfo"),
        # present after all, but not the one .treeinfo lists: absence is excused, not this
        ("images/boot.iso", "images/boot.iso: sha256 does not match .treeinfo"),
        ("images/efidisk.img", "images/efidisk.img: sha256 does not match .treeinfo"),
    ],
)
def test_a_mismatch_is_still_refused(
    dvd: RhelDvd, sample_base: SampleBase, tmp_path: Path, rel: str, message: str
) -> None:
    tree = _linked_copy(dvd.tree, tmp_path / "tree")
    (tree / rel).unlink(missing_ok=True)  # a new file: the original's hard link stays intact
    (tree / rel).write_bytes(b"not what .treeinfo lists\n")
    out = tmp_path / "out"
    proc = _buildiso("build", *sample_args(sample_base, base=tree), "--out", str(out))
    assert proc.returncode == 2, proc.stderr
    errors = [line for line in proc.stderr.splitlines() if "checksum check failed" in line]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in proc.stderr
    assert not (out / ISO_NAME).exists()


def test_another_listed_file_missing_is_refused(
    dvd: RhelDvd, sample_base: SampleBase, tmp_path: Path
) -> None:
    tree = _linked_copy(dvd.tree, tmp_path / "tree")
    (tree / "images" / "product.img").unlink()
    proc = _buildiso("build", *sample_args(sample_base, base=tree), "--out", str(tmp_path / "o"))
    assert proc.returncode == 2
    assert "images/product.img: listed in .treeinfo but missing" in proc.stderr
