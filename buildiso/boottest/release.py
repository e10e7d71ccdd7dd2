"""What a product ISO's ``cs-repo/`` says about the release it carries, read from the ISO.

Its repodata (read by libsolv as the installed yum reads it: ``compose/repo.py``) gives
every gateway package's version, what they obsolete and what ``cs-email`` requires; the
``cs-email`` package's own signature names the vendor key that must end up in rpm's
database. Nothing else is copied off the ISO.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from buildiso.compose.repo import DirReader, load_repo
from buildiso.compose.rpmversion import Evr
from buildiso.errors import InputError
from buildiso.run import output, run

METAPACKAGE = "cs-email"
REPO = "cs-repo"


@dataclass(frozen=True)
class ReleaseRepo:
    """The release in an ISO's cs-repo: versions, obsoleted and required names."""

    versions: Mapping[str, str]  # name -> version-release
    obsoletes: frozenset[str]  # names its packages obsolete
    requires: frozenset[str]  # names the metapackage requires
    evr: Evr  # the metapackage's
    location: str  # the metapackage's file, relative to cs-repo/

    @property
    def version(self) -> str:
        return self.versions[METAPACKAGE]


def read_release(iso: Path, *, work: Path) -> ReleaseRepo:
    """The gateway packages of ``iso``'s cs-repo/ (its repodata only)."""
    target = work / REPO / "repodata"
    shutil.rmtree(target, ignore_errors=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    run(["osirrox", "-indev", iso, "-extract", f"/{REPO}/repodata", target])
    packages = load_repo(DirReader(work), repo_id=REPO, prefix=REPO)
    meta = [p for p in packages if p.name == METAPACKAGE]
    if not meta:
        raise InputError(
            f"{iso}: its {REPO} has no {METAPACKAGE} package",
            hint="pass an ISO made by buildiso build",
        )
    return ReleaseRepo(
        versions={p.name: f"{p.version}-{p.release}" for p in packages},
        obsoletes=frozenset(r.name for p in packages for r in p.obsoletes),
        requires=frozenset(r.name for r in meta[0].requires),
        evr=meta[0].evr,
        location=meta[0].location,
    )


def signer(iso: Path, release: ReleaseRepo, *, work: Path) -> str | None:
    """The key ID (8 hex digits) that signed the release's cs-email (None: unsigned)."""
    rpm = work / Path(release.location).name
    rpm.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract", f"/{REPO}/{release.location}", rpm])
    sig = output(["rpm", "-qp", "--nosignature", "--qf", "%{RSAHEADER:pgpsig}", rpm])
    rpm.unlink()
    found = re.search(r"Key ID ([0-9a-f]+)", sig)
    return found.group(1)[-8:] if found else None


def refuse_unless_older(
    *, old: ReleaseRepo, old_iso: Path, new: ReleaseRepo, new_iso: Path
) -> None:
    """An upgrade needs something to upgrade: OLD's cs-email must be older than NEW's."""
    if old.evr.compare(new.evr) < 0:
        return
    raise InputError(
        f"{old_iso.name} carries {METAPACKAGE} {old.evr}, not older than {new_iso.name}'s "
        f"{new.evr}: there is nothing to upgrade",
        hint="--from takes the previous release's ISO (e.g. EMAIL_480_150.iso, built with "
        "profiles/email-480.toml and that release's RPMs)",
    )
