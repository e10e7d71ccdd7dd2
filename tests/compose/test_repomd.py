"""compose/repomd.py: repomd.xml read into typed entries; each file checked, bounded."""

from __future__ import annotations

import bz2
import gzip
import hashlib
import lzma
from pathlib import Path

import pytest

from buildiso.compose import repomd
from buildiso.compose.repo import DirReader
from buildiso.errors import InputError

NS = "http://linux.duke.edu/metadata/repo"


def _repo(root: Path, files: dict[str, bytes], *, href: str | None = None,
          kind: str = "sha256", size: bool = True) -> DirReader:  # fmt: skip
    (root / "repodata").mkdir(parents=True)
    entries = []
    for data_type, data in files.items():
        name = f"repodata/{data_type}.xml.gz"
        (root / name).write_bytes(data)
        digest = hashlib.new({"sha": "sha1"}.get(kind, kind), data).hexdigest()
        entries.append(
            f'<data type="{data_type}"><checksum type="{kind}">{digest}</checksum>'
            f'<location href="{href or name}"/>'
            + (f"<size>{len(data)}</size>" if size else "")
            + "</data>"
        )
    body = "".join(entries)
    (root / "repodata" / "repomd.xml").write_text(f'<repomd xmlns="{NS}">{body}</repomd>')
    return DirReader(root)


def test_verified_file_and_its_damage(tmp_path: Path) -> None:
    data = gzip.compress(b"<metadata/>")
    reader = _repo(tmp_path, {"primary": data}, kind="sha")
    index = repomd.read_repomd(reader)
    (entry,) = index.files
    assert (entry.type, entry.algorithm, entry.size) == ("primary", "sha1", len(data))
    assert repomd.open_bytes(entry.href, repomd.read_verified(reader, index, entry)) == (
        b"<metadata/>"
    )
    (tmp_path / entry.href).write_bytes(gzip.compress(b"<metadata/>", mtime=1))
    with pytest.raises(InputError, match="primary.xml.gz: sha1 does not match"):
        repomd.verify_all(reader, index)


@pytest.mark.parametrize("href", ["../../etc/passwd", "/etc/passwd", "repodata/./x.gz", ""])
def test_location_must_stay_inside_the_repository(href: str, tmp_path: Path) -> None:
    reader = _repo(tmp_path, {"primary": b"x"}, href=href or " ")
    with pytest.raises(InputError, match="not a path inside the repository"):
        repomd.read_repomd(reader)


def test_unknown_checksum_type_and_duplicates_are_refused(tmp_path: Path) -> None:
    reader = _repo(tmp_path / "a", {"primary": b"x"}, kind="sha256")
    text = (tmp_path / "a" / "repodata" / "repomd.xml").read_text()
    (tmp_path / "a" / "repodata" / "repomd.xml").write_text(text.replace('"sha256"', '"crc32"'))
    with pytest.raises(InputError, match="checksum type 'crc32'"):
        repomd.read_repomd(reader)
    (tmp_path / "a" / "repodata" / "repomd.xml").write_text(
        text.replace("</repomd>", text[text.index("<data"):text.index("</repomd>")] + "</repomd>")
    )
    with pytest.raises(InputError, match="lists primary metadata twice"):
        repomd.read_repomd(reader)


def test_decompression_is_bounded_and_streams_every_member(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    two = gzip.compress(b"one ") + gzip.compress(b"two")
    assert repomd.open_bytes("x.gz", two) == b"one two"
    assert repomd.open_bytes("x.bz2", bz2.compress(b"a") + bz2.compress(b"b")) == b"ab"
    assert repomd.open_bytes("x.xz", lzma.compress(b"xz")) == b"xz"
    monkeypatch.setattr(repomd, "MAX_OPEN_BYTES", 10 * 2**20)
    bomb = gzip.compress(bytes(64 * 2**20))  # 64 MiB of zeros in ~64 KB
    assert len(bomb) < 200_000
    with pytest.raises(InputError, match="expands to more than 10 MiB"):
        repomd.open_bytes("bomb.gz", bomb)
    with pytest.raises(InputError, match="corrupt compressed metadata"):
        repomd.open_bytes("cut.gz", two[:-6])
    with pytest.raises(InputError, match="RHEL 6 yum"):
        repomd.open_bytes("x.zst", b"")
