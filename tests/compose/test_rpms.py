"""rpms.py: headers read by rpmfile; signatures checked by rpmkeys against a private db."""

from __future__ import annotations

import hashlib
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from rpm_factory import SigningKey, build_rpm, make_key

from buildiso.compose.rpms import (
    SignatureStatus,
    read_rpm,
    read_rpms,
    refuse_bad_signatures,
    verify_signatures,
)
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.errors import InputError
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


@dataclass(frozen=True)
class Signed:
    key: SigningKey
    other_key: SigningKey
    good: Path
    unsigned: Path
    wrong_key: Path
    corrupt: Path


@pytest.fixture(scope="module")
def signed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Signed]:
    root = tmp_path_factory.mktemp("rpms")
    key = make_key(root / "vendor", "Vendor Test Key")
    other = make_key(root / "other", "Someone Else")
    out = root / "out"
    out.mkdir()

    def variant(name: str) -> Path:
        built = build_rpm(root / "build", name, requires=("/bin/sh",))
        return Path(shutil.copy(built, out / built.name))

    good = key.sign(variant("cs-good"))
    unsigned = variant("cs-unsigned")
    wrong = other.sign(variant("cs-wrongkey"))
    corrupt = key.sign(variant("cs-corrupt"))
    data = bytearray(corrupt.read_bytes())
    data[-40] ^= 0xFF  # a byte of the compressed payload: the digests no longer match
    corrupt.write_bytes(bytes(data))
    yield Signed(key, other, good, unsigned, wrong, corrupt)
    key.close()
    other.close()


def test_read_rpm_header_fields(tmp_path: Path) -> None:
    path = build_rpm(
        tmp_path,
        "cs-email-core",
        version="4.9.0",
        release="190",
        epoch=2,
        requires=("libfoo.so.1()(64bit)", "bar >= 2.0-1", "/bin/sh"),
        provides=("mta = 1.5",),
        conflicts=("postfix", "samba-common < 4"),
        obsoletes=("old-email < 4",),
        files=("/usr/sbin/cs-email", "/etc/cs/email.conf"),
    )
    header = read_rpm(path)
    assert (header.name, header.epoch, header.version, header.release, header.arch) == (
        "cs-email-core",
        2,
        "4.9.0",
        "190",
        "x86_64",
    )
    assert header.filename == "cs-email-core-4.9.0-190.x86_64.rpm"
    assert header.nevra == "cs-email-core-2:4.9.0-190.x86_64"
    assert Relation("bar", Flag.GE, Evr(0, "2.0", "1")) in header.requires
    assert Relation("libfoo.so.1()(64bit)") in header.requires
    assert Relation("/bin/sh") in header.requires
    assert Relation("mta", Flag.EQ, Evr(0, "1.5")) in header.provides
    # rpm adds the package's own "name = EVR" provide.
    assert Relation("cs-email-core", Flag.EQ, Evr(2, "4.9.0", "190")) in header.provides
    assert [str(c) for c in header.conflicts] == ["postfix", "samba-common < 4"]
    assert [str(o) for o in header.obsoletes] == ["old-email < 4"]
    assert header.files == ("/etc/cs/email.conf", "/usr/sbin/cs-email")
    assert header.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    assert header.size == path.stat().st_size


def test_read_rpm_without_epoch(tmp_path: Path) -> None:
    header = read_rpm(build_rpm(tmp_path, "plain", arch="noarch"))
    assert header.epoch is None
    assert header.nevra == "plain-1.0-1.el6.noarch"


@pytest.mark.parametrize("cut", [50, 500, 2000])
def test_truncated_rpm_is_named(tmp_path: Path, cut: int) -> None:
    path = build_rpm(tmp_path, "broken")
    bad = tmp_path / "cs-broken.rpm"
    bad.write_bytes(path.read_bytes()[:cut])
    with pytest.raises(InputError) as err:
        read_rpm(bad)
    assert "cs-broken.rpm" in str(err.value)
    assert "\n" not in err.value.message


def test_not_an_rpm(tmp_path: Path) -> None:
    bad = tmp_path / "notes.rpm"
    bad.write_text("hello\n" * 100)
    with pytest.raises(InputError, match="notes.rpm: not a valid RPM"):
        read_rpm(bad)


def test_read_rpms_reports_every_bad_file(tmp_path: Path) -> None:
    good = build_rpm(tmp_path, "fine")
    bad1, bad2 = tmp_path / "one.rpm", tmp_path / "two.rpm"
    bad1.write_bytes(b"x" * 10)
    bad2.write_bytes(good.read_bytes()[:100])
    with pytest.raises(InputError) as err:
        read_rpms([good, bad1, bad2])
    assert "one.rpm" in str(err.value) and "two.rpm" in str(err.value)


