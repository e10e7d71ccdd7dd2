"""Second hostile audit, N7: a gateway RPM may not obsolete, provide or take the name of a
package the installed system needs to boot and update (kernel, grub, rpm, yum, glibc,
redhat-release-server, ...). Before: a gateway RPM with ``Obsoletes: kernel`` built with
exit 0 and the kernel-less ISO failed only at boot. Now: exit 2, one line naming the gateway
package, the relation and the protected package, with the reason it is protected."""

from __future__ import annotations

from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, rpms_with, sample_args
from rpm_factory import build_rpm

from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

CASES = {
    "obsoletes kernel": ({"obsoletes": ("kernel",)}, "cs-email-kfix", "obsoletes kernel"),
    "obsoletes yum (versioned)": (
        {"obsoletes": ("yum < 99",)}, "cs-email-kfix", "obsoletes yum < 99",
    ),
    "provides rpm": ({"provides": ("rpm",)}, "cs-email-kfix", "provides rpm"),
    "named grub": ({}, "grub", "is named grub"),
    "obsoletes redhat-release-server": (
        {"obsoletes": ("redhat-release-server",)}, "cs-email-kfix",
        "obsoletes redhat-release-server",
    ),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(CASES))
def test_gateway_rpm_may_not_replace_a_protected_package(
    case: str, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    relations, name, relation = CASES[case]
    version = "9.9" if name == "grub" else "4.9.0"
    bad = build_rpm(tmp_path / "rpmbuild", name, version=version, release="190", **relations)
    rpms = rpms_with(sample_base, tmp_path / "rpms", bad)
    error = build_refused(sample_args(sample_base, rpms=rpms), tmp_path / "out", capsys)
    assert f"{bad.name}: {relation}" in error
    assert "which the installed system needs to boot and update" in error
    protected = "yum" if "<" in relation else relation.split()[-1]
    from buildiso.compose.protected import PROTECTED

    assert f"({protected}: {PROTECTED[protected]})" in error  # and why


def test_every_protected_package_has_a_reason() -> None:
    from buildiso.compose.protected import PROTECTED

    assert {"kernel", "grub", "rpm", "yum", "glibc", "redhat-release-server"} <= set(PROTECTED)
    assert all(len(reason) > 10 for reason in PROTECTED.values())
