"""Our implanted MD5 must be exactly what implantisomd5 writes, and checkisomd5 must pass."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from mini_media import make_tree, plain_xorriso_iso

from buildiso.errors import BuildError
from buildiso.master import isomd5

pytestmark = pytest.mark.integration


def _plain_iso(tmp_path: Path, *, extra_kib: int) -> Path:
    tree = make_tree(tmp_path / "tree")
    # Odd-sized payload so the fragment points fall at unaligned places.
    (tree / "payload.bin").write_bytes(bytes(range(256)) * (extra_kib * 4) + b"tail")
    return plain_xorriso_iso(tree, tmp_path / "plain.iso", volid="T")


@pytest.mark.parametrize("extra_kib", [1, 1531])
def test_same_bytes_as_implantisomd5(tmp_path: Path, extra_kib: int) -> None:
    iso = _plain_iso(tmp_path, extra_kib=extra_kib)
    theirs = tmp_path / "theirs.iso"
    shutil.copyfile(iso, theirs)
    subprocess.run(["implantisomd5", "--force", str(theirs)], check=True, capture_output=True)
    implant = isomd5.implant_file(iso)
    assert iso.read_bytes() == theirs.read_bytes()
    assert len(implant.fragment_sums) == 60
    assert subprocess.run(["checkisomd5", str(iso)], capture_output=True).returncode == 0


def test_checkisomd5_catches_a_flipped_byte(tmp_path: Path) -> None:
    iso = _plain_iso(tmp_path, extra_kib=200)
    isomd5.implant_file(iso)
    data = bytearray(iso.read_bytes())
    data[len(data) // 2] ^= 0xFF
    iso.write_bytes(bytes(data))
    assert subprocess.run(["checkisomd5", str(iso)], capture_output=True).returncode == 1


def test_streaming_in_odd_chunks_matches_whole_file(tmp_path: Path) -> None:
    iso = _plain_iso(tmp_path, extra_kib=300)
    data = iso.read_bytes()
    stream = isomd5.IsoMd5Stream()
    pos, step = 0, 1
    while pos < len(data):
        stream.update(data[pos : pos + step])
        pos += step
        step = step * 7 % 100_003 + 1  # 1 byte, 8 bytes, ... up to ~100 KiB
    # xorriso pads 300 KiB after the volume by default; the sum covers the volume only.
    assert stream.image_size == isomd5.volume_size(data[32768:34816]) < len(data)
    assert stream.finish() == isomd5.implant_file(iso)


def test_an_image_that_ends_early_is_refused(tmp_path: Path) -> None:
    data = _plain_iso(tmp_path, extra_kib=50).read_bytes()
    stream = isomd5.IsoMd5Stream()
    stream.update(data[: len(data) // 2])
    with pytest.raises(BuildError, match="ended early"):
        stream.finish()


def test_not_an_iso_is_refused() -> None:
    stream = isomd5.IsoMd5Stream()
    with pytest.raises(BuildError, match="primary volume descriptor"):
        stream.update(b"\0" * 40_000)


def test_read_implant(tmp_path: Path) -> None:
    iso = _plain_iso(tmp_path, extra_kib=1)
    assert isomd5.read_implant(iso) is None
    implant = isomd5.implant_file(iso)
    text = isomd5.read_implant(iso)
    assert text is not None and text.startswith(f"ISO MD5SUM = {implant.md5};SKIPSECTORS = 15;")
