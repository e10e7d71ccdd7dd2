"""The sample installer's %packages: buildiso's own resolution (libsolv) over the media and
the kickstart's repos, with each package's file on the media."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from repo_factory import write_media

from buildiso.compose.depsolve import resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import Group, RepoPackage, load_media
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.sample.installer.guest.errors import InstallFailed
from buildiso.sample.installer.guest.packages import resolve, rpm_options


def pkg(name: str, *, requires: tuple[str, ...] = (), repo: str = "base") -> RepoPackage:
    own = Relation(name, Flag.EQ, Evr(0, "1.0", "1.el6"))
    return RepoPackage(
        repo=repo, name=name, epoch=0, version="1.0", release="1.el6", arch="x86_64",
        location=f"Packages/{name}-1.0-1.el6.x86_64.rpm",
        requires=tuple(Relation.parse(r) for r in requires), provides=(own,), conflicts=(),
        obsoletes=(), files=(f"/usr/share/{name}/README",),
    )  # fmt: skip


CORE = Group("core", "Core", ("bash",), (), (), ())
KS = "%packages --nobase\ncs-email\nextra-tool\n%end\n"


def repo(path: Path, name: str = "extra", cost: int | None = None) -> SimpleNamespace:
    return SimpleNamespace(name=name, baseurl=f"file://{path}", cost=cost, lineno=9)


@pytest.fixture
def media(tmp_path: Path) -> tuple[Path, Path]:
    tree = write_media(
        tmp_path / "media",
        [pkg("bash"), pkg("cs-email", requires=("lib",), repo="cs-repo"), pkg("lib")],
        [CORE],
    )
    extra = write_media(tmp_path / "extra", [pkg("extra-tool", requires=("bash",))], [])
    return tree, extra


def test_same_set_as_the_build_with_files_on_the_media(media: tuple[Path, Path]) -> None:
    tree, extra = media
    chosen = resolve(KS, media_tree=tree, repos=[repo(tree / "cs-repo", "cs-repo"), repo(extra)])
    assert {c.nvra: c.path for c in chosen} == {
        "bash-1.0-1.el6.x86_64": tree / "Packages/bash-1.0-1.el6.x86_64.rpm",
        "cs-email-1.0-1.el6.x86_64": tree / "cs-repo/Packages/cs-email-1.0-1.el6.x86_64.rpm",
        "extra-tool-1.0-1.el6.x86_64": extra / "Packages/extra-tool-1.0-1.el6.x86_64.rpm",
        "lib-1.0-1.el6.x86_64": tree / "Packages/lib-1.0-1.el6.x86_64.rpm",
    }
    # What the build would record for the same media (without the extra repo's package).
    ks = KS.replace("extra-tool\n", "")
    build = resolve_install_set(ks_packages=parse_packages(ks), media=load_media(tree))
    assert [c.package for c in resolve(ks, media_tree=tree, repos=[])] == list(build.packages)


def test_problems_stop_the_install_with_the_kickstart_line(media: tuple[Path, Path]) -> None:
    tree, _extra = media
    with pytest.raises(InstallFailed) as err:
        resolve(KS, media_tree=tree, repos=[])  # extra-tool's repo not given
    assert err.value.klass == "packages"
    assert "ks.cfg:3: package extra-tool is not in the media's repositories" in str(err.value)


def test_only_file_repositories(media: tuple[Path, Path]) -> None:
    tree, _extra = media
    web = SimpleNamespace(name="web", baseurl="http://example.com/repo", cost=None, lineno=4)
    with pytest.raises(InstallFailed) as err:
        resolve(KS, media_tree=tree, repos=[web])
    assert err.value.klass == "kickstart-unsupported"
    assert err.value.reason.startswith("unsupported: repo --name=web --baseurl=http://example"
                                       ".com/repo at line 4")


def test_repo_cost_picks_the_cheapest_copy_of_the_same_package(tmp_path: Path) -> None:
    tree = write_media(tmp_path / "media", [pkg("bash")], [CORE])
    mirror = write_media(tmp_path / "mirror", [pkg("bash", repo="mirror")], [])
    ks = "%packages --nobase\n%end\n"
    # yum: the media's base repository costs 100, a repo line 1000 unless --cost says less
    [chosen] = resolve(ks, media_tree=tree, repos=[repo(mirror, "mirror")])
    assert chosen.path == tree / "Packages/bash-1.0-1.el6.x86_64.rpm"
    [chosen] = resolve(ks, media_tree=tree, repos=[repo(mirror, "mirror", cost=50)])
    assert chosen.path == mirror / "Packages/bash-1.0-1.el6.x86_64.rpm"


def test_excludedocs_and_instlangs_become_rpm_macros() -> None:
    assert rpm_options(excludedocs=False, install_langs=None) == []
    assert rpm_options(excludedocs=True, install_langs="en:de") == [
        "--define", "_excludedocs 1", "--define", "_install_langs en:de"]
    assert rpm_options(excludedocs=False, install_langs="") == [
        "--define", "_install_langs %{nil}"]
