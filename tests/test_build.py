"""The build pipeline's checks, one by one (the whole pipeline: test_build_e2e.py)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from buildiso import build
from buildiso.cli import main
from buildiso.config import Variant
from buildiso.errors import BuildError, InputError
from buildiso.profile import load_profile
from buildiso.rpms import RpmHeader


def _header(
    filename: str, *, arch: str = "x86_64", name: str = "", build_time: int = 0
) -> RpmHeader:
    nvr = filename.removesuffix(f".{arch}.rpm")
    n, v, r = nvr.rsplit("-", 2)
    return RpmHeader(
        path=Path("/rpms") / filename, name=name or n, epoch=None, version=v, release=r,
        arch=arch, requires=(), provides=(), conflicts=(), obsoletes=(), files=(),
        sha256="0" * 64, size=1, source_rpm="x.src.rpm", build_time=build_time,
    )  # fmt: skip


def test_headers_need_the_repo_conf_package() -> None:
    good = [_header(build.REPO_CONF_RPM), _header("cs-email-4.9.0-190.x86_64.rpm")]
    build._check_headers(good)
    with pytest.raises(InputError, match="cs-email-repo-conf-3.6.3-1.x86_64.rpm is not among"):
        build._check_headers(good[1:])


def test_headers_wrong_arch_and_misnamed_file() -> None:
    ppc = _header("cs-email-4.9.0-190.ppc64.rpm", arch="ppc64")
    misnamed = RpmHeader(**{**_header(build.REPO_CONF_RPM).__dict__, "path": Path("/r/x.rpm")})
    with pytest.raises(InputError) as err:
        build._check_headers([ppc, misnamed])
    assert "architecture ppc64" in err.value.message
    assert "x.rpm: is cs-email-repo-conf-3.6.3-1.x86_64.rpm by its header" in err.value.message


def test_signing_key_choices(tmp_path: Path) -> None:
    profile = load_profile(build.paths.DEFAULT_PROFILE, Variant.TEST)
    key = tmp_path / "KEY"
    key.write_text("k")
    assert build._signing_key(profile, gpg_key=key, key_id="abcd1234") == build.SigningKey(
        "abcd1234", key
    )
    with pytest.raises(InputError, match="--gpg-key and --key-id go together"):
        build._signing_key(profile, gpg_key=key, key_id=None)
    vendor = build._signing_key(profile, gpg_key=None, key_id=None)
    assert vendor.key_id == "5522142c"
    if not profile.signing.public_key.is_file():  # the vendor key is not in the repository
        assert vendor.public_key is None
        with pytest.raises(InputError, match="no public key for signing key 5522142c"):
            build._check_signatures([], key=vendor, allow_unsigned=False)
        assert build._check_signatures([], key=vendor, allow_unsigned=True) == []


def test_free_space(tmp_path: Path) -> None:
    build._check_free_space(tmp_path, need=1)
    with pytest.raises(BuildError, match=f"not enough free space in {tmp_path}"):
        build._check_free_space(tmp_path, need=2**62)


def test_gateway_rpm_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no \\*.rpm files"):
        build._gateway_rpm_files(tmp_path)
    (tmp_path / "b.rpm").write_bytes(b"")
    (tmp_path / "a.rpm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    assert [p.name for p in build._gateway_rpm_files(tmp_path)] == ["a.rpm", "b.rpm"]


class _Disc:
    def __init__(self, timestamp: str) -> None:
        self.timestamp = timestamp


class _Base:
    def __init__(self, timestamp: str) -> None:
        self.discinfo = _Disc(timestamp)


def test_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = [_header("a-1-1.x86_64.rpm", build_time=1_600_000_000)]
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert build._epoch(headers, _Base("1500000000.5")) == 1_600_000_000  # type: ignore[arg-type]
    assert build._epoch(headers, _Base("1700000000.5")) == 1_700_000_000  # type: ignore[arg-type]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert build._epoch(headers, _Base("1")) == 1234  # type: ignore[arg-type]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        build._epoch(headers, _Base("1"))  # type: ignore[arg-type]


def test_unchanged_build_needs_same_fingerprint_and_untouched_iso(tmp_path: Path) -> None:
    image, manifest, sums = tmp_path / "X.iso", tmp_path / "X.manifest.json", tmp_path / "SHA256SUM"
    assert build._unchanged_build(manifest, image, sums, "f") is None
    image.write_bytes(b"iso")
    st = image.stat()
    record = {
        "schema": 1,
        "fingerprint": "f",
        "iso": {
            "sha256": "s" * 64,
            "stat": {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino},
        },
    }
    manifest.write_text(json.dumps(record))
    sums.write_text(f"{'s' * 64}  X.iso\n")
    assert build._unchanged_build(manifest, image, sums, "f") == record
    assert build._unchanged_build(manifest, image, sums, "other") is None
    os.utime(image, ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
    assert build._unchanged_build(manifest, image, sums, "f") is None


def test_base_without_gateway_rpms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--base", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--base and --gateway-rpms go together" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()
