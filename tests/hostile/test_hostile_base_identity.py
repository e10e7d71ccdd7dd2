"""Hostile audit #3: a base ISO patched in place, mtime and inode kept, is seen and re-checked."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pycdlib
import pytest
from hostile.hostile_build import sample_args
from mini_media import make_tree, plain_xorriso_iso

from buildiso import buildinputs, paths
from buildiso.cli import main
from buildiso.errors import InputError
from buildiso.master import isomd5
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def _patch_in_place(image: Path, offset: int) -> None:
    """Flip one byte without changing size, inode or mtime (what an in-place edit can do)."""
    before = image.stat()
    with image.open("r+b") as f:
        f.seek(offset)
        byte = f.read(1)
        f.seek(offset)
        f.write(bytes([byte[0] ^ 0xFF]))
    os.utime(image, ns=(before.st_atime_ns, before.st_mtime_ns))
    after = image.stat()
    assert (after.st_ino, after.st_size, after.st_mtime_ns) == (
        before.st_ino,
        before.st_size,
        before.st_mtime_ns,
    )


def _sample_package_offset(image: Path, name: bytes, folder: str = "/Packages") -> int:
    """The middle of <folder>/<name>-* in the sample ISO: inside a package (or another
    file), which no .treeinfo checksum covers."""
    iso = pycdlib.PyCdlib()
    iso.open(str(image))
    try:
        for child in iso.list_children(rr_path=folder):
            if child.rock_ridge is not None and child.rock_ridge.name().startswith(name):
                return int(child.extent_location()) * 2048 + int(child.get_data_length()) // 2
    finally:
        iso.close()
    raise AssertionError(f"{image}: no {folder}/{name.decode()}*")


def _package_offset(image: Path) -> int:
    return image.read_bytes().index(bytes(range(256)) * 16) + 100


def test_patched_iso_with_mtime_kept_is_checked_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "DEFAULT_OUT", tmp_path / "out")  # the verified-digest cache
    tree = make_tree(tmp_path / "tree")
    (tree / "Packages" / "big.rpm").write_bytes(bytes(range(256)) * 4096)
    dvd = plain_xorriso_iso(tree, tmp_path / "dvd.iso", volid="RHEL-6.10")
    isomd5.implant_file(dvd)
    buildinputs.cached_file_sha256(dvd, verify=buildinputs.check_base_implant)
    _patch_in_place(dvd, _package_offset(dvd))
    with pytest.raises(InputError, match="fails its implanted MD5 check"):
        buildinputs.cached_file_sha256(dvd, verify=buildinputs.check_base_implant)


def test_patched_iso_with_mtime_kept_gets_a_new_sha256(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "DEFAULT_OUT", tmp_path / "out")
    tree = make_tree(tmp_path / "tree")
    (tree / "Packages" / "big.rpm").write_bytes(bytes(range(256)) * 4096)
    plain = plain_xorriso_iso(tree, tmp_path / "plain.iso", volid="RHEL-6.10")
    seen: list[Path] = []
    first = buildinputs.cached_file_sha256(plain, verify=seen.append)
    assert buildinputs.cached_file_sha256(plain, verify=seen.append) == first
    assert seen == [plain]  # same content: verified once
    _patch_in_place(plain, _package_offset(plain))
    second = buildinputs.cached_file_sha256(plain, verify=seen.append)
    assert second != first
    assert seen == [plain, plain]  # new content: verified again


def _build_args(sample: SampleBase, dvd: Path, out: Path) -> list[str]:
    return ["build", *sample_args(sample, base=dvd), "--out", str(out)]


def test_build_refuses_a_base_iso_patched_after_a_good_build(
    sample_base: SampleBase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setattr(paths, "DEFAULT_OUT", tmp_path / "cache-home")
    dvd = tmp_path / "dvd.iso"
    shutil.copyfile(sample_base.iso, dvd)
    subprocess.run(["implantisomd5", str(dvd)], check=True, capture_output=True)
    args = _build_args(sample_base, dvd, tmp_path / "out")
    assert main(args) == 0
    _patch_in_place(dvd, _sample_package_offset(dvd, b"busybox"))
    assert main(args) == 2
    err = capsys.readouterr().err
    assert "dvd.iso: fails its implanted MD5 check" in err and "Traceback" not in err


def test_manifest_records_the_patched_base_iso_sha256(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "DEFAULT_OUT", tmp_path / "cache-home")
    dvd = tmp_path / "dvd.iso"
    shutil.copyfile(sample_base.iso, dvd)  # no implanted MD5: only its sha256 can tell
    out = tmp_path / "out"
    assert main(_build_args(sample_base, dvd, out)) == 0
    # isolinux/boot.msg is copied as it is and no checksum covers it: only the base's
    # sha256 can tell the patched ISO from the original. (A package, even one never
    # installed such as postfix, is checked since the second audit: refused.)
    _patch_in_place(dvd, _sample_package_offset(dvd, b"boot.msg", "/isolinux"))
    assert main(_build_args(sample_base, dvd, out)) == 0
    manifest = json.loads((out / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["base"]["sha256"] == hashlib.sha256(dvd.read_bytes()).hexdigest()
