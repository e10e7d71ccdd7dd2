"""Checks on a build's inputs, one by one (they run before anything is written)."""

from __future__ import annotations

from pathlib import Path

import pytest
from mini_media import make_tree, plain_xorriso_iso

from buildiso import buildinputs, fingerprint, paths
from buildiso.compose.rpms import RpmHeader
from buildiso.config import Variant
from buildiso.errors import BuildError, InputError
from buildiso.master import isomd5
from buildiso.render.profile import load_profile


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
    good = [_header(buildinputs.REPO_CONF_RPM), _header("cs-email-4.9.0-190.x86_64.rpm")]
    buildinputs.check_headers(good)
    with pytest.raises(InputError, match="cs-email-repo-conf-3.6.3-1.x86_64.rpm is not among"):
        buildinputs.check_headers(good[1:])


def test_headers_wrong_arch_and_misnamed_file() -> None:
    ppc = _header("cs-email-4.9.0-190.ppc64.rpm", arch="ppc64")
    misnamed = RpmHeader(
        **{**_header(buildinputs.REPO_CONF_RPM).__dict__, "path": Path("/r/x.rpm")}
    )
    with pytest.raises(InputError) as err:
        buildinputs.check_headers([ppc, misnamed])
    assert "architecture ppc64" in err.value.message
    assert "x.rpm: is cs-email-repo-conf-3.6.3-1.x86_64.rpm by its header" in err.value.message


def test_signing_key_choices(tmp_path: Path) -> None:
    profile = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
    key = tmp_path / "KEY"
    key.write_text("k")
    assert buildinputs.signing_key(
        profile, gpg_key=key, key_id="abcd1234"
    ) == buildinputs.SigningKey("abcd1234", key)
    with pytest.raises(InputError, match="--gpg-key and --key-id go together"):
        buildinputs.signing_key(profile, gpg_key=key, key_id=None)
    vendor = buildinputs.signing_key(profile, gpg_key=None, key_id=None)
    assert vendor.key_id == "5522142c"
    if not profile.signing.public_key.is_file():  # the vendor key is not in the repository
        assert vendor.public_key is None
        with pytest.raises(InputError, match="no public key for signing key 5522142c"):
            buildinputs.check_signatures([], key=vendor, allow_unsigned=False)
        assert buildinputs.check_signatures([], key=vendor, allow_unsigned=True) == []


def test_free_space(tmp_path: Path) -> None:
    buildinputs.check_free_space(tmp_path, need=1)
    with pytest.raises(BuildError, match=f"not enough free space in {tmp_path}"):
        buildinputs.check_free_space(tmp_path, need=2**62)


def test_gateway_rpm_folder(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="holds no \\*.rpm files"):
        buildinputs.gateway_rpm_files(tmp_path)
    (tmp_path / "b.rpm").write_bytes(b"")
    (tmp_path / "a.rpm").write_bytes(b"")
    (tmp_path / "notes.txt").write_text("")
    assert [p.name for p in buildinputs.gateway_rpm_files(tmp_path)] == ["a.rpm", "b.rpm"]


class _Disc:
    def __init__(self, timestamp: str) -> None:
        self.timestamp = timestamp


class _Base:
    def __init__(self, timestamp: str) -> None:
        self.discinfo = _Disc(timestamp)


def test_epoch(monkeypatch: pytest.MonkeyPatch) -> None:
    headers = [_header("a-1-1.x86_64.rpm", build_time=1_600_000_000)]
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert buildinputs.source_date_epoch(headers, _Base("1500000000.5")) == 1_600_000_000  # type: ignore[arg-type]
    assert buildinputs.source_date_epoch(headers, _Base("1700000000.5")) == 1_700_000_000  # type: ignore[arg-type]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1234")
    assert buildinputs.source_date_epoch(headers, _Base("1")) == 1234  # type: ignore[arg-type]
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "yesterday")
    with pytest.raises(InputError, match="SOURCE_DATE_EPOCH"):
        buildinputs.source_date_epoch(headers, _Base("1"))  # type: ignore[arg-type]


def test_fingerprint_covers_inputs_output_tools_and_code(monkeypatch: pytest.MonkeyPatch) -> None:
    parts = {"inputs": {"a": 1}, "rendered": {"ks.cfg": "x"}, "tools": {"xorriso": "1.5.4"}}
    first = fingerprint.fingerprint(**parts)  # type: ignore[arg-type]
    assert first == fingerprint.fingerprint(**parts)  # type: ignore[arg-type]
    for key, other in (("inputs", {"a": 2}), ("rendered", {"ks.cfg": "y"}), ("tools", {})):
        assert fingerprint.fingerprint(**{**parts, key: other}) != first  # type: ignore[arg-type]
    monkeypatch.setattr(fingerprint, "code_digest", lambda: "changed code")
    assert fingerprint.fingerprint(**parts) != first  # type: ignore[arg-type]


@pytest.mark.integration
def test_damaged_base_iso_is_refused_by_its_implanted_md5(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(paths, "DEFAULT_OUT", tmp_path / "out")  # the sha256 cache
    tree = make_tree(tmp_path / "tree")
    (tree / "Packages" / "big.rpm").write_bytes(bytes(range(256)) * 4096)
    dvd = plain_xorriso_iso(tree, tmp_path / "dvd.iso", volid="RHEL-6.10")
    isomd5.implant_file(dvd)
    buildinputs.check_base_implant(dvd)  # intact: no error
    digest = buildinputs.cached_file_sha256(dvd, verify=buildinputs.check_base_implant)

    data = bytearray(dvd.read_bytes())
    at = data.index(bytes(range(256)) * 16)  # inside a package: no .treeinfo checksum sees it
    data[at + 100] ^= 0xFF
    dvd.write_bytes(bytes(data))
    with pytest.raises(InputError, match="dvd.iso: fails its implanted MD5 check") as err:
        buildinputs.cached_file_sha256(dvd, verify=buildinputs.check_base_implant)
    assert "\n" not in str(err.value)

    seen: list[Path] = []
    plain = plain_xorriso_iso(tree, tmp_path / "plain.iso", volid="RHEL-6.10")
    buildinputs.cached_file_sha256(plain, verify=seen.append)
    buildinputs.cached_file_sha256(plain, verify=seen.append)  # cache hit: not verified again
    assert seen == [plain]
    assert digest != buildinputs.cached_file_sha256(plain)
