"""The sample package set: dependency closure and the postfix/rsyslog/samba-common conflict."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildiso.sample.base import CONFLICTING, SampleBase
from buildiso.sample.closure import install_problems

GATEWAY = ("cs-email", "cs-email-core", "cs-email-repo-conf", "cs-email-syslog", "cs-email-web")


def _name(rpm: Path) -> str:
    return subprocess.run(
        ["rpm", "-qp", "--nosignature", "--qf", "%{NAME}", str(rpm)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def _query(rpms: list[Path], fmt: str) -> set[str]:
    out = subprocess.run(
        ["rpm", "-qp", "--nosignature", "--qf", fmt, *map(str, rpms)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return {line.strip() for line in out.splitlines() if line.strip()}


def _base(sample_base: SampleBase) -> list[Path]:
    return sorted((sample_base.tree / "Packages").glob("*.rpm"))


def _gateway(sample_base: SampleBase) -> list[Path]:
    return sorted(sample_base.gateway_rpms.glob("*.rpm"))


@pytest.mark.integration
def test_every_requires_is_provided_inside_the_set(sample_base: SampleBase) -> None:
    """Name-level closure from the headers (rpm -qp), independent of rpm's own solver."""
    rpms = _base(sample_base) + _gateway(sample_base)
    requires = _query(rpms, "[%{REQUIRENAME}\n]")
    provides = _query(rpms, "[%{PROVIDENAME}\n]") | _query(rpms, "[%{FILENAMES}\n]")
    unresolved = {r for r in requires if not r.startswith("rpmlib(") and r not in provides}
    assert unresolved == set()


@pytest.mark.integration
def test_rpm_installs_base_and_gateway_without_the_conflicting_three(
    sample_base: SampleBase,
) -> None:
    base = _base(sample_base)
    assert install_problems(base) == []
    kept = [r for r in base if _name(r) not in CONFLICTING]
    assert install_problems(kept + _gateway(sample_base)) == []


@pytest.mark.integration
def test_leaving_the_conflicting_three_in_fails_for_every_gateway_package(
    sample_base: SampleBase,
) -> None:
    problems = install_problems(_base(sample_base) + _gateway(sample_base))
    for bad in CONFLICTING:
        # cs-email-repo-conf installs beside them: Appendix A's step 3 comes before step 4
        for gateway in (g for g in GATEWAY if g != "cs-email-repo-conf"):
            assert any(p.startswith(f"{bad} conflicts with {gateway}-") for p in problems), (
                bad,
                gateway,
            )
    assert all("conflicts with" in p for p in problems)
    assert not any("cs-email-repo-conf" in p for p in problems)


@pytest.mark.integration
def test_a_missing_package_is_reported_by_name(sample_base: SampleBase) -> None:
    without_glibc = [r for r in _base(sample_base) if _name(r) != "glibc"]
    problems = install_problems(without_glibc)
    assert any("is needed by" in p and "libc.so.6" in p for p in problems)


@pytest.mark.integration
def test_the_conflicting_three_come_with_the_default_groups(sample_base: SampleBase) -> None:
    names = {_name(r) for r in _base(sample_base)}
    assert set(CONFLICTING) <= names
    assert set(GATEWAY).isdisjoint(names)  # gateway packages are not in the base Packages/


@pytest.mark.integration
def test_package_names_versions_and_payload(sample_base: SampleBase) -> None:
    base = _base(sample_base)
    infos = _query(base, "%{NAME} %{RELEASE} %{PAYLOADCOMPRESSOR} %{BUILDHOST}\n")
    for line in infos:
        name, release, compressor, host = line.split()
        assert ".el6" in release, name
        assert compressor in ("gzip", "xz"), name  # busybox rpm2cpio / RHEL 6 rpm
        assert host == "buildiso-sample.localdomain"
    kernel = [r for r in base if r.name.startswith("kernel-")]
    assert [k.name for k in kernel] == ["kernel-2.6.32-754.el6.x86_64.rpm"]
    files = _query(kernel, "[%{FILENAMES}\n]")
    assert "/boot/vmlinuz-2.6.32-754.el6.x86_64" in files
    assert "/boot/initramfs-2.6.32-754.el6.x86_64.img" in files
    assert any(f.endswith("/ahci.ko") for f in files)
    assert any(f.endswith("/modules.dep") for f in files)
    gateway = {r.name for r in _gateway(sample_base)}
    assert "cs-email-repo-conf-3.6.3-1.x86_64.rpm" in gateway
    assert "cs-email-4.9.0-190.x86_64.rpm" in gateway
