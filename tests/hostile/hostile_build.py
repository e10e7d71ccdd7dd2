"""Shared by tests/hostile/: one sample build into a chosen folder, from chosen inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from buildiso import build, buildinputs, paths
from buildiso.cli import main
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.sample import base as sample_base_mod
from buildiso.sample import signing
from buildiso.sample.base import SampleBase


def build_into(
    sample: SampleBase,
    out: Path,
    *,
    base: Path | None = None,
    rpms: Path | None = None,
    profile: Path = paths.DEFAULT_PROFILE,
) -> build.BuildResult:
    return build.build_iso(
        base_path=base or sample.tree,
        gateway_rpms=rpms or sample.gateway_rpms,
        profile=load_profile(profile, Variant.TEST),
        password_file=None,
        out_dir=out,
        key=buildinputs.SigningKey(sample.key_id, sample.gpg_public_key),
        allow_unsigned=False,
    )


def copy_rpms(sample: SampleBase, dest: Path) -> Path:
    dest.mkdir(parents=True)
    for rpm in sorted(sample.gateway_rpms.glob("*.rpm")):
        shutil.copyfile(rpm, dest / rpm.name)
    return dest


def sample_args(
    sample: SampleBase, *, base: Path | None = None, rpms: Path | None = None
) -> list[str]:
    """``buildiso build`` arguments for the sample's inputs (or replacements)."""
    return ["--base", str(base or sample.tree), "--gateway-rpms", str(rpms or sample.gateway_rpms),
            "--gpg-key", str(sample.gpg_public_key), "--key-id", sample.key_id]  # fmt: skip


def sign_as_sample(sample: SampleBase, rpm: Path) -> Path:
    """Sign ``rpm`` with the sample's own key, so only the check under test can refuse it."""
    key = signing.ensure_key(
        sample_base_mod.cache_dir() / "sample-gnupg", epoch=sample_base_mod.source_date_epoch()
    )
    assert key.key_id == sample.key_id
    signing.sign_rpms([rpm], key=key, epoch=sample_base_mod.source_date_epoch())
    return rpm


def rpms_with(sample: SampleBase, dest: Path, *extra: Path) -> Path:
    """A copy of the sample's gateway RPMs plus ``extra`` packages, signed like the others."""
    copy_rpms(sample, dest)
    for rpm in extra:
        sign_as_sample(sample, Path(shutil.copyfile(rpm, dest / rpm.name)))
    return dest


def build_refused(
    args: list[str], out: Path, capsys: pytest.CaptureFixture[str], *, code: int = 2
) -> str:
    """Run ``buildiso build ARGS --out OUT`` (a new folder): it must fail with ``code``, one
    error line and no traceback, and leave no ``out``; returns that error line."""
    assert main(["build", *args, "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("buildiso: error:")]
    assert len(errors) == 1, err
    assert not out.exists() or list(out.iterdir()) == []
    return errors[0]
