"""%packages: buildiso's own install-set resolution (libsolv), then the real rpm.

The resolution is ``buildiso.compose`` (copied into stage 2 with libsolv's Python binding):
the same kickstart layer and the same libsolv as ``buildiso build``, so the installer
installs exactly the manifest's install set. One ``rpm -ivh`` transaction into
/mnt/sysimage, so rpm's dependency and conflict checks and the packages' scriptlets run for
real. Signatures are not checked, as RHEL 6 anaconda does not check them for media installs
(rpm still verifies the digests).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso.compose.depsolve import resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import GATEWAY_REPO_DIR, RepoPackage, load_media
from buildiso.errors import InputError

from . import kickstart
from .errors import InstallFailed
from .kstable import unsupported

RPM = "/usr/bin/rpm"
DBPATH = "/var/lib/rpm"  # RHEL's place (Debian's rpm defaults to ~/.rpmdb)
# "setup-2.8.14-23.el6   ####" (rpm -h to a pipe); "  1:setup-…" on a terminal
_INSTALLING = re.compile(r"^\s*(?:\d+:)?(\S+)\s+#")


BASE_COST = 100  # anaconda's base repository (yuminstall.py configBaseRepo)
REPO_COST = 1000  # yum's default, a kickstart repo without --cost


def repo_path(data: Any) -> Path:
    """The directory of a kickstart ``repo --baseurl=file://…`` line."""
    url = data.baseurl or ""
    if not url.startswith("file://"):
        raise unsupported(f"repo --name={data.name} --baseurl={url}", f"line {data.lineno}",
                          "the sample installs without a network: file:// only")
    path = Path(url[len("file://") :])
    if not (path / "repodata" / "repomd.xml").is_file():
        raise InstallFailed(
            "packages", f"repo --name={data.name}: {path}/repodata/repomd.xml not found"
        )
    return path


@dataclass(frozen=True)
class Chosen:
    """A package of the install set and its file on the media."""

    package: RepoPackage
    path: Path

    @property
    def nvr(self) -> str:
        p = self.package
        return f"{p.name}-{p.version}-{p.release}"

    @property
    def nvra(self) -> str:
        return f"{self.nvr}.{self.package.arch}"


def resolve(ks_text: str, *, media_tree: Path, repos: list[Any]) -> list[Chosen]:
    """The install set of the kickstart's %packages, exactly as ``buildiso build`` resolved
    it for the manifest: the media's base repo, its ``cs-repo/`` and every kickstart
    ``repo`` (file:// only) in one libsolv pool, buildiso's own kickstart layer."""
    roots = {"base": media_tree, GATEWAY_REPO_DIR: media_tree / GATEWAY_REPO_DIR}
    extra: list[tuple[str, Path]] = []
    for data in repos:
        path = repo_path(data)
        if path.resolve() not in {p.resolve() for p in roots.values()}:
            extra.append((data.name, path))
            roots[data.name] = path
    try:
        # as RHEL 6's parser read it: a section may end without %end, and an %include in
        # it reads the package list a %pre wrote
        selection = parse_packages(ks_text, filename="ks.cfg", rhel6_ends=True,
                                   include=_included)
        media = load_media(media_tree, extra=extra)
    except InputError as exc:
        raise InstallFailed("packages", exc.message) from None
    closure = resolve_install_set(ks_packages=selection, media=media)
    if not closure.ok:
        problems = closure.problems(filename="ks.cfg")
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InstallFailed("packages", "; ".join(problems[:3]) + more)
    costs = repo_costs(repos, roots)
    cheapest = cheapest_copies(media.packages, costs)
    return [Chosen(c, roots[c.repo] / c.location)
            for c in (cheapest.get(p.nevra, p) for p in closure.packages)]


def _included(name: str) -> str | None:
    """The package list an %include inside %packages names (None: no such file)."""
    path = Path(name)
    return kickstart.read_text(path) if path.is_file() else None


def repo_costs(repos: list[Any], roots: dict[str, Path]) -> dict[str, int]:
    """Each repository's yum cost: the media's base 100, a kickstart repo its --cost (yum's
    1000 by default), the media's cs-repo/ the cost of the repo line naming it."""
    costs = {"base": BASE_COST}
    for data in repos:
        path = repo_path(data).resolve()
        name = next((n for n, p in roots.items() if p.resolve() == path), data.name)
        costs[name] = int(data.cost) if data.cost is not None else REPO_COST
    return costs


def cheapest_copies(available: Iterable[RepoPackage],
                    costs: dict[str, int]) -> dict[str, RepoPackage]:
    """yum's costExcludePackages: of the same package (N-E:V-R.A) in several repositories,
    the copy of the cheapest; equal costs keep the first seen."""
    best: dict[str, RepoPackage] = {}
    for package in available:
        cost = costs.get(package.repo, REPO_COST)
        kept = best.get(package.nevra)
        if kept is None or cost < costs.get(kept.repo, REPO_COST):
            best[package.nevra] = package
    return best


def rpm_options(*, excludedocs: bool, install_langs: str | None) -> list[str]:
    """rpm macros of %packages --excludedocs/--instLangs (yuminstall.py doInstall)."""
    options = ["--define", "_excludedocs 1"] if excludedocs else []
    if install_langs is not None:  # "" means none: %{nil}
        options += ["--define", f"_install_langs {install_langs or '%{nil}'}"]
    return options


def install(chosen: list[Chosen], *, root: Path, say: Callable[[str], None],
            excludedocs: bool = False, install_langs: str | None = None) -> None:
    """Install ``chosen`` into ``root`` in one rpm transaction, reporting n/N progress."""
    subprocess.run(
        [RPM, "--root", str(root), "--dbpath", DBPATH, "--initdb"], check=False, capture_output=True
    )
    cmd = [RPM, "--root", str(root), "--dbpath", DBPATH,
           *rpm_options(excludedocs=excludedocs, install_langs=install_langs),
           "-ivh", *(str(c.path) for c in chosen)]
    # stderr to a file: a pipe we do not read while reading stdout could fill and block rpm
    with tempfile.TemporaryFile("w+") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True)
        code = _progress(proc, chosen, say)
        err.seek(0)
        errors = err.read()
    if code != 0:
        details = [
            ln.strip()
            for ln in errors.splitlines()
            if ln.strip() and (ln.startswith(("error:", "\t", " ")) or "scriptlet failed" in ln)
        ]
        if details and details[0].startswith("error: Failed dependencies"):
            reason = "rpm transaction check failed: " + "; ".join(details[1:4])
        else:
            reason = "rpm failed: " + "; ".join(details[:3] or [f"exit code {code}"])
        raise InstallFailed("packages", reason)


def _progress(proc: subprocess.Popen[str], chosen: list[Chosen], say: Callable[[str], None]) -> int:
    total = len(chosen)
    done = 0
    names = {c.nvr for c in chosen}
    assert proc.stdout is not None
    for line in proc.stdout:
        match = _INSTALLING.match(line)
        if match and match.group(1) in names:
            done += 1
            say(f"Installing packages ({done}/{total}): {match.group(1)}")
    return proc.wait()
