"""Hostile audit (brief item 11): outputs are on disk before their final names point at
them, and the SHA-256 pass checks that the image holds the bytes its implanted MD5 was
taken from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hostile.hostile_build import build_into
from mini_media import make_tree, plain_xorriso_iso

from buildiso import publish
from buildiso.errors import BuildError
from buildiso.master import imagestream, iso, isomd5
from buildiso.sample.base import SampleBase


def _record_syncs_and_renames(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    events: list[tuple[str, ...]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", str(Path(src).resolve()), str(Path(dst).resolve())))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_every_output_is_fsynced_before_its_rename_and_the_folder_after(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    work = out / ".X.iso.work-1"
    work.mkdir(parents=True)
    tmp_iso = work / "X.iso"
    tmp_iso.write_bytes(b"\0" * 4096)
    events = _record_syncs_and_renames(monkeypatch)
    publish.publish(
        outputs=publish.Outputs(out_dir=out, iso_name="X.iso"), tmp_iso=tmp_iso,
        sha256="s" * 64, manifest={"schema": 1, "iso": {"sha256": "s" * 64}},
        fingerprint="f",
    )  # fmt: skip
    renames = [(i, e) for i, e in enumerate(events) if e[0] == "replace"]
    published = {Path(e[2]).name for _, e in renames}
    assert {"X.iso", "SHA256SUM", "X.manifest.json"} <= published
    for index, (_, src, _dst) in renames:
        synced = [e[1] for e in events[:index] if e[0] == "fsync"]
        assert src in synced, f"{src} renamed before it was fsynced"
    last_rename = max(i for i, _ in renames)
    assert ("fsync", str(out.resolve())) in events[last_rename:], "folder not fsynced"


def _implanted_iso(tmp: Path) -> tuple[Path, isomd5.Implant]:
    tree = make_tree(tmp / "tree")
    (tree / "Packages" / "big.rpm").write_bytes(bytes(range(256)) * 4096)
    image = plain_xorriso_iso(tree, tmp / "dvd.iso", volid="RHEL-6.10")
    return image, isomd5.implant_file(image)


@pytest.mark.integration
def test_sha256_pass_checks_the_implanted_md5(tmp_path: Path) -> None:
    """The final read (the SHA-256's) compares the image's block CRCs with those taken
    from the bytes the implanted MD5 was computed from (imagestream.check_landed)."""
    image, _ = _implanted_iso(tmp_path)
    data = image.read_bytes()
    hashed = imagestream.BlockSums()  # fed in blocks that do not line up with its own
    for start in range(0, len(data), 5000):
        hashed.update(data[start : start + 5000])
    landed = imagestream.BlockSums()
    sha = imagestream.final_digests(image, extra=[landed])
    assert sha == iso.sha256_file(image)
    imagestream.check_landed(image, hashed=hashed.sums(), landed=landed.sums())
    damaged = bytearray(data)
    damaged[damaged.index(bytes(range(256)) * 16) + 100] ^= 0xFF
    image.write_bytes(bytes(damaged))
    again = imagestream.BlockSums()
    imagestream.final_digests(image, extra=[again])
    with pytest.raises(BuildError, match="does not match its implanted MD5"):
        imagestream.check_landed(image, hashed=hashed.sums(), landed=again.sums())


@pytest.mark.integration
def test_build_refuses_an_image_changed_after_xorriso_wrote_it(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real_final_digests = imagestream.final_digests

    def damage_then_read(dest: Path, **kwargs: object) -> str:
        # After xorriso and the MD5 follower, before the final read: as if a write landed
        # out of order or a sector rotted.
        with dest.open("r+b") as f:
            f.seek(dest.stat().st_size // 2)
            byte = f.read(1)
            f.seek(-1, os.SEEK_CUR)
            f.write(bytes([byte[0] ^ 0xFF]))
        return real_final_digests(dest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(imagestream, "final_digests", damage_then_read)
    out = tmp_path / "out"
    with pytest.raises(BuildError, match="does not match its implanted MD5"):
        build_into(sample_base, out)
    assert sorted(p.name for p in out.iterdir()) == []  # nothing published
