"""What the offline upgrade must leave, judged from what the guest printed.

The expected versions come from the new ISO's ``cs-repo`` (its repodata, read by libsolv
as the installed yum reads it): every gateway package it carries at its version, what
its packages obsolete gone, what its ``cs-email`` requires and the old release lacked
installed. Configuration, data, firewall and services are compared with what the same
commands printed before the update (the fresh install was checked just before that).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.mediachecks import check, media_install_checks
from buildiso.boottest.postreport import CheckResult
from buildiso.compose.repo import DirReader, load_repo
from buildiso.errors import InputError
from buildiso.run import run

METAPACKAGE = "cs-email"
_PORT = re.compile(r"-p (tcp|udp)\b.*?--dport (\d+)")


@dataclass(frozen=True)
class ReleaseRepo:
    """The new release's cs-repo: versions, obsoleted and required names."""

    versions: Mapping[str, str]  # name -> version-release
    obsoletes: frozenset[str]  # names its packages obsolete
    requires: frozenset[str]  # names the metapackage requires


@dataclass(frozen=True)
class Inventory:
    """Outputs of upgrade.INVENTORY_COMMANDS, as the guest printed them."""

    rpms: str
    config: str  # md5sum of the %config(noreplace) file
    setting: str  # the edited setting's line in it
    data: str  # md5sum of each file under /var/lib/cs-email/data
    status: str  # the Server Console's status: version, firewall, services

    def packages(self) -> dict[str, str]:
        pairs = (line.split(" ", 1) for line in self.rpms.splitlines() if line.startswith("cs-"))
        return {name: vr.strip() for name, vr in pairs}

    def services(self) -> list[str]:
        return sorted(ln.split(":", 1)[1].strip() for ln in self.status.splitlines()
                      if ln.startswith("service:"))  # fmt: skip

    def open_ports(self) -> list[str]:
        """``PORT/PROTO`` of each ACCEPT rule of the console's firewall lines."""
        rules = (ln for ln in self.status.splitlines() if ln.startswith("firewall:"))
        return sorted({f"{m[1]}/{m[0]}" for ln in rules for m in _PORT.findall(ln)})


def read_release(iso: Path, *, work: Path) -> ReleaseRepo:
    """The gateway packages of ``iso``'s cs-repo/ (its repodata only: nothing else copied)."""
    work.mkdir(parents=True, exist_ok=True)
    target = work / "cs-repo" / "repodata"
    if target.exists():
        import shutil

        shutil.rmtree(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["osirrox", "-indev", iso, "-extract", "/cs-repo/repodata", target])
    packages = load_repo(DirReader(work), repo_id="cs-repo", prefix="cs-repo")
    meta = [p for p in packages if p.name == METAPACKAGE]
    if not meta:
        raise InputError(
            f"{iso}: its cs-repo has no {METAPACKAGE} package", hint="pass the new release's ISO"
        )
    return ReleaseRepo(
        versions={p.name: f"{p.version}-{p.release}" for p in packages},
        obsoletes=frozenset(r.name for p in packages for r in p.obsoletes),
        requires=frozenset(r.name for r in meta[0].requires),
    )


def upgrade_checks(
    *,
    before: Inventory,
    after: Inventory,
    extra: Mapping[str, str],
    release: ReleaseRepo,
    edited: tuple[str, str],
    key_id: str | None,
) -> list[CheckResult]:
    """Every check of the upgrade (see the module docstring); ``extra`` holds the outputs
    of upgrade.AFTER_ONLY."""
    old, new = before.packages(), after.packages()
    wrong = {n: v for n, v in new.items() if n in release.versions and v != release.versions[n]}
    want = release.versions[METAPACKAGE]
    checks = [
        check(
            "gateway-version",
            new.get(METAPACKAGE) == want and not wrong,
            f"{METAPACKAGE} {new.get(METAPACKAGE)} (want {want}, was {old.get(METAPACKAGE)}); "
            f"not at the new release's version: {wrong or 'none'}",
        )
    ]
    obsoleted = sorted(n for n in release.obsoletes if n in old)
    left = [n for n in obsoleted if n in new]
    checks.append(
        check(
            "obsoleted-removed",
            bool(obsoleted) and not left,
            f"obsoleted by the new release and installed before: {obsoleted}; still there: {left}",
        )
    )
    added = sorted(n for n in release.requires if n in release.versions and n not in old)
    missing = [n for n in added if n not in new]
    checks.append(
        check(
            "added-installed",
            bool(added) and not missing,
            f"required by the new {METAPACKAGE}, not in the old release: {added}; missing: "
            f"{missing}",
        )
    )
    key, value = edited
    line = f"{key} = {value}"
    config_ok = (
        bool(before.config.strip())
        and before.config.strip() == after.config.strip()
        and before.setting.strip() == after.setting.strip() == line
    )
    checks.append(
        check(
            "config-kept",
            config_ok,
            f"the admin's {line!r} and the file's checksum unchanged"
            if config_ok
            else f"before: {before.setting.strip()!r} {before.config.strip()!r}; "
            f"after: {after.setting.strip()!r} {after.config.strip()!r}",
        )
    )
    data_ok = bool(before.data.strip()) and before.data.strip() == after.data.strip()
    checks.append(
        check(
            "data-kept",
            data_ok,
            f"{len(before.data.split()) // 2} data file(s) with unchanged checksums"
            if data_ok
            else f"before: {before.data.strip()!r}; after: {after.data.strip()!r}",
        )
    )
    checks += media_install_checks(
        forbidden=extra.get("forbidden", ""),
        repos=extra.get("repos", ""),
        keys=extra.get("keys", ""),
        key_id=key_id,
    )
    was, now = before.open_ports(), after.open_ports()
    checks.append(
        check(
            "firewall-unchanged",
            bool(was) and was == now,
            f"open as after the fresh install: {', '.join(now)}"
            if was == now
            else f"before {was}; after {now}",
        )
    )
    was, now = before.services(), after.services()
    checks.append(
        check(
            "services-unchanged",
            was == now,
            f"started at boot as after the fresh install: {now}"
            if was == now
            else f"before {was}; after {now}",
        )
    )
    return checks
