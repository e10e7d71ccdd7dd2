"""Sample signing key: gateway RPMs verify as signed by it, base RPMs as unsigned."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from buildiso.sample import signing
from buildiso.sample.base import SampleBase, cache_dir


def _rpmkeys(dbpath: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["rpmkeys", "--dbpath", str(dbpath), *args], capture_output=True, text=True, check=False
    )


@pytest.fixture()
def keyring(tmp_path: Path, sample_base: SampleBase) -> Path:
    db = tmp_path / "rpmdb"
    db.mkdir()
    proc = _rpmkeys(db, "--import", str(sample_base.gpg_public_key))
    assert proc.returncode == 0, proc.stderr
    return db


@pytest.mark.integration
def test_key_id_file(sample_base: SampleBase) -> None:
    assert re.fullmatch(r"[0-9a-f]{8}", sample_base.key_id)
    assert (sample_base.gateway_rpms / "KEYID").read_text().strip() == sample_base.key_id
    assert "BEGIN PGP PUBLIC KEY BLOCK" in sample_base.gpg_public_key.read_text()


@pytest.mark.integration
def test_gateway_packages_verify_with_the_sample_key(
    sample_base: SampleBase, keyring: Path
) -> None:
    rpms = sorted(sample_base.gateway_rpms.glob("*.rpm"))
    assert len(rpms) >= 4
    for rpm in rpms:
        proc = _rpmkeys(keyring, "-Kv", str(rpm))
        assert proc.returncode == 0, proc.stdout + proc.stderr
        assert f"Header V4 RSA/SHA256 Signature, key ID {sample_base.key_id}: OK" in proc.stdout


@pytest.mark.integration
def test_gateway_packages_fail_without_the_key(sample_base: SampleBase, tmp_path: Path) -> None:
    rpm = sample_base.gateway_rpms / "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
    proc = _rpmkeys(tmp_path, "-Kv", str(rpm))
    assert proc.returncode != 0
    assert f"key ID {sample_base.key_id}: NOKEY" in proc.stdout


@pytest.mark.integration
def test_base_packages_are_unsigned(sample_base: SampleBase, keyring: Path) -> None:
    for rpm in sorted((sample_base.tree / "Packages").glob("*.rpm")):
        proc = _rpmkeys(keyring, "-Kv", str(rpm))
        assert proc.returncode == 0, rpm.name
        assert "Signature" not in proc.stdout, rpm.name
        assert "digest: OK" in proc.stdout


@pytest.mark.integration
def test_sign_with_an_epoch_older_than_the_key(
    sample_base: SampleBase, keyring: Path, tmp_path: Path
) -> None:
    # SOURCE_DATE_EPOCH=1234 with a cached key made in 2018: gpg would refuse to sign
    # ("key created in the future"); the signature takes the key's creation time instead.
    home = tmp_path / "gnupg"
    shutil.copytree(cache_dir() / "sample-gnupg", home, ignore=shutil.ignore_patterns("S.*"))
    key = signing.ensure_key(home, epoch=1234)
    assert key.key_id == sample_base.key_id and signing.key_created(key) > 1234
    rpm = Path(shutil.copy(sample_base.gateway_rpms / "cs-email-repo-conf-3.6.3-1.x86_64.rpm",
                           tmp_path / "cs-email-repo-conf-3.6.3-1.x86_64.rpm"))  # fmt: skip
    subprocess.run(["rpmsign", "--delsign", str(rpm)], check=True, capture_output=True)
    assert "NOKEY" not in _rpmkeys(keyring, "-Kv", str(rpm)).stdout  # really unsigned now
    signing.sign_rpms([rpm], key=key, epoch=1234)
    proc = _rpmkeys(keyring, "-Kv", str(rpm))
    assert f"Signature, key ID {sample_base.key_id}: OK" in proc.stdout, proc.stdout
