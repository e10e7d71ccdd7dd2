"""Shared pytest fixtures for tests/ and vm-tests/ (session-scoped, cached under out/)."""

from __future__ import annotations

import pytest

from buildiso import paths
from buildiso.sample.base import SampleBase, build_sample_base


@pytest.fixture(scope="session")
def sample_base() -> SampleBase:
    """The sample RHEL-6.10-shaped base (tree, ISO, signed gateway RPMs) in out/sample-base.

    Built once per machine and reused: a cache hit takes seconds when nothing changed.
    """
    return build_sample_base(paths.DEFAULT_SAMPLE_BASE)
