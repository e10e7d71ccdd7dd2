"""Shared pytest fixtures for tests/ and vm-tests/ (session-scoped, cached under out/)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.render.profile import Profile, load_profile
from buildiso.sample.base import SampleBase, build_sample_base


@pytest.fixture(scope="session")
def profile() -> Profile:
    """The shipped 4.9.0 profile, test variant (frozen, so one instance serves every test)."""
    return load_profile(paths.DEFAULT_PROFILE, Variant.TEST)


@pytest.fixture(scope="session")
def sample_base() -> SampleBase:
    """The sample RHEL-6.10-shaped base (tree, ISO, signed gateway RPMs) in out/sample-base.

    Built once per machine and reused: a cache hit takes seconds when nothing changed.
    """
    return build_sample_base(paths.DEFAULT_SAMPLE_BASE)


@pytest.fixture(scope="session")
def built_iso(sample_base: SampleBase) -> Path:
    """out/EMAIL_490_190.iso built from the sample base, once per session.

    An unchanged rebuild is skipped by buildiso itself (same inputs, ISO untouched).
    """
    from buildiso.build import build_sample_iso

    return build_sample_iso(sample_base, out_dir=paths.DEFAULT_OUT).iso
