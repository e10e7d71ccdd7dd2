"""The RHEL 6 gate: gateway RPMs built with features rpm 4.8.0 lacks are refused by name."""

from __future__ import annotations

from pathlib import Path

import pytest
from rpm_factory import build_rpm

from buildiso.compose.rhel6compat import (
    RPM48_RPMLIB_PROVIDES,
    _pubkey_algo,
    check_rhel6_compat,
    rhel6_incompatibilities,
)
from buildiso.errors import InputError
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def _features(path: Path) -> list[str]:
    return [i.feature for i in rhel6_incompatibilities(path)]


def test_plain_gzip_and_xz_packages_pass(tmp_path: Path) -> None:
    gz = build_rpm(tmp_path, "plain", requires=("bash >= 4.1",))
    xz = build_rpm(tmp_path, "xzpayload", payload="w9.xzdio")
    bz = build_rpm(tmp_path, "bzpayload", payload="w9.bzdio")
    assert _features(gz) == [] and _features(xz) == [] and _features(bz) == []
    check_rhel6_compat([gz, xz, bz])  # no exception


def test_zstd_payload_is_refused_with_the_fix(tmp_path: Path) -> None:
    rpm = build_rpm(tmp_path, "zpayload", payload="w19.zstdio")
    with pytest.raises(InputError) as err:
        check_rhel6_compat([rpm])
    text = str(err.value)
    assert "zpayload-1.0-1.el6.x86_64.rpm: payload compressed with zstd" in text
    assert "_binary_payload w9.xzdio" in text
    assert "\n" not in text
    # rpmlib(PayloadIsZstd) is the same problem: reported once, as the payload.
    assert _features(rpm) == ["payload compressed with zstd"]


def test_rich_dependency_is_refused(tmp_path: Path) -> None:
    rpm = build_rpm(tmp_path, "richdep", requires=("(postfix or sendmail)",))
    assert _features(rpm) == ["rich dependency '(postfix or sendmail)'"]


def test_file_trigger_is_refused(tmp_path: Path) -> None:
    rpm = build_rpm(tmp_path, "trig", extra_spec="%filetriggerin -- /usr/lib/trig\necho hello\n")
    assert _features(rpm) == ["file triggers (%filetriggerin/%transfiletriggerin)"]


def test_rpmlib_feature_newer_than_rpm48_is_refused(tmp_path: Path) -> None:
    rpm = build_rpm(tmp_path, "tilde", version="1.0~rc1")  # rpmlib(TildeInVersions)
    features = _features(rpm)
    assert len(features) == 1 and "rpmlib(TildeInVersions)" in features[0]
    assert "rpmlib(TildeInVersions)" not in RPM48_RPMLIB_PROVIDES


def test_every_problem_named_at_once(tmp_path: Path) -> None:
    good = build_rpm(tmp_path, "good")
    z = build_rpm(tmp_path, "zz", payload="w19.zstdio")
    rich = build_rpm(tmp_path, "rich", requires=("(a if b)",))
    with pytest.raises(InputError) as err:
        check_rhel6_compat([good, z, rich])
    assert "2 RHEL 6 incompatibilities" in err.value.message
    assert "zz-1.0-1.el6.x86_64.rpm" in err.value.message
    assert "rich-1.0-1.el6.x86_64.rpm" in err.value.message
    assert "good-" not in err.value.message


def test_sample_gateway_rpms_pass_and_are_rsa_signed(sample_base: SampleBase) -> None:
    import rpmfile

    rpms = sorted(sample_base.gateway_rpms.glob("*.rpm"))
    assert rpms
    check_rhel6_compat(rpms)
    with rpmfile.open(str(rpms[0])) as rpm:
        signature = dict(rpm.headers).get("rsaheader")
    assert _pubkey_algo(signature) == "RSA"  # the parser reads real signature packets


def test_pubkey_algo_of_eddsa_packet() -> None:
    # A v4 signature packet (new format, tag 2) made with EdDSA (22) over SHA256 (8).
    packet = bytes([0xC2, 0x10, 4, 0x00, 22, 8]) + bytes(14)
    assert _pubkey_algo(packet) == "EdDSA"
    old_format_v3 = bytes([0x89, 0x00, 0x20, 3, 5, 0, 0, 0, 0, 0]) + bytes(8) + bytes([17, 2])
    assert _pubkey_algo(old_format_v3) == "DSA"
