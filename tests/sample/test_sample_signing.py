"""Sample signing key: gateway RPMs verify as signed by it, base RPMs as unsigned."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from buildiso.sample.base import SampleBase


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
