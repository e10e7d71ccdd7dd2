"""%packages: repositories (the media + every kickstart `repo`), closure, the real rpm.

One ``rpm -ivh`` transaction into /mnt/sysimage, so rpm's dependency and conflict checks
and the packages' scriptlets run for real. Signatures are not checked, as RHEL 6 anaconda
does not check them for media installs (rpm still verifies the digests).
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .depsolve import Request
from .errors import InstallFailed
from .repodata import Group, Package, read_comps, read_primary

RPM = "/usr/bin/rpm"
DBPATH = "/var/lib/rpm"  # RHEL's place (Debian's rpm defaults to ~/.rpmdb)
# "setup-2.8.14-23.el6   ####" (rpm -h to a pipe); "  1:setup-…" on a terminal
_INSTALLING = re.compile(r"^\s*(?:\d+:)?(\S+)\s+#")


def repo_path(data: Any) -> Path:
    """The directory of a kickstart ``repo --baseurl=file://…`` line."""
    url = data.baseurl or ""
    if not url.startswith("file://"):
        raise InstallFailed(
            "packages",
            f"repo --name={data.name} --baseurl={url}: only file:// repositories can be "
            "used (there is no network during the sample install)",
        )
    path = Path(url[len("file://") :])
    if not (path / "repodata" / "repomd.xml").is_file():
        raise InstallFailed(
            "packages", f"repo --name={data.name}: {path}/repodata/repomd.xml not found"
        )
    return path


def load_repositories(media_tree: Path, repos: list[Any]) -> tuple[list[Package], dict[str, Group]]:
    packages = read_primary(media_tree, repo_name="media")
    groups = read_comps(media_tree)
    for data in repos:
        path = repo_path(data)
        packages += read_primary(path, repo_name=data.name)
        for gid, group in read_comps(path).items():
            groups.setdefault(gid, group)
    return packages, groups


def request_from_ks(handler: Any) -> Request:
    pkgs = handler.packages
    if pkgs.excludedGroupList:
        name = pkgs.excludedGroupList[0].name
        raise InstallFailed(
            "kickstart",
            f"%packages: excluding a group (-@{name}) is not supported by the sample installer",
        )
    return Request(
        groups=[g.name for g in pkgs.groupList],
        names=list(pkgs.packageList),
        excluded=list(pkgs.excludedList),
        add_base=bool(pkgs.addBase),
    )


def install(chosen: list[Package], *, root: Path, say: Callable[[str], None]) -> None:
    """Install ``chosen`` into ``root`` in one rpm transaction, reporting n/N progress."""
    subprocess.run(
        [RPM, "--root", str(root), "--dbpath", DBPATH, "--initdb"], check=False, capture_output=True
    )
    cmd = [RPM, "--root", str(root), "--dbpath", DBPATH, "-ivh", *(str(p.location) for p in chosen)]
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


def _progress(
    proc: subprocess.Popen[str], chosen: list[Package], say: Callable[[str], None]
) -> int:
    total = len(chosen)
    done = 0
    names = {f"{p.name}-{p.ver}-{p.rel}" for p in chosen}
    assert proc.stdout is not None
    for line in proc.stdout:
        match = _INSTALLING.match(line)
        if match and match.group(1) in names:
            done += 1
            say(f"Installing packages ({done}/{total}): {match.group(1)}")
    return proc.wait()