def test_signatures_each_case_is_named(signed: Signed) -> None:
    paths = [signed.good, signed.unsigned, signed.wrong_key, signed.corrupt]
    results = verify_signatures(paths, public_key=signed.key.public_key, key_id=signed.key.key_id)
    by_name = {r.path.name: r for r in results}
    assert [r.path for r in results] == paths
    good = by_name[signed.good.name]
    assert good.status is SignatureStatus.OK and good.key_id == signed.key.key_id
    assert by_name[signed.unsigned.name].status is SignatureStatus.UNSIGNED
    wrong = by_name[signed.wrong_key.name]
    assert wrong.status is SignatureStatus.WRONG_KEY
    assert wrong.key_id == signed.other_key.key_id
    assert signed.other_key.key_id in wrong.describe()
    assert by_name[signed.corrupt.name].status is SignatureStatus.CORRUPT
    assert "BAD" in by_name[signed.corrupt.name].describe()


def test_signed_with_the_other_key_is_ok_for_that_key(signed: Signed) -> None:
    # The same package passes when the profile names the key that signed it: the
    # result really depends on the key given, not on the package alone.
    (result,) = verify_signatures(
        [signed.wrong_key],
        public_key=signed.other_key.public_key,
        key_id=signed.other_key.key_id.upper(),
    )
    assert result.ok


def test_rsa_sha1_signature_like_the_vendors(signed: Signed, tmp_path: Path) -> None:
    # docs/product-facts.md, "Package signatures": rpm says "Header V4 RSA/SHA1 Signature".
    rpm = Path(shutil.copy(signed.unsigned, tmp_path / "cs-sha1.rpm"))
    signed.key.sign(rpm, digest="sha1")
    (result,) = verify_signatures([rpm], public_key=signed.key.public_key, key_id=signed.key.key_id)
    assert result.ok, result.describe()


def test_refuse_lists_every_bad_package(signed: Signed) -> None:
    results = verify_signatures(
        [signed.good, signed.unsigned, signed.wrong_key, signed.corrupt],
        public_key=signed.key.public_key,
        key_id=f"0x{signed.key.key_id}",
    )
    with pytest.raises(InputError) as err:
        refuse_bad_signatures(results)
    text = str(err.value)
    assert "3 gateway package(s)" in text
    for path in (signed.unsigned, signed.wrong_key, signed.corrupt):
        assert path.name in text
    assert signed.good.name not in text
    assert "--allow-unsigned" in text
    refuse_bad_signatures(results[:1])  # all good: no error


def test_allow_unsigned_still_refuses_corrupt_packages(signed: Signed) -> None:
    results = verify_signatures(
        [signed.good, signed.unsigned, signed.wrong_key, signed.corrupt],
        public_key=signed.key.public_key,
        key_id=signed.key.key_id,
    )
    with pytest.raises(InputError) as err:
        refuse_bad_signatures(results, allow_unsigned=True)
    text = str(err.value)
    assert "1 gateway package(s)" in text and signed.corrupt.name in text
    assert signed.unsigned.name not in text and signed.wrong_key.name not in text
    assert "replace the corrupt package" in text
    refuse_bad_signatures(results[:3], allow_unsigned=True)  # unsigned/wrong key: allowed


def test_without_a_public_key_the_digests_are_still_checked(signed: Signed) -> None:
    # A development build with no vendor key: nothing is trusted, damage is still found.
    results = verify_signatures(
        [signed.good, signed.unsigned, signed.corrupt], public_key=None, key_id="5522142c"
    )
    good, unsigned, corrupt = (r.status for r in results)
    assert good is SignatureStatus.WRONG_KEY
    assert unsigned is SignatureStatus.UNSIGNED
    assert corrupt is SignatureStatus.CORRUPT


def test_key_file_must_match_key_id(signed: Signed) -> None:
    with pytest.raises(InputError, match="holds key ID"):
        verify_signatures(
            [signed.good], public_key=signed.other_key.public_key, key_id=signed.key.key_id
        )


def test_bad_key_inputs(signed: Signed, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not a hexadecimal key ID"):
        verify_signatures([signed.good], public_key=signed.key.public_key, key_id="vendor")
    with pytest.raises(InputError, match="public key file not found"):
        verify_signatures([signed.good], public_key=tmp_path / "nope.asc", key_id="5522142c")
    junk = tmp_path / "junk.asc"
    junk.write_text("not a key\n")
    with pytest.raises(InputError, match="not a usable public key"):
        verify_signatures([signed.good], public_key=junk, key_id="5522142c")


@pytest.mark.integration
def test_sample_gateway_rpms_are_signed_by_the_sample_key(sample_base: SampleBase) -> None:
    rpms = sorted(sample_base.gateway_rpms.glob("*.rpm"))
    assert any(p.name == "cs-email-repo-conf-3.6.3-1.x86_64.rpm" for p in rpms)
    results = verify_signatures(
        rpms, public_key=sample_base.gpg_public_key, key_id=sample_base.key_id
    )
    assert [r.describe() for r in results if not r.ok] == []
    # The base OS packages are not signed: the same check names every one of them.
    base = sorted((sample_base.tree / "Packages").glob("*.rpm"))[:3]
    results = verify_signatures(
        base, public_key=sample_base.gpg_public_key, key_id=sample_base.key_id
    )
    assert {r.status for r in results} == {SignatureStatus.UNSIGNED}
    headers = read_rpms(rpms)
    assert all(h.filename == h.path.name for h in headers)
