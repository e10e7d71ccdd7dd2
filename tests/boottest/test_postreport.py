"""buildiso.boottest.postreport: the installed system's report against the product profile."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from buildiso.boottest.postreport import (
    check_report,
    installed_packages_check,
    rpm_name,
)
from buildiso.render.profile import Profile


def good_report(profile: Profile) -> dict[str, Any]:
    """A report as the product %post writes it for a correct test-variant install."""
    return {
        "schema": 1,
        "product": profile.product,
        "version": profile.version,
        "build": profile.build,
        "rpms": [
            "bash-4.1.2-48.el6.x86_64",
            "cs-email-4.9.0-190.x86_64",
            "cs-email-repo-conf-3.6.3-1.x86_64",
            "gpg-pubkey-5522142c-5bd0a4a1",
        ],
        "forbidden_present": [],
        "filesystems": {
            "/": {"size_mb": 20160, "device": "/dev/vda1"},
            "/var": {"size_mb": 60480, "device": "/dev/vda2"},
        },
        "arrays": {},
        "users": {"cs-admin": {"exists": True, "password_expired": False}},
        "firewall": {"tcp": list(profile.firewall.tcp), "udp": list(profile.firewall.udp)},
        "repos_enabled": ["media"],
        "tls10": False,
    }


def _failed(report: dict[str, Any], profile: Profile) -> dict[str, str]:
    return {c.name: c.message for c in check_report(report, profile) if not c.ok}


def test_good_report_passes_every_check(profile: Profile) -> None:
    results = check_report(good_report(profile), profile)
    assert [c.name for c in results] == [
        "report-schema",
        "product-identity",
        "gateway-packages-installed",
        "forbidden-packages-absent",
        "filesystem-size /",
        "filesystem-size /var",
        "admin-user",
        "firewall-ports",
        "repositories-offline",
        "tls10",
        "storage-layout",
    ]
    assert all(c.ok for c in results), [c for c in results if not c.ok]


@pytest.mark.parametrize(
    ("mutate", "check", "message"),
    [
        (
            lambda r: r["rpms"].remove("cs-email-4.9.0-190.x86_64"),
            "gateway-packages-installed",
            "cs-email not installed",
        ),
        (
            lambda r: r["rpms"].append("postfix-2.6.6-8.el6.x86_64"),
            "forbidden-packages-absent",
            "postfix is installed",
        ),
        (
            lambda r: r.__setitem__("forbidden_present", ["samba-common"]),
            "forbidden-packages-absent",
            "samba-common is installed",
        ),
        (
            lambda r: r["filesystems"]["/var"].__setitem__("size_mb", 40000),
            "filesystem-size /var",
            "/var is 40000 MB, profile minimum 61440 MB",
        ),
        (
            lambda r: r["filesystems"]["/var"].pop("size_mb"),
            "filesystem-size /var",
            "no size reported for /var",
        ),
        (
            lambda r: r["users"]["cs-admin"].__setitem__("password_expired", True),
            "admin-user",
            "password is expired: PAM would demand a new one",
        ),
        (lambda r: r.__setitem__("users", {}), "admin-user", "user cs-admin does not exist"),
        (lambda r: r["firewall"]["tcp"].remove(443), "firewall-ports", "not open: 443/tcp"),
        (lambda r: r["firewall"].__setitem__("udp", [53]), "firewall-ports", "123/udp, 19200/udp"),
        (
            lambda r: r.__setitem__("repos_enabled", ["media", "cs-email-online"]),
            "repositories-offline",
            "online repositories enabled: cs-email-online",
        ),
        (lambda r: r.__setitem__("tls10", True), "tls10", "tls10 is True, profile says False"),
        (lambda r: r.__setitem__("build", 189), "product-identity", "build 189"),
        (lambda r: r.__setitem__("schema", 2), "report-schema", "schema 2"),
    ],
)
def test_bad_reports_fail_the_right_check(
    profile: Profile, mutate: Any, check: str, message: str
) -> None:
    report = copy.deepcopy(good_report(profile))
    mutate(report)
    failed = _failed(report, profile)
    assert list(failed) == [check]
    assert message in failed[check]


def test_empty_report_fails_everything(profile: Profile) -> None:
    assert len(_failed({}, profile)) == len(check_report({}, profile)) == 11


@pytest.mark.parametrize(
    ("nevra", "name"),
    [
        ("cs-email-4.9.0-190.x86_64", "cs-email"),
        ("samba-common-3.6.23-51.el6.x86_64", "samba-common"),
        ("gpg-pubkey-5522142c-5bd0a4a1", "gpg-pubkey"),
        ("tzdata-2018e-3.el6.noarch", "tzdata"),
    ],
)
def test_rpm_name(nevra: str, name: str) -> None:
    assert rpm_name(nevra) == name


def test_installed_packages_check(profile: Profile) -> None:
    report = good_report(profile)
    exact = {r for r in report["rpms"] if not r.startswith("gpg-pubkey-")}
    results = {c.name: c for c in check_report(report, profile, install_set=exact)}
    assert results["installed-packages"].ok
    missing = {*exact, "kernel-2.6.32-754.el6.x86_64"}
    check = installed_packages_check(report, missing)
    assert not check.ok
    assert check.message == "in the install set but not installed: kernel-2.6.32-754.el6.x86_64"
    assert not installed_packages_check({}, exact).ok
