"""Second hostile audit, N11 and item 4: the base's repository metadata and every package the
ISO carries are checked before anything is built.

Before: a damaged ``primary.xml.gz`` gave a ``zlib.error`` traceback; a re-gzipped primary
whose checksum no longer matched ``repomd.xml`` built and shipped; a damaged base package
outside the install set shipped with exit 0. Now: every file ``repomd.xml`` lists is checked
against its checksum before it is read (one line, exit 2), and every package of the base,
in the install set or not, against the sha256 its repodata lists.
"""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, sample_args
from mini_media import plain_xorriso_iso

from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def _tree(sample: SampleBase, tmp: Path) -> Path:
    tree = tmp / "tree"
    shutil.copytree(sample.tree, tree)
    return tree


def _metadata(tree: Path, kind: str) -> Path:
    (found,) = (tree / "repodata").glob(f"*-{kind}")
    return found


def _flip(path: Path, at: float = 0.5) -> None:
    data = bytearray(path.read_bytes())
    middle = int(len(data) * at)
    data[middle : middle + 8] = bytes(b ^ 0xFF for b in data[middle : middle + 8])
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("kind", ["primary.xml.gz", "filelists.xml.gz", "other.xml.gz",
                                  "comps-rhel6-sample.xml", "primary.sqlite.bz2"])  # fmt: skip
def test_damaged_metadata_is_one_line(
    kind: str, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(sample_base, tmp_path)
    damaged = _metadata(tree, kind)
    _flip(damaged)
    error = build_refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert f"repodata/{damaged.name}: sha256 does not match repodata/repomd.xml" in error
    assert "zlib" not in error


def test_regzipped_primary_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(sample_base, tmp_path)
    primary = _metadata(tree, "primary.xml.gz")
    text = gzip.decompress(primary.read_bytes())
    primary.write_bytes(gzip.compress(text, compresslevel=1, mtime=1))  # same XML, new bytes
    error = build_refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert f"repodata/{primary.name}: sha256 does not match repodata/repomd.xml" in error


def test_metadata_listed_but_missing_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(sample_base, tmp_path)
    other = _metadata(tree, "other.xml.gz")
    other.unlink()
    error = build_refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert f"repodata/{other.name}: listed in repodata/repomd.xml but missing" in error


def _damage_postfix(tree: Path) -> str:
    (postfix,) = (tree / "Packages").glob("postfix-*.rpm")  # removed by the kickstart
    _flip(postfix, at=0.95)  # in the payload (the middle of a small package is its header)
    return postfix.name


def test_damaged_package_outside_the_install_set_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(sample_base, tmp_path)
    name = _damage_postfix(tree)
    error = build_refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert f"damaged package(s) on the base: {name}" in error
    assert "DIGESTS NOT OK" in error  # rpm's own verdict, next to ours


def test_damaged_package_outside_the_install_set_in_an_iso_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = _tree(sample_base, tmp_path)
    name = _damage_postfix(tree)
    dvd = plain_xorriso_iso(tree, tmp_path / "dvd.iso", volid="RHEL-6.10")  # no implanted MD5
    error = build_refused(sample_args(sample_base, base=dvd), tmp_path / "out", capsys)
    assert f"damaged package(s) on the base: {name}" in error


def test_damaged_package_not_in_the_repodata_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """RHEL 6's add-on repositories keep their packages in Packages/ too: a package the
    root repodata does not list is checked by rpm's own digests."""
    tree = _tree(sample_base, tmp_path)
    (bash,) = (tree / "Packages").glob("bash-*.rpm")
    stowaway = tree / "Packages" / "addon-1.0-1.el6.x86_64.rpm"
    shutil.copyfile(bash, stowaway)
    _flip(stowaway, at=0.95)
    error = build_refused(sample_args(sample_base, base=tree), tmp_path / "out", capsys)
    assert f"damaged package(s) on the base: {stowaway.name} (rpmkeys --checksig: " in error
    assert "DIGESTS NOT OK" in error
