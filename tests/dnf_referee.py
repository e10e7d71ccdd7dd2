"""Debian's dnf as referee: what a real yum-family client installs for a kickstart's %packages.

dnf runs against an install tree (base repo at the root, ``cs-repo/`` beside it) with its
own empty --installroot, no host repositories (``reposdir=/dev/null``) and ``file://``
baseurls, and ``install --assumeno``: it resolves, prints the transaction and stops.
The %packages section is translated the way anaconda hands it to yum: ``@core`` always,
``@base`` unless --nobase, the groups and names listed, ``-name`` as an exclusion.
"""

from __future__ import annotations

import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from buildiso.compose.kspackages import GroupLevel, parse_packages

Nevra = tuple[str, str, str]  # (name, evr, arch): evr as the manifest writes it ([E:]V-R)


@dataclass(frozen=True)
class DnfResult:
    install_set: set[Nevra]
    seconds: float  # dnf's own wall time: metadata loading + resolution
    output: str


def dnf_resolve(*, tree: Path, ks_text: str, workdir: Path) -> DnfResult:
    """The packages dnf would install for ``ks_text``'s %packages from ``tree``."""
    sel = parse_packages(ks_text)
    excluded_groups = {e.name.lower() for e in sel.excluded_groups}
    groups = ["core"] + ([] if sel.nobase else ["base"]) + [g.id for g in sel.groups]
    if any(g.level is not GroupLevel.DEFAULT for g in sel.groups):
        raise ValueError("the referee translates plain @group lines only")
    specs = [f"@{g}" for g in dict.fromkeys(groups) if g.lower() not in excluded_groups]
    specs += [p.name for p in sel.packages]
    root = workdir / "installroot"
    root.mkdir(parents=True, exist_ok=True)
    conf = workdir / "dnf.conf"
    repos = [("base", tree)]
    if (tree / "cs-repo" / "repodata" / "repomd.xml").is_file():
        repos.append(("cs-repo", tree / "cs-repo"))
    conf.write_text(
        "[main]\nreposdir=/dev/null\ngpgcheck=0\ninstall_weak_deps=False\n"
        f"multilib_policy={'all' if sel.multilib else 'best'}\n"
        f"cachedir={workdir / 'cache'}\nlogdir={workdir}\npersistdir={workdir / 'persist'}\n"
        + "".join(f"[{rid}]\nname={rid}\nbaseurl=file://{path}\n" for rid, path in repos)
    )
    cmd = [
        "dnf", "--installroot", str(root), "--config", str(conf), "--releasever", "6",
        "--forcearch", "x86_64", "--setopt", "reposdir=/dev/null", "--noplugins",
        "install", "--assumeno",
        *[f"--exclude={e.name}" for e in sel.excluded],
        *specs,
    ]  # fmt: skip
    started = time.monotonic()
    proc = subprocess.run(
        cmd, capture_output=True, text=True, env={"LANG": "C", "PATH": "/usr/bin:/bin"}
    )
    seconds = time.monotonic() - started
    output = proc.stdout + proc.stderr
    if "Operation aborted." not in output:  # --assumeno's end after a successful resolution
        raise AssertionError(f"dnf did not resolve (exit {proc.returncode}):\n{output}")
    return DnfResult(install_set=parse_transaction(output), seconds=seconds, output=output)


def parse_transaction(output: str) -> set[Nevra]:
    """The packages of dnf's transaction table (``Installing...:`` sections).

    dnf wraps a row whose name is too long for its column: the name alone on one line,
    the rest on the next; rows are joined back from their tokens.
    """
    found: set[Nevra] = set()
    in_packages = False
    pending: list[str] = []
    for line in output.splitlines():
        if line.startswith("Installing"):
            in_packages = line.rstrip(":") != "Installing Groups" and line.endswith(":")
            pending = []
            continue
        if not line.startswith(" ") or not line.strip():
            in_packages = False
            continue
        if not in_packages:
            continue
        tokens = pending + line.split()
        if len(tokens) < 4:
            pending = tokens
            continue
        pending = []
        name, arch, evr = tokens[0], tokens[1], tokens[2]
        found.add((name, evr, arch))
    return found


def manifest_install_set(manifest: dict[str, object]) -> set[Nevra]:
    entries = manifest["install_set"]
    assert isinstance(entries, list)
    return {(p["name"], p["evr"], p["arch"]) for p in entries}
