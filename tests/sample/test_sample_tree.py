"""buildiso.sample.tree: RHEL 6 metadata files and the repository of the sample DVD."""

from __future__ import annotations

import bz2
import configparser
import gzip
import hashlib
import os
import sqlite3
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso.sample import tree
from buildiso.sample.base import SampleBase

EPOCH = 1529366400
REPO_NS = {"repo": "http://linux.duke.edu/metadata/repo"}
COMMON_NS = {"common": "http://linux.duke.edu/metadata/common"}


def _fake_tree(root: Path) -> Path:
    for name in tree.CHECKSUMMED:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(name.encode())
    return root


def test_discinfo_has_the_four_rhel6_lines() -> None:
    lines = tree.discinfo_text(epoch=EPOCH).splitlines()
    assert lines == [f"{EPOCH}.000000", "6.10", "x86_64", "1"]


def test_treeinfo_sections_and_checksums(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path)
    parser = configparser.ConfigParser()
    parser.read_string(tree.treeinfo_text(tree=root, epoch=EPOCH))
    general = parser["general"]
    assert general["family"] == "Red Hat Enterprise Linux"
    assert (general["version"], general["arch"], general["variant"]) == ("6.10", "x86_64", "Server")
    assert general["packagedir"] == "Packages"
    assert parser["stage2"]["mainimage"] == "images/install.img"
    assert parser["images-x86_64"]["kernel"] == "images/pxeboot/vmlinuz"
    checksums = dict(parser["checksums"])
    assert set(checksums) == set(tree.CHECKSUMMED)
    for name, value in checksums.items():
        assert value == "sha256:" + hashlib.sha256(name.encode()).hexdigest()


def test_treeinfo_changes_when_a_file_changes(tmp_path: Path) -> None:
    root = _fake_tree(tmp_path)
    before = tree.treeinfo_text(tree=root, epoch=EPOCH)
    (root / "images" / "install.img").write_bytes(b"changed")
    assert tree.treeinfo_text(tree=root, epoch=EPOCH) != before


def test_media_repo_is_an_install_media_section() -> None:
    parser = configparser.ConfigParser()
    parser.read_string(tree.media_repo_text(epoch=EPOCH))
    assert parser["InstallMedia"]["mediaid"] == f"{EPOCH}.000000"


# --- the built sample base ------------------------------------------------------------


@pytest.mark.integration
def test_built_tree_metadata_matches_its_files(sample_base: SampleBase) -> None:
    root = sample_base.tree
    assert len((root / ".discinfo").read_text().splitlines()) == 4
    parser = configparser.ConfigParser()
    parser.read(root / ".treeinfo")
    for name, value in parser["checksums"].items():
        algorithm, digest = value.split(":")
        assert algorithm == "sha256"
        assert tree.sha256_file(root / name) == digest, name
    for name in (
        "isolinux/isolinux.bin",
        "isolinux/vesamenu.c32",
        "isolinux/ldlinux.c32",
        "isolinux/libcom32.c32",
        "isolinux/libutil.c32",
        "isolinux/vmlinuz",
        "isolinux/initrd.img",
        "isolinux/isolinux.cfg",
        "isolinux/boot.msg",
        "images/install.img",
        "images/efiboot.img",
        "images/pxeboot/vmlinuz",
        "images/pxeboot/initrd.img",
        "EFI/BOOT/BOOTX64.EFI",
        "EFI/BOOT/grub.cfg",
        "media.repo",
    ):
        assert (root / name).is_file(), name


def _repomd(root: Path) -> dict[str, Path]:
    repomd = ET.parse(root / "repodata" / "repomd.xml").getroot()
    return {
        data.attrib["type"]: root / data.find("repo:location", REPO_NS).attrib["href"]  # type: ignore[union-attr]
        for data in repomd.findall("repo:data", REPO_NS)
    }


@pytest.mark.integration
def test_repodata_reads_like_rhel6_yum_reads_it(sample_base: SampleBase, tmp_path: Path) -> None:
    """gzip XML + bz2 sqlite (what yum 3.2.29 reads), listing exactly Packages/."""
    root = sample_base.tree
    locations = _repomd(root)
    assert {"primary", "filelists", "other", "primary_db", "group"} <= set(locations)
    assert locations["primary"].name.endswith(".xml.gz")
    assert locations["primary_db"].name.endswith(".sqlite.bz2")
    on_disk = {p.name for p in (root / "Packages").glob("*.rpm")}

    primary = ET.fromstring(gzip.decompress(locations["primary"].read_bytes()))
    hrefs = {
        Path(p.find("common:location", COMMON_NS).attrib["href"]).name  # type: ignore[union-attr]
        for p in primary.findall("common:package", COMMON_NS)
    }
    assert hrefs == on_disk

    db = tmp_path / "primary.sqlite"
    db.write_bytes(bz2.decompress(locations["primary_db"].read_bytes()))
    with sqlite3.connect(db) as conn:
        names = {row[0] for row in conn.execute("SELECT location_href FROM packages")}
        dbversion = conn.execute("SELECT dbversion FROM db_info").fetchone()[0]
    assert {Path(n).name for n in names} == on_disk
    assert dbversion == 10  # the schema yum 3.2.x expects


@pytest.mark.integration
def test_comps_groups_name_packages_of_the_tree(sample_base: SampleBase) -> None:
    root = sample_base.tree
    comps = ET.parse(_repomd(root)["group"]).getroot()
    groups = {g.findtext("id"): g for g in comps.findall("group")}
    assert {"core", "base"} <= set(groups)
    core = {p.text: p.attrib["type"] for p in groups["core"].iter("packagereq")}
    assert core["kernel"] == "mandatory"
    assert core["grub"] == "mandatory"
    assert core["sample-firstboot-report"] == "mandatory"
    # the conflict trio comes with the default groups, as on RHEL 6
    in_defaults = {
        p.text
        for g in ("core", "base")
        for p in groups[g].iter("packagereq")
        if p.attrib["type"] in ("mandatory", "default")
    }
    assert {"postfix", "rsyslog", "samba-common"} <= in_defaults
    names = {p.name.rsplit("-", 2)[0] for p in (root / "Packages").glob("*.rpm")}
    specs = {p.stem for p in tree.COMPS_FILE.parent.joinpath("specs").glob("*.spec")}
    listed = {p.text for g in groups.values() for p in g.iter("packagereq")}
    # every group member that has a spec here is on the DVD (grub and the first-boot
    # report come from the installer's specs; once they exist they must be built)
    assert {n for n in listed if n in specs} <= names


GOLDEN = Path(__file__).with_name("data") / "sample-treeinfo.expected"


def test_treeinfo_golden(tmp_path: Path) -> None:
    """The whole .treeinfo text; regenerate on purpose with BUILDISO_UPDATE_GOLDEN=1."""
    text = tree.treeinfo_text(tree=_fake_tree(tmp_path), epoch=EPOCH)
    if os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(text)
    assert text == GOLDEN.read_text()
