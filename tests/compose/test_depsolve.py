"""depsolve.py: the install set of a %packages section against the media's repos."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from repo_factory import write_media
from rpm_factory import build_rpm

from buildiso import paths
from buildiso.cli import main
from buildiso.compose.depsolve import Closure, resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import Group, MediaRepos, RepoPackage, compose_gateway_repo, load_media
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.master.mediacheck import media_problems
from buildiso.sample.base import SampleBase

rel = Relation.parse


def pkg(
    name: str,
    version: str = "1.0",
    *,
    release: str = "1.el6",
    arch: str = "x86_64",
    requires: tuple[str, ...] = (),
    provides: tuple[str, ...] = (),
    conflicts: tuple[str, ...] = (),
    obsoletes: tuple[str, ...] = (),
    files: tuple[str, ...] = (),
    repo: str = "base",
) -> RepoPackage:
    own = Relation(name, Flag.EQ, Evr(0, version, release))
    return RepoPackage(
        repo=repo,
        name=name,
        epoch=0,
        version=version,
        release=release,
        arch=arch,
        location=f"Packages/{name}-{version}-{release}.{arch}.rpm",
        requires=tuple(rel(r) for r in requires),
        provides=(own, *(rel(p) for p in provides)),
        conflicts=tuple(rel(c) for c in conflicts),
        obsoletes=tuple(rel(o) for o in obsoletes),
        files=files,
    )


def group(
    gid: str,
    mandatory: tuple[str, ...] = (),
    default: tuple[str, ...] = (),
    optional: tuple[str, ...] = (),
    conditional: tuple[tuple[str, str], ...] = (),
) -> Group:
    return Group(gid, gid.title(), mandatory, default, optional, conditional)


def media(
    packages: list[RepoPackage],
    groups: list[Group],
    filelists: dict[str, list[str]] | None = None,
) -> MediaRepos:
    """The packages as real repodata (base + cs-repo) in a scratch folder, read back."""
    with tempfile.TemporaryDirectory(prefix="depsolve-media-") as tmp:
        return load_media(write_media(Path(tmp), packages, groups, extra_files=filelists))


# A small RHEL-6-like world: @core, @base (which pulls postfix, as RHEL's does),
# the gateway in cs-repo conflicting with postfix.
WORLD = [
    pkg("bash", "4.1.2", files=("/bin/bash", "/bin/sh")),
    pkg("glibc", "2.12", provides=("libc.so.6()(64bit)",)),
    pkg("glibc", "2.12", arch="i686", provides=("libc.so.6",)),
    pkg("coreutils", "8.4", requires=("/bin/sh", "libc.so.6()(64bit)")),
    pkg("cronie", "1.4.4", requires=("/usr/sbin/sendmail",)),
    pkg("postfix", "2.6.6", provides=("MTA",), files=("/usr/sbin/sendmail",)),
    pkg("ssmtp", "2.64", provides=("MTA",), files=("/usr/sbin/sendmail",)),
    pkg("rsyslog", "5.8.10", provides=("syslog",)),
    pkg("samba-common", "3.6.23"),
    pkg("cs-email", "4.9.0", release="190", requires=("cs-email-core = 4.9.0-190",),
        conflicts=("postfix", "rsyslog", "samba-common < 4"), repo="cs-repo"),
    pkg("cs-email-core", "4.9.0", release="190", requires=("libcsmail.so.1()(64bit)", "bash"),
        provides=("libcsmail.so.1()(64bit)",), repo="cs-repo"),
    pkg("cs-email-repo-conf", "3.6.3", release="1", repo="cs-repo"),
]  # fmt: skip
GROUPS = [
    group("core", mandatory=("bash", "coreutils"), default=("rsyslog",)),
    group("base", mandatory=("cronie",), default=("postfix", "samba-common"), optional=("ssmtp",)),
    group("cs-email", mandatory=("cs-email", "cs-email-repo-conf")),
]


def solve(
    ks: str, packages: list[RepoPackage] | None = None, groups: list[Group] | None = None
) -> Closure:
    selection = parse_packages(ks, filename="ks.cfg")
    return resolve_install_set(
        ks_packages=selection,
        media=media(WORLD if packages is None else packages, GROUPS if groups is None else groups),
    )


def test_core_and_base_by_default() -> None:
    closure = solve("%packages\n%end\n")
    assert closure.names == (
        "bash", "coreutils", "cronie", "glibc", "postfix", "rsyslog", "samba-common",
    )  # fmt: skip
    assert closure.ok
    # Multilib: the x86_64 glibc satisfies the 64-bit soname, the i686 one is not pulled.
    assert [p.arch for p in closure.packages if p.name == "glibc"] == ["x86_64"]
    assert closure.why["glibc"] == ("@core", "coreutils", "glibc")


def test_nobase_and_optional_and_nodefaults() -> None:
    assert solve("%packages --nobase\n%end\n").names == ("bash", "coreutils", "glibc", "rsyslog")
    closure = solve("%packages --nobase\n@core --nodefaults\n@base --optional\n%end\n")
    assert "rsyslog" in closure.names  # @core is implicit at default level as well
    assert "ssmtp" in closure.names


def test_nocore_leaves_core_out() -> None:
    """anaconda 13 kickstart.py selectPackages: --nocore inserts no @core."""
    assert solve("%packages --nobase --nocore\ncoreutils\n%end\n").names == ("bash", "coreutils",
                                                                          "glibc")
    assert solve("%packages --nobase\ncoreutils\n%end\n").names == ("bash", "coreutils", "glibc",
                                                                  "rsyslog")


def test_gateway_conflicts_are_reported_with_their_origin() -> None:
    closure = solve("%packages\n@cs-email\n%end\n")
    messages = [str(c) for c in closure.conflicts]
    assert messages == [
        "cs-email conflicts with postfix (postfix is in the install set: pulled by @base)",
        "cs-email conflicts with rsyslog (rsyslog is in the install set: pulled by @core)",
        "cs-email conflicts with samba-common < 4 "
        "(samba-common is in the install set: pulled by @base)",
    ]
    problems = closure.problems(filename="ks.cfg")
    assert problems[0].startswith("ks.cfg:1: cs-email conflicts with postfix")


def test_exclusions_remove_conflicts_and_pick_another_provider() -> None:
    ks = "%packages\n@cs-email\n-postfix\n-rsyslog\n-samba-common\n%end\n"
    closure = solve(ks)
    assert closure.ok, closure.problems(filename="ks.cfg")
    assert "postfix" not in closure.names and "samba-common" not in closure.names
    # cronie needs /usr/sbin/sendmail: with postfix excluded, ssmtp provides it.
    assert closure.why["ssmtp"] == ("@base", "cronie", "ssmtp")
    assert closure.why["cs-email-core"] == ("@cs-email", "cs-email", "cs-email-core")


def test_excluded_package_pulled_back_by_a_dependency() -> None:
    world = [p for p in WORLD if p.name != "ssmtp"]
    closure = solve("%packages\n-postfix\n%end\n", packages=world)
    (pulled,) = closure.pulled_back
    assert str(pulled) == "postfix is excluded but pulled back in: @base → cronie → postfix"
    assert pulled.line == 2


def test_unresolved_with_chain() -> None:
    world = [p for p in WORLD if p.name != "cs-email-core"] + [
        pkg("cs-email-core", "4.9.0", release="190", requires=("libfoo.so.1()(64bit)",),
            repo="cs-repo"),
    ]  # fmt: skip
    closure = solve("%packages --nobase\ncs-email\n-rsyslog\n%end\n", packages=world)
    (missing,) = closure.unresolved
    assert str(missing) == "cs-email → cs-email-core → libfoo.so.1()(64bit) (nothing provides it)"
    assert closure.problems(filename="ks.cfg") == [
        "ks.cfg:2: unresolved dependency: cs-email → cs-email-core → libfoo.so.1()(64bit) "
        "(nothing provides it) [libsolv proposes: do not ask to install cs-email]"
    ]


def test_versioned_requires() -> None:
    world = [
        pkg("app", requires=("lib >= 2.0",)),
        pkg("lib", "1.9"),
        pkg("tool", requires=("lib >= 1.5", "lib < 3")),
    ]
    closure = solve("%packages --nobase\napp\ntool\n%end\n", packages=world, groups=[group("core")])
    (unresolved,) = closure.unresolved
    assert unresolved.requirement == "lib >= 2.0"
    assert "only lib-1.9-1.el6.x86_64 provides that name" in unresolved.reason
    assert "lib" in closure.names  # tool's range is satisfied by 1.9
    # The newest version of a name wins, across repos.
    newer = [*world, pkg("lib", "2.1", repo="cs-repo")]
    closure = solve("%packages --nobase\napp\n%end\n", packages=newer, groups=[group("core")])
    assert closure.ok
    assert [(p.name, p.version, p.repo) for p in closure.packages if p.name == "lib"] == [
        ("lib", "2.1", "cs-repo")
    ]


def test_rpmlib_and_file_requires() -> None:
    world = [
        pkg("app", requires=("rpmlib(PayloadIsXz) <= 5.2-1", "/bin/sh")),
        pkg("bash", files=("/bin/sh",)),
        pkg("dash", files=("/bin/dash",)),
    ]
    closure = solve("%packages --nobase\napp\n%end\n", packages=world, groups=[group("core")])
    # rpmlib() is rpm's own business; /bin/sh must come from a package in the set.
    assert closure.ok
    assert closure.names == ("app", "bash")


def test_file_require_from_filelists() -> None:
    world = [pkg("app", requires=("/usr/share/data/x",)), pkg("data")]
    m = media(world, [group("core")], filelists={"/usr/share/data/x": ["data"]})
    selection = parse_packages("%packages --nobase\napp\n%end\n")
    closure = resolve_install_set(ks_packages=selection, media=m)
    assert closure.names == ("app", "data")
    m = media(world, [group("core")], filelists={})
    closure = resolve_install_set(ks_packages=selection, media=m)
    assert [str(u) for u in closure.unresolved] == ["app → /usr/share/data/x (nothing provides it)"]


def test_missing_names_groups_and_globs() -> None:
    closure = solve("%packages\nnosuchpkg\n@nosuchgroup\ncs-email-*\n-@base\n%end\n")
    assert [str(m) for m in closure.missing] == [
        "package nosuchpkg is not in the media's repositories",
        "group @nosuchgroup is not in the media's comps",
    ]
    assert {"cs-email-core", "cs-email-repo-conf"} <= set(closure.names)
    assert "cronie" not in closure.names  # -@base
    assert solve("%packages --ignoremissing\nnosuchpkg\n%end\n").missing == ()


def test_conditional_group_members() -> None:
    groups = [group("core", mandatory=("bash",), conditional=(("winbind", "samba-common"),))]
    world = [pkg("bash"), pkg("samba-common"), pkg("winbind")]
    assert solve("%packages --nobase\n%end\n", world, groups).names == ("bash",)
    closure = solve("%packages --nobase\nsamba-common\n%end\n", world, groups)
    assert closure.names == ("bash", "samba-common", "winbind")


def test_default_adds_the_groups_comps_marks_default() -> None:
    groups = [
        group("core", mandatory=("bash",)),
        group("base", mandatory=("cronie",), default=("postfix",)),
        Group("mail", "Mail", ("ssmtp",), (), (), (), is_default=True),
        group("logs", mandatory=("rsyslog",)),
    ]
    plain = solve("%packages\nsamba-common\n%end\n", WORLD, groups)
    assert plain.names == ("bash", "cronie", "postfix", "samba-common")
    # anaconda 13: the default groups, then what is listed (pykickstart refuses --nobase here)
    closure = solve("%packages --default\nsamba-common\n-postfix\n%end\n", WORLD, groups)
    assert closure.names == ("bash", "cronie", "samba-common", "ssmtp")
    assert closure.why["ssmtp"] == ("@mail", "ssmtp")
    assert solve("%packages --default\n-@mail\n%end\n", WORLD, groups).names == (
        "bash", "cronie", "postfix"
    )  # fmt: skip


def test_default_adds_the_groups_of_the_install_language() -> None:
    groups = [
        group("core", mandatory=("bash",)),
        group("base"),
        Group("german", "German", ("cronie",), (), (), (), langonly="de"),
        Group("japanese", "Japanese", ("ssmtp",), (), (), (), langonly="ja"),
    ]
    ks = "lang {}\n%packages --default\n%end\n"
    german = solve(ks.format("de_DE.UTF-8"), WORLD, groups)
    assert german.why["cronie"] == ("@german", "cronie")
    assert not [chain for chain in german.why.values() if chain[0] == "@japanese"]
    assert solve(ks.format("ja_JP.UTF-8"), WORLD, groups).why["ssmtp"] == ("@japanese", "ssmtp")
    assert solve(ks.format("en_US.UTF-8"), WORLD, groups).names == ("bash",)
    # without --default, the language adds nothing
    assert solve("lang de_DE.UTF-8\n%packages\n%end\n", WORLD, groups).names == ("bash",)


# --- validate --media against a real tree ---------------------------------------------------

COMPS = """<comps>
  <group><id>core</id><name>Core</name><packagelist>
    <packagereq type="mandatory">bash</packagereq></packagelist></group>
  <group><id>base</id><name>Base</name><packagelist>
    <packagereq type="default">postfix</packagereq></packagelist></group>
