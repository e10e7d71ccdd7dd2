"""A DVD-scale synthetic RHEL 6 base: ~3,700 packages of generated repodata, and a kickstart.

What makes a real 6.10 DVD hard for a solver, on purpose: i686 copies of every library
(32-bit sonames only they provide), two versions of some names (one pinned by an ``=``
Requires), file requirements answered by primary.xml (``/usr/bin/*``) and by filelists
only (``/usr/share/*``), virtual provides with two providers, versioned requires,
an obsoleted package in @core, and a gateway repo conflicting with a @base default
that the kickstart's exclusion avoids. No RPM files: resolvers only read repodata.

Cached under out/cache/dvd-synthetic/<key>, keyed on this generator's source (and
repo_factory's): generated once per machine, never committed.
"""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import tempfile
from pathlib import Path

from repo_factory import write_media

from buildiso import paths
from buildiso.compose.repo import Group, RepoPackage
from buildiso.compose.rpmversion import Evr, Flag, Relation

N_LIBS, N_TOOLS, N_DATA, N_APPS = 600, 300, 200, 2000
TWO_VERSIONS = range(0, N_LIBS, 50)  # these libraries exist as 1.0 and 1.1
PINNED = 100  # legacy-client requires lib0100 = 1.0: nothing may want lib0100 >= 1.1
NEWEST_WANTED = [i for i in TWO_VERSIONS if i != PINNED]

KICKSTART = """%packages
@core
@desktop
@server
app1999
lib0007.i686
tool00*
cs-gw
-sendmail
-app1900
%end
"""


def dvd_tree() -> Path:
    """The generated tree (base repo at the root, cs-repo/ beside it), from the cache."""
    sources = [Path(__file__), Path(__file__).with_name("repo_factory.py")]
    key = hashlib.sha256(b"".join(p.read_bytes() for p in sources)).hexdigest()[:16]
    tree = paths.DEFAULT_OUT / "cache" / "dvd-synthetic" / key
    if (tree / "repodata" / "repomd.xml").is_file():
        return tree
    tree.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".dvd-", dir=tree.parent))
    try:
        packages, groups, gateway_groups = dvd_packages()
        write_media(tmp, packages, groups, gateway_groups=gateway_groups)
        (tmp / "ks.cfg").write_text(KICKSTART)
        os.rename(tmp, tree)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return tree


def _rel(text: str) -> Relation:
    return Relation.parse(text)


def _pkg(
    name: str,
    version: str = "1.0",
    *,
    arch: str = "x86_64",
    release: str = "1.el6",
    requires: list[str] | None = None,
    provides: list[str] | None = None,
    conflicts: list[str] | None = None,
    obsoletes: list[str] | None = None,
    files: list[str] | None = None,
    repo: str = "base",
) -> RepoPackage:
    own = Relation(name, Flag.EQ, Evr(0, version, release))
    if arch != "noarch":
        own_arch = f"{name}({'x86-64' if arch == 'x86_64' else 'x86-32'})"
        extra = [Relation(own_arch, Flag.EQ, Evr(0, version, release))]
    else:
        extra = []
    return RepoPackage(
        repo=repo,
        name=name,
        epoch=0,
        version=version,
        release=release,
        arch=arch,
        location=f"Packages/{name}-{version}-{release}.{arch}.rpm",
        requires=tuple(_rel(r) for r in requires or []),
        provides=(own, *extra, *(_rel(p) for p in provides or [])),
        conflicts=tuple(_rel(c) for c in conflicts or []),
        obsoletes=tuple(_rel(o) for o in obsoletes or []),
        files=tuple(files or [f"/usr/share/doc/{name}-{version}/README"]),
    )


def _soname(i: int, arch: str) -> str:
    return f"lib{i:04d}.so.1()(64bit)" if arch == "x86_64" else f"lib{i:04d}.so.1"


