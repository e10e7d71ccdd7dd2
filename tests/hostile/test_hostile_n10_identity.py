"""Second hostile audit, N10 (and item 2 of the issue): the product's identity is checked.

Before: ``EMAIL_490_190.iso`` built from the 4.8.0 RPMs installed cs-email-4.8.0-150 (exit
0), and ``build --profile profiles/email-480.toml`` without ``--gateway-rpms`` made an
``EMAIL_480_150.iso`` holding cs-email 4.9.0-190 (the sample's default RPMs). Now: the
profile's version and build must be the ``cs-email`` package's version and release (both
mixes refused, naming both), the ISO name follows the profile's rule, and a sample build of
a profile takes the sample RPMs of that release or refuses.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, sample_args

from buildiso import paths
from buildiso.cli import main
from buildiso.sample.base import SampleBase

PROFILE_480 = paths.PROFILES_DIR / "email-480.toml"


def _rpms_480(sample: SampleBase) -> Path:
    return sample.gateway_rpms.with_name("gateway-rpms-480")


@pytest.mark.integration
def test_480_profile_with_490_rpms_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = [*sample_args(sample_base), "--profile", str(PROFILE_480)]
    error = build_refused(args, tmp_path / "out", capsys)
    assert "cs-email-4.9.0-190.x86_64.rpm" in error
    assert "version 4.8.0 build 150" in error and "email-480.toml" in error


@pytest.mark.integration
def test_490_profile_with_480_rpms_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = sample_args(sample_base, rpms=_rpms_480(sample_base))
    error = build_refused(args, tmp_path / "out", capsys)
    assert "cs-email-4.8.0-150.x86_64.rpm" in error
    assert "version 4.9.0 build 190" in error and "email-490.toml" in error


@pytest.mark.integration
def test_profile_without_gateway_rpms_takes_its_own_release(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    assert main(["build", "--profile", str(PROFILE_480), "--out", str(out)]) == 0
    manifest = json.loads((out / "EMAIL_480_150.manifest.json").read_text())
    installed = {p["name"]: p["evr"] for p in manifest["install_set"]}
    assert installed["cs-email"] == "4.8.0-150"
    assert "cs-email-legacy" in installed  # 4.8's own package
    assert {p["file"] for p in manifest["inputs"]["gateway_packages"]} >= {
        "cs-email-4.8.0-150.x86_64.rpm"
    }


def _profile(tmp: Path, *, version: str, build: int, iso_name: str) -> Path:
    text = paths.DEFAULT_PROFILE.read_text()
    for old, new in (('version = "4.9.0"', f'version = "{version}"'),
                     ("build = 190", f"build = {build}"),
                     ('iso_name = "EMAIL_490_190.iso"', f'iso_name = "{iso_name}"')):  # fmt: skip
        assert old in text
        text = text.replace(old, new, 1)
    path = tmp / "profile.toml"
    path.write_text(text)
    return path


@pytest.mark.integration
def test_profile_of_a_release_the_sample_lacks_is_refused_without_rpms(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(tmp_path, version="4.7.0", build=120, iso_name="EMAIL_470_120.iso")
    error = build_refused(["--profile", str(profile)], tmp_path / "out", capsys)
    assert "no sample gateway RPMs of version 4.7.0 build 120" in error
    assert "--gateway-rpms" in error


@pytest.mark.parametrize("iso_name", ["EMAIL_480_150.iso", "EMAIL_490_191.iso", "gateway.iso"])
def test_iso_name_must_follow_the_profiles_rule(
    iso_name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = _profile(tmp_path, version="4.9.0", build=190, iso_name=iso_name)
    assert main(["render", "--profile", str(profile), "--out", str(tmp_path / "r")]) == 2
    err = capsys.readouterr().err
    assert f"product.iso_name: '{iso_name}' is not 'EMAIL_490_190.iso'" in err
    assert "Traceback" not in err
