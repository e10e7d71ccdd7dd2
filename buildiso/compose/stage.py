"""The compose stage of ``buildiso build``: gateway RPMs → ``cs-repo/`` + the install set."""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildiso import paths
from buildiso.compose.depsolve import Closure, resolve_install_set
from buildiso.compose.fileconflicts import describe, file_conflicts, package_files
from buildiso.compose.firewall import lokkit_problems
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import GATEWAY_REPO_DIR, TreeReader, compose_gateway_repo, load_media
from buildiso.errors import InputError, ValidationFailed
from buildiso.log import step
from buildiso.render.templates import KS_PATH

log = logging.getLogger(__name__)

GATEWAY_COMPS = paths.COMPS_DIR / "cs-email-comps.xml"


@dataclass(frozen=True)
class Composed:
    repo_dir: Path  # <overlay>/cs-repo
    closure: Closure  # what the kickstart installs from base + cs-repo


def compose_media(
    *,
    rpm_files: list[Path],
    overlay: Path,
    media: TreeReader,
    ks_text: str,
    epoch: int,
    allow_unresolved: bool,
) -> Composed:
    """Write ``cs-repo/`` into ``overlay`` and resolve the kickstart's install set over the
    media as the ISO will show it (``media``: the overlay over the base)."""
    repo_dir = overlay / GATEWAY_REPO_DIR
    with step("gateway repository cs-repo/ (createrepo_c --compatibility)"):
        compose_gateway_repo(rpms=rpm_files, dest=repo_dir, comps=GATEWAY_COMPS, timestamp=epoch)
    with step("install set: %packages closure over base + cs-repo"):
        closure = install_set(media, ks_text, allow_unresolved=allow_unresolved)
        log.info("    %d packages install, no conflicts", len(closure.packages))
    return Composed(repo_dir=repo_dir, closure=closure)


def install_set(media: TreeReader, ks_text: str, *, allow_unresolved: bool) -> Closure:
    """The install set; any problem refuses the build, except unresolved Requires with
    ``--allow-unresolved`` (development builds: warned about and recorded, never conflicts).
    An enabled ``firewall`` without lokkit in the install set is a problem too."""
    selection = parse_packages(ks_text, filename=KS_PATH)
    repos = load_media(media)
    closure = resolve_install_set(ks_packages=selection, media=repos)
    fatal = closure
    if allow_unresolved:
        fatal = dataclasses.replace(closure, unresolved=())
        for problem in unresolved_problems(closure):
            log.warning("!!! --allow-unresolved: shipping %s", problem)
    found = fatal.numbered_problems() + lokkit_problems(
        ks_text, installed=closure.packages, media=repos, excluded_entries=selection.excluded
    )
    if found:
        problems = [f"{KS_PATH}:{line}: {text}" for line, text in sorted(found, key=lambda f: f[0])]
        raise ValidationFailed(problems, what="install set check failed")
    return closure


def why_entry(closure: Closure, name: str) -> dict[str, str | int]:
    """Why ``name`` is in the install set, for its manifest entry: the chain from what the
    kickstart asked for (``@base → cronie → ssmtp``) and that request's ks.cfg line."""
    return {
        "why": " → ".join(closure.why.get(name, (name,))),
        "ks_line": closure.lines.get(name, 0),
    }


def unresolved_problems(closure: Closure) -> list[str]:
    """The unresolved Requires as ``ks.cfg:LINE: unresolved dependency: ...`` lines."""
    return [f"{KS_PATH}:{u.line}: unresolved dependency: {u}" for u in closure.unresolved]


def refuse_file_conflicts(composed: Composed, base_files: Mapping[str, Path]) -> int:
    """Every path two packages of the install set cannot share (fileconflicts.py), refused
    in one line: anaconda's transaction test would stop the install there. ``base_files``:
    the install set's base packages by location. Returns how many packages were read."""
    packages = [
        package_files(composed.repo_dir / p.location, gateway=True)
        if p.repo == GATEWAY_REPO_DIR
        else package_files(base_files[p.location], gateway=False)
        for p in composed.closure.packages
    ]
    conflicts = file_conflicts(packages)
    if conflicts:
        raise InputError(
            f"file conflicts in the install set (the installer's rpm transaction test would "
            f"stop the install): {describe(conflicts)}",
            hint="a gateway package may not own a base package's files with other content, "
            "type or permissions: move or drop those files (docs/build-checks.md)",
        )
    return len(packages)