</comps>
"""


@pytest.fixture(scope="module")
def media_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("media")
    build, tree = root / "build", root / "tree"
    (tree / "Packages").mkdir(parents=True)
    for rpm in (
        build_rpm(build, "bash", files=("/bin/bash", "/bin/sh")),
        build_rpm(build, "postfix", version="2.6.6", release="8.el6"),
    ):
        shutil.copy(rpm, tree / "Packages")
    (build / "comps.xml").write_text(COMPS)
    subprocess.run(
        ["createrepo_c", "--compatibility", "--quiet", "-g", str(build / "comps.xml"), str(tree)],
        check=True,
    )
    gateway = [
        build_rpm(build, "cs-email", version="4.9.0", release="190",
                  requires=("cs-email-core", "/bin/sh"), conflicts=("postfix",)),
        build_rpm(build, "cs-email-core", version="4.9.0", release="190",
                  requires=("libcsmissing.so.2()(64bit)",)),
        build_rpm(build, "cs-email-repo-conf", version="3.6.3", release="1"),
    ]  # fmt: skip
    compose_gateway_repo(
        rpms=gateway, dest=tree / "cs-repo", comps=paths.COMPS_DIR / "cs-email-comps.xml",
        timestamp=1_700_000_000,
    )  # fmt: skip
    (tree / ".treeinfo").write_text("[general]\nfamily = RHEL\nversion = 6.10\narch = x86_64\n")
    (tree / ".discinfo").write_text("1\nRed Hat Enterprise Linux 6.10\nx86_64\n1\n")
    (tree / "EFI" / "BOOT").mkdir(parents=True)
    (tree / "EFI" / "BOOT" / "BOOTX64.conf").write_text("default=0\n")
    return tree


KS = """text
repo --name=cs-repo --baseurl=file:///mnt/source/cs-repo
repo --name=bad --baseurl=file:///mnt/source/nothere
repo --name=net --baseurl=http://example.com/repo
repo --name=outside --baseurl=file:///opt/repo
%packages
@core
cs-email
nosuch
@nogroup
%end
"""


@pytest.mark.integration
def test_media_problems(media_tree: Path) -> None:
    problems = media_problems(KS, filename="ks.cfg", tree=media_tree)
    assert problems == [
        f"ks.cfg:3: repo file:///mnt/source/nothere: nothere/repodata/repomd.xml does not exist in "
        f"{media_tree}",
        "ks.cfg:5: repo file:///opt/repo is not on the install media (expected a path under "
        "/mnt/source or /mnt/isodir)",
        "ks.cfg:6: cs-email conflicts with postfix "
        "(postfix is in the install set: pulled by @base) "
        "[libsolv proposes: do not ask to install cs-email | do not ask to install postfix]",
        "ks.cfg:8: unresolved dependency: cs-email → cs-email-core → libcsmissing.so.2()(64bit) "
        "(nothing provides it) [libsolv proposes: do not ask to install cs-email]",
        "ks.cfg:9: package nosuch is not in the media's repositories",
        "ks.cfg:10: group @nogroup is not in the media's comps",
    ]


@pytest.mark.integration
def test_media_problems_from_iso(media_tree: Path, tmp_path: Path) -> None:
    iso = tmp_path / "dvd.iso"
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-o", str(iso), str(media_tree)],
        check=True,
    )
    from_iso = media_problems(KS, filename="ks.cfg", tree=iso)
    from_dir = media_problems(KS, filename="ks.cfg", tree=media_tree)
    assert from_iso == [p.replace(str(media_tree), str(iso)) for p in from_dir]
    assert len(from_iso) == 6


@pytest.mark.integration
def test_media_problems_clean_and_broken_inputs(media_tree: Path, tmp_path: Path) -> None:
    ks = "repo --name=cs --baseurl=file:///mnt/source/cs-repo\n%packages\n-postfix\n%end\n"
    assert media_problems(ks, filename="ks.cfg", tree=media_tree) == []
    assert media_problems("%packages\nbash\n", filename="ks.cfg", tree=media_tree) == [
        "ks.cfg:1: %packages is not closed with %end"
    ]
    (problem,) = media_problems("%packages\n%end\n", filename="ks.cfg", tree=tmp_path)
    assert problem.startswith(f"{tmp_path}: repodata/repomd.xml not found")


# --- the product kickstart against the sample base + its gateway repo ---------------------


@pytest.fixture(scope="module")
def sample_media(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The sample tree's repos (linked, not copied) plus cs-repo from the sample RPMs."""
    media = tmp_path_factory.mktemp("sample-media")
    for name in (".treeinfo", ".discinfo", "repodata", "Packages", "EFI", "isolinux"):
        (media / name).symlink_to(sample_base.tree / name)
    compose_gateway_repo(
        rpms=sorted(sample_base.gateway_rpms.glob("*.rpm")),
        dest=media / "cs-repo",
        comps=paths.COMPS_DIR / "cs-email-comps.xml",
        timestamp=1_700_000_000,
    )
    return media


