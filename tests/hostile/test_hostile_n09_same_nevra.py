"""Second hostile audit, N9: a gateway RPM with the same name, epoch, version, release and
architecture as a base package (but other content) was accepted silently and both files
shipped; which one a machine installs depends on the resolver. Now: exit 2 naming both."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, rpms_with, sample_args
from rpm_factory import build_rpm

from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration


def test_gateway_rpm_with_a_base_nevra_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (base_rpm,) = (sample_base.tree / "Packages").glob("busybox-*.rpm")
    twin = build_rpm(tmp_path / "rpmbuild", "busybox", version="1.15.1", release="21.el6",
                     epoch=1, files=("/usr/share/busybox/other",))  # fmt: skip
    assert twin.name == base_rpm.name and twin.read_bytes() != base_rpm.read_bytes()
    rpms = rpms_with(sample_base, tmp_path / "rpms", twin)
    error = build_refused(sample_args(sample_base, rpms=rpms), tmp_path / "out", capsys)
    assert f"{twin.name}: is busybox-1:1.15.1-21.el6.x86_64" in error  # the base's epoch is 1
    assert "Packages/busybox-1.15.1-21.el6.x86_64.rpm" in error
    assert "give the gateway package another release" in error
