"""The build pipeline's own logic (the whole pipeline runs in test_build_e2e.py)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.cli import main
from buildiso.compose.depsolve import SOLVER
from buildiso.sample.base import SampleBase


def test_base_without_gateway_rpms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--base", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--base and --gateway-rpms go together" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


# --- --allow-unresolved (development builds) -------------------------------------------------


def _sample_build_args(sample: SampleBase, rpms: Path) -> list[str]:
    return ["build", "--base", str(sample.tree), "--gateway-rpms", str(rpms),
            "--gpg-key", str(sample.gpg_public_key), "--key-id", sample.key_id]  # fmt: skip


def _rpms_without_core(sample: SampleBase, dest: Path) -> Path:
    dest.mkdir()
    for rpm in sorted(sample.gateway_rpms.glob("*.rpm")):
        if rpm.name != "cs-email-core-4.9.0-190.x86_64.rpm":  # cs-email Requires it
            shutil.copyfile(rpm, dest / rpm.name)
    return dest


@pytest.mark.integration
def test_allow_unresolved_ships_missing_requires_loudly(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _sample_build_args(sample_base, _rpms_without_core(sample_base, tmp_path / "rpms"))
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2  # a release build refuses
    assert "unresolved dependency: " in capsys.readouterr().err
    assert main([*args, "--allow-unresolved", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--allow-unresolved: DEVELOPMENT BUILD" in captured.err
    assert (
        "--allow-unresolved: shipping ks.cfg:" in captured.err and "cs-email-core" in captured.err
    )
    assert "UNRESOLVED REQUIRES SHIPPED" in captured.out
    manifest = json.loads((out / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["depsolve"] == {"allow_unresolved": True, "solver": SOLVER}
    unresolved = manifest["install_set_unresolved"]
    assert unresolved and all(u.startswith("ks.cfg:") for u in unresolved)
    assert any("cs-email-core" in u for u in unresolved)
    assert (out / "EMAIL_490_190.iso").is_file()


@pytest.mark.integration
def test_allow_unresolved_keeps_conflicts_fatal(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile.toml"
    text = paths.DEFAULT_PROFILE.read_text()
    profile.write_text(text.replace('"postfix", ', ""))  # postfix conflicts with cs-email
    assert profile.read_text() != text
    args = _sample_build_args(sample_base, sample_base.gateway_rpms)
    out = tmp_path / "out"
    out.mkdir()
    assert main([*args, "--profile", str(profile), "--allow-unresolved", "--out", str(out)]) == 2
    assert "conflicts with postfix" in capsys.readouterr().err
    assert list(out.iterdir()) == []


@pytest.mark.integration
def test_release_build_records_no_unresolved(built_iso: Path) -> None:
    manifest = json.loads((built_iso.parent / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["depsolve"] == {"allow_unresolved": False, "solver": SOLVER}
    assert SOLVER.startswith("libsolv 0.7.")
    # Every package of the install set says why it is in: the chain and its ks.cfg line.
    entries = {p["name"]: p for p in manifest["install_set"]}
    ks_lines = manifest["rendered"]["ks.cfg"]["text"].splitlines()
    assert ks_lines[entries["cs-email"]["ks_line"] - 1].strip() == "cs-email"
    assert entries["cs-email"]["why"] == "cs-email"
    assert entries["cs-email-core"]["why"] == "cs-email → cs-email-core"
    assert entries["glibc"]["why"].startswith("@core")
    assert all(p["why"] and p["ks_line"] > 0 for p in manifest["install_set"])
    assert manifest["install_set_unresolved"] == []