@pytest.fixture(scope="module")
def product_ks(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("render")
    assert main(["--quiet", "render", "--out", str(out)]) == 0
    return out / "ks.cfg"


@pytest.mark.integration
def test_product_kickstart_resolves_on_the_sample(sample_media: Path, product_ks: Path) -> None:
    text = product_ks.read_text()
    assert media_problems(text, filename="ks.cfg", tree=sample_media) == []
    closure = resolve_install_set(ks_packages=parse_packages(text), media=load_media(sample_media))
    assert {"cs-email", "cs-email-core", "kernel"} <= set(closure.names)
    assert not {"postfix", "rsyslog", "samba-common"} & set(closure.names)
    assert closure.why["cs-email-core"][:2] == ("cs-email", "cs-email-core")


@pytest.mark.integration
def test_forgotten_removals_are_conflicts_on_the_sample(
    sample_media: Path, product_ks: Path, tmp_path: Path
) -> None:
    lines = product_ks.read_text().splitlines()
    kept = [line for line in lines if line.strip() not in ("-postfix", "-rsyslog")]
    assert len(kept) == len(lines) - 2
    problems = media_problems("\n".join(kept) + "\n", filename="ks.cfg", tree=sample_media)
    assert any("conflicts with postfix" in p and "pulled by @core" in p for p in problems)
    assert any("conflicts with rsyslog" in p and "pulled by @core" in p for p in problems)
    assert not any("samba-common" in p for p in problems)  # still excluded
    # The same through the CLI: every problem, FILE:LINE, exit code 2.
    ks = tmp_path / "ks.cfg"
    ks.write_text("\n".join(kept) + "\n")
    assert main(["validate", str(ks), "--media", str(sample_media)]) == 2
    assert main(["validate", str(product_ks), "--media", str(sample_media)]) == 0


def test_groups_by_id_or_name_any_case() -> None:
    closure = solve("%packages --nobase\n@CS-Email\n-rsyslog\n%end\n")
    assert closure.ok
    assert "cs-email" in closure.names
    # @Base by its name, and -@base removes it whatever the spelling.
    assert "cronie" in solve("%packages --nobase\n@Base\n%end\n").names
    assert "cronie" not in solve("%packages\n-@BASE\n%end\n").names
    # @core asked again with --optional widens the implicit selection.
    groups = [group("core", mandatory=("bash",), optional=("tboot",))]
    world = [pkg("bash"), pkg("tboot")]
    assert solve("%packages\n@core --optional\n%end\n", world, groups).names == ("bash", "tboot")


def test_name_dot_arch_entries() -> None:
    closure = solve("%packages --nobase\nglibc.i686\n-rsyslog\n%end\n")
    # coreutils (@core) still gets the 64-bit glibc it needs.
    assert [(p.name, p.arch) for p in closure.packages if p.name == "glibc"] == [
        ("glibc", "i686"),
        ("glibc", "x86_64"),
    ]
    assert closure.ok
    assert [str(m) for m in solve("%packages\nglibc.ppc64\n%end\n").missing] == [
        "package glibc.ppc64 is not in the media's repositories"
    ]


# Obsoletes, as yum honours them. sysklogd was replaced by rsyslog in RHEL 5 → 6.
OBSOLETING = [
    pkg("sysklogd", "1.4.1", provides=("syslog",)),
    pkg("rsyslog", "5.8.10", provides=("syslog",), obsoletes=("sysklogd < 1.5",)),
    pkg("rsyslog-compat", "1.0", obsoletes=("rsyslog-compat < 2.0",)),  # self: no effect
    pkg("logwatch", "7.3.6", requires=("syslog",)),
    pkg("old-tool", "2.0", requires=("sysklogd",)),
]
NO_GROUPS = [group("core"), group("base")]


def test_obsoleted_name_in_packages_installs_the_obsoleter() -> None:
    closure = solve("%packages\nsysklogd\nrsyslog-compat\n%end\n", OBSOLETING, NO_GROUPS)
    assert closure.ok, closure.problems(filename="ks.cfg")
    assert closure.names == ("rsyslog", "rsyslog-compat")
    assert closure.why["rsyslog"] == ("sysklogd", "rsyslog")


def test_obsoleted_group_member_installs_the_obsoleter() -> None:
    groups = [group("core", mandatory=("sysklogd",)), group("base")]
    assert solve("%packages\n%end\n", OBSOLETING, groups).names == ("rsyslog",)


def test_obsoletes_version_range_is_respected() -> None:
    newer = [p for p in OBSOLETING if p.name != "sysklogd"] + [pkg("sysklogd", "1.5")]
    closure = solve("%packages\nsysklogd\n%end\n", newer, NO_GROUPS)
    assert closure.names == ("sysklogd",)


def test_package_obsoleted_by_another_in_the_set_is_dropped() -> None:
    # An explicit name.arch is taken as asked; the closure still drops it for rsyslog.
    closure = solve("%packages\nsysklogd.x86_64\nrsyslog\nlogwatch\n%end\n", OBSOLETING, NO_GROUPS)
    assert closure.ok, closure.problems(filename="ks.cfg")
    assert closure.names == ("logwatch", "rsyslog")


def test_requires_only_an_obsoleted_package_satisfies_is_unresolved() -> None:
    closure = solve("%packages\nold-tool\nrsyslog\n%end\n", OBSOLETING, NO_GROUPS)
    assert closure.names == ("old-tool", "rsyslog")
    [problem] = closure.unresolved
    assert problem.requirement == "sysklogd" and problem.chain == ("old-tool",)
    assert "sysklogd-1.4.1-1.el6.x86_64" in problem.reason and "obsolete" in problem.reason


# --- what a home-made solver got wrong (issue #10) -------------------------------------------


def test_older_version_a_requires_pins_is_installed() -> None:
    world = [
        pkg("lib", "1.0"),
        pkg("lib", "2.0"),
        pkg("app", requires=("lib = 1.0-1.el6",)),
    ]
    closure = solve("%packages --nobase\napp\n%end\n", world, [group("core")])
    assert closure.ok, closure.problems(filename="ks.cfg")
    assert [(p.name, p.version) for p in closure.packages] == [("app", "1.0"), ("lib", "1.0")]


def test_x86_64_preferred_and_multilib_honoured() -> None:
    world = [
        pkg("zlib", "1.2.3", provides=("libz.so.1()(64bit)",)),
        pkg("zlib", "1.2.3", arch="i686", provides=("libz.so.1",)),
        pkg("zlib", "1.2.4", arch="i686", provides=("libz.so.1",)),  # newer, but multilib
    ]
    closure = solve("%packages --nobase\nzlib\n%end\n", world, [group("core")])
    assert [(p.arch, p.version) for p in closure.packages] == [("x86_64", "1.2.3")]
    closure = solve("%packages --nobase --multilib\nzlib\n%end\n", world, [group("core")])
    assert closure.ok, closure.problems(filename="ks.cfg")
    assert sorted((p.arch, p.version) for p in closure.packages) == [
        ("i686", "1.2.4"),
        ("x86_64", "1.2.3"),
    ]


def test_closure_names_its_solver() -> None:
    assert solve("%packages\n%end\n").solver.startswith("libsolv ")
