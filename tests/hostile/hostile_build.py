"""Shared by tests/hostile/: one sample build into a chosen folder, from chosen inputs."""

from __future__ import annotations

import shutil
from pathlib import Path

from buildiso import build, buildinputs, paths
from buildiso.config import Variant
from buildiso.render.profile import load_profile
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