def dvd_packages() -> tuple[list[RepoPackage], list[Group], list[Group]]:
    rnd = random.Random(6_10)
    pkgs: list[RepoPackage] = []
    for arch, libc, libdir in (
        ("x86_64", "libc.so.6()(64bit)", "/lib64"),
        ("i686", "libc.so.6", "/lib"),
    ):
        pkgs.append(_pkg("glibc", "2.12", arch=arch, release="1.212.el6", provides=[libc],
                         files=[f"{libdir}/libc.so.6", f"{libdir}/ld-linux.so.2"]))  # fmt: skip
    pkgs += [
        _pkg("bash", "4.1.2", requires=["libc.so.6()(64bit)"], files=["/bin/bash", "/bin/sh"]),
        _pkg("sysklogd", "1.4.1", provides=["syslog"], requires=["/bin/sh"]),
        _pkg("rsyslog", "5.8.10", provides=["syslog"], obsoletes=["sysklogd < 1.5"],
             requires=["libc.so.6()(64bit)", "/bin/sh"]),
        _pkg("postfix", "2.6.6", provides=["MTA", "smtp-daemon"],
             files=["/usr/sbin/sendmail.postfix"]),
        _pkg("sendmail", "8.14.4", provides=["MTA", "smtp-daemon"],
             files=["/usr/sbin/sendmail.sendmail"]),
        _pkg("cronie", "1.4.4", requires=["smtp-daemon", "syslog", "/bin/sh"]),
        _pkg("httpd-lite", "2.2.15", provides=["webserver"], requires=["libc.so.6()(64bit)"]),
    ]  # fmt: skip
    for i in range(N_LIBS):
        deps = sorted({rnd.randrange(i) for _ in range(rnd.randrange(4))}) if i else []
        for version in ("1.0", "1.1") if i in TWO_VERSIONS else ("1.0",):
            for arch, libc, libdir in (("x86_64", "libc.so.6()(64bit)", "/usr/lib64"),
                                       ("i686", "libc.so.6", "/usr/lib")):  # fmt: skip
                pkgs.append(
                    _pkg(f"lib{i:04d}", version, arch=arch, provides=[_soname(i, arch)],
                         requires=[libc, *(_soname(d, arch) for d in deps)],
                         files=[f"{libdir}/lib{i:04d}.so.1"])
                )  # fmt: skip
    for i in range(N_TOOLS):
        pkgs.append(_pkg(f"tool{i:04d}", "2.0", arch="noarch" if i % 3 else "x86_64",
                         requires=["/bin/sh"], files=[f"/usr/bin/tool{i:04d}"]))  # fmt: skip
    for i in range(N_DATA):
        pkgs.append(_pkg(f"data{i:04d}", "0.5", arch="noarch",
                         files=[f"/usr/share/data{i:04d}/table.dat"]))  # fmt: skip
    for i in range(N_APPS):
        requires = [_soname(rnd.randrange(N_LIBS), "x86_64") for _ in range(rnd.randrange(1, 4))]
        if i % 4 == 0:
            requires.append(f"/usr/bin/tool{rnd.randrange(N_TOOLS):04d}")
        if i % 7 == 0:
            requires.append(f"/usr/share/data{rnd.randrange(N_DATA):04d}/table.dat")
        if i % 11 == 0:
            requires.append(f"lib{rnd.choice(NEWEST_WANTED):04d} >= 1.1")
        if i % 13 == 0 and i:
            requires.append(f"app{rnd.randrange(i):04d}")
        if i % 97 == 0:
            requires.append("webserver")
        if i % 101 == 0:
            requires.append("smtp-daemon")
        pkgs.append(_pkg(f"app{i:04d}", "3.1", arch="noarch" if i % 5 == 0 else "x86_64",
                         requires=requires))  # fmt: skip
    # An older library pinned exactly: the solver must take 1.0, not the newest.
    pkgs.append(_pkg("legacy-client", "1.0", requires=[f"lib{PINNED:04d} = 1.0-1.el6"]))
    gateway = [
        _pkg("cs-gw", "4.9.0", release="190", repo="cs-repo",
             requires=["cs-gw-core = 4.9.0-190", "legacy-client", "webserver"],
             conflicts=["sendmail"]),
        _pkg("cs-gw-core", "4.9.0", release="190", repo="cs-repo",
             requires=["lib0010.so.1()(64bit)", "lib0020.so.1", "/usr/bin/tool0001",
                       "/usr/share/data0003/table.dat", "syslog"]),
        _pkg("cs-gw-repo-conf", "3.6.3", release="1", repo="cs-repo",
             files=["/etc/yum.repos.d/cs.repo"]),
    ]  # fmt: skip
    apps = [f"app{i:04d}" for i in range(N_APPS)]
    groups = [
        Group("core", "Core", ("glibc", "bash", "sysklogd", *apps[:40]), ("cronie",), (), ()),
        Group("base", "Base", tuple(apps[40:140]), ("postfix", "sendmail", *apps[140:340]),
              tuple(apps[340:440]), (("lib0300", "app0441"),)),
        *[
            Group(f"extra{k}", f"Extra {k}", tuple(apps[440 + 150 * k : 490 + 150 * k]),
                  tuple(apps[490 + 150 * k : 590 + 150 * k]), (), ())
            for k in range(10)
        ],
        Group("desktop", "Desktop", tuple(apps[1800:1850]), tuple(apps[1850:1950]), (), ()),
        Group("server", "Server", ("httpd-lite",), tuple(apps[1950:1990]), (), ()),
    ]  # fmt: skip
    gateway_groups = [Group("cs-gw", "Gateway", ("cs-gw", "cs-gw-repo-conf"), (), (), ())]
    return pkgs + gateway, groups, gateway_groups
