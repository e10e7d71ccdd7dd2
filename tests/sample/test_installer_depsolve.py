"""Sample installer: %packages → install set (groups, exclusions, closure, EVR order)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample.installer.guest.depsolve import (
    Request,
    evr_compare,
    requested_names,
    resolve,
    rpmvercmp,
)
from buildiso.sample.installer.guest.errors import InstallFailed
from buildiso.sample.installer.guest.repodata import Dep, Group, Package


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("1.0", "1.0", 0),
        ("1.0", "1.1", -1),
        ("1.10", "1.9", 1),
        ("2.6.32", "2.6.9", 1),
        ("1.0a", "1.0", 1),
        ("1.0~rc1", "1.0", -1),
        ("a", "1", -1),
        ("754.el6", "754.el6", 0),
        ("1.0.el6", "1.0.el6_10", -1),
        ("05", "5", 0),
    ],
)
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


def test_epoch_beats_version() -> None:
    assert evr_compare(("1", "1.0", "1"), ("0", "9.9", "9")) == 1
    assert evr_compare(("0", "1.0", None), ("0", "1.0", "5")) == 0


def _pkg(
    name: str,
    ver: str = "1.0",
    *,
    requires: tuple[Dep, ...] = (),
    provides: tuple[Dep, ...] = (),
    files: tuple[str, ...] = (),
    repo: str = "media",
    arch: str = "x86_64",
) -> Package:
    return Package(
        name=name,
        arch=arch,
        epoch="0",
        ver=ver,
        rel="1.el6",
        location=Path(f"/m/{name}-{ver}.rpm"),
        repo=repo,
        provides=list(provides),
        requires=list(requires),
        files=list(files),
    )


GROUPS = {
    "core": Group("core", "Core", ("busybox", "rsyslog"), ("postfix",), ()),
    "base": Group("base", "Base", (), ("samba-common",), ("extra",)),
    "mail": Group("mail", "Mail Server", ("postfix",), (), ()),
}


def test_groups_give_mandatory_and_default_minus_exclusions() -> None:
    names = requested_names(
        Request(
            groups=["core"], names=["cs-email"], excluded=["postfix", "rsyslog"], add_base=False
        ),
        GROUPS,
    )
    assert names == ["busybox", "cs-email"]
    with_base = requested_names(Request(groups=[], names=[], excluded=[]), GROUPS)
    assert with_base == ["busybox", "rsyslog", "postfix", "samba-common"]


def test_group_found_by_name_and_missing_group_named() -> None:
    names = requested_names(
        Request(groups=["Mail Server"], names=[], excluded=[], add_base=False), GROUPS
    )
    assert "postfix" in names
    with pytest.raises(InstallFailed) as info:
        requested_names(Request(groups=["nope"], names=[], excluded=[]), GROUPS)
    assert info.value.klass == "packages" and "@nope" in info.value.reason


def test_closure_follows_names_virtual_provides_and_files() -> None:
    repo = [
        _pkg(
            "cs-email",
            requires=(
                Dep("cs-email-core", "GE", "0", "4.9.0"),
                Dep("/bin/sh"),
                Dep("rpmlib(PayloadFilesHavePrefix)", "LE", "0", "4.0"),
            ),
        ),
        _pkg("cs-email-core", "4.9.0", requires=(Dep("mta"),), repo="cs"),
        _pkg("cs-email-core", "4.8.0", repo="cs"),
        _pkg("busybox", files=("/bin/sh",)),
        _pkg("cs-mta", provides=(Dep("mta", "EQ", "0", "1.0", "1"),), repo="cs"),
        _pkg("unrelated"),
    ]
    chosen = resolve(["cs-email"], repo)
    assert [p.nvra for p in chosen] == [
        "busybox-1.0-1.el6.x86_64",
        "cs-email-1.0-1.el6.x86_64",
        "cs-email-core-4.9.0-1.el6.x86_64",
        "cs-mta-1.0-1.el6.x86_64",
    ]


def test_newest_version_wins_across_repositories() -> None:
    chosen = resolve(["kernel"], [_pkg("kernel", "2.6.32"), _pkg("kernel", "2.6.9", repo="x")])
    assert [p.ver for p in chosen] == ["2.6.32"]


def test_missing_package_and_unresolvable_dependency_are_named() -> None:
    with pytest.raises(InstallFailed) as info:
        resolve(["no-such-package"], [_pkg("busybox")])
    assert info.value.reason == "package no-such-package is not in any repository"
    repo = [
        _pkg("cs-email", requires=(Dep("cs-email-core", "GE", "0", "5.0"),)),
        _pkg("cs-email-core", "4.9.0"),
    ]
    with pytest.raises(InstallFailed) as info:
        resolve(["cs-email"], repo)
    assert info.value.klass == "packages"
    assert "cs-email-1.0-1.el6.x86_64 requires cs-email-core GE 5.0" in info.value.reason


def test_foreign_architectures_are_ignored() -> None:
    with pytest.raises(InstallFailed):
        resolve(["tool"], [_pkg("tool", arch="ppc64")])
