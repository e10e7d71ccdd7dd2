"""What a product ISO's ``cs-repo/`` says about the release it carries, read from the ISO.

Its repodata (read by libsolv as the installed yum reads it: ``compose/repo.py``) gives
every gateway package's version, what they obsolete and what ``cs-email`` requires; the
``cs-email`` package's own signature names the vendor key that must end up in rpm's
database; ``cs-email-repo-conf``'s ``/etc/yum.repos.d/*.repo`` files say which
repositories a server gets and whether each is enabled (the guide enables them by name,
``--enablerepo=cs-*``). Nothing else is copied off the ISO.
"""

from __future__ import annotations

import configparser
import re
import shutil
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

from buildiso.compose.repo import DirReader, load_repo
from buildiso.compose.rpmversion import Evr
from buildiso.errors import InputError
from buildiso.run import output, run

METAPACKAGE = "cs-email"
REPO_CONF = "cs-email-repo-conf"  # the package defining the cs-* repositories
REPO = "cs-repo"
REPO_FILE = re.compile(r"\./etc/yum\.repos\.d/[A-Za-z0-9_.-]{1,80}\.repo")
MAX_REPO_CONF = 16 * 2**20  # a package of a few configuration files
MAX_REPO_FILE = 64 * 1024
_YUM_BOOL = {"1": True, "yes": True, "true": True, "on": True,
             "0": False, "no": False, "false": False, "off": False}  # fmt: skip


@dataclass(frozen=True)
class ReleaseRepo:
    """The release in an ISO's cs-repo: versions, obsoleted and required names."""

    versions: Mapping[str, str]  # name -> version-release
    obsoletes: frozenset[str]  # names its packages obsolete
    requires: frozenset[str]  # names the metapackage requires
    evr: Evr  # the metapackage's
    location: str  # the metapackage's file, relative to cs-repo/
    locations: Mapping[str, str] = field(default_factory=dict)  # name -> file, every package

    @property
    def version(self) -> str:
        return self.versions[METAPACKAGE]


@dataclass(frozen=True)
class RepoDefinition:
    """One repository a package defines (a section of a ``.repo`` file)."""

    id: str
    enabled: bool
    baseurl: str  # the first URL (empty: a mirrorlist or metalink only)
    file: str  # /etc/yum.repos.d/NAME.repo

    @property
    def online(self) -> bool:
        """Reached over the network (Appendix B's), not from a mounted disc (file://)."""
        return self.baseurl.startswith(("http://", "https://", "ftp://"))


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
        locations={p.name: p.location for p in packages},
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


def repo_definitions(iso: Path, release: ReleaseRepo, *, work: Path) -> tuple[RepoDefinition, ...]:
    """The repositories ``iso``'s cs-email-repo-conf defines, read from the package's files."""
    location = release.locations.get(REPO_CONF)
    if location is None:
        raise InputError(f"{iso}: its {REPO} has no {REPO_CONF} package (the guide installs "
                         "it first)", hint="pass an ISO made by buildiso build")  # fmt: skip
    rpm = work / Path(location).name
    rpm.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract", f"/{REPO}/{location}", rpm])
    try:
        return package_repos(rpm)
    finally:
        rpm.unlink()


def package_repos(rpm: Path) -> tuple[RepoDefinition, ...]:
    """The repositories an RPM's ``/etc/yum.repos.d/*.repo`` files define (rpm2cpio, cpio)."""
    hint = f"{REPO_CONF} must carry yum .repo files (rebuild the gateway RPMs)"
    if rpm.stat().st_size > MAX_REPO_CONF:
        raise InputError(f"{rpm.name}: larger than {MAX_REPO_CONF} bytes", hint=hint)
    payload = cast(bytes, run(["rpm2cpio", rpm], text=False).stdout)
    names = cast(bytes, run(["cpio", "-it", "--quiet"], input=payload, text=False).stdout)
    found: list[RepoDefinition] = []
    for name in sorted(n for n in names.decode("utf-8", "replace").splitlines()
                       if REPO_FILE.fullmatch(n)):  # fmt: skip
        text = cast(bytes, run(["cpio", "-i", "--quiet", "--to-stdout", name], input=payload,
                               text=False).stdout)  # fmt: skip
        found += parse_repo_file(text[: MAX_REPO_FILE + 1], file=name[1:], source=rpm.name)
    if not found:
        raise InputError(f"{rpm.name}: defines no yum repository", hint=hint)
    return tuple(found)


def parse_repo_file(data: bytes, *, file: str, source: str) -> list[RepoDefinition]:
    """The sections of a yum ``.repo`` file (yum's defaults: enabled unless it says not)."""
    where = f"{source}: {file}"
    hint = "a yum .repo file: [id] sections with baseurl= and enabled=0|1"
    if len(data) > MAX_REPO_FILE:
        raise InputError(f"{where}: larger than {MAX_REPO_FILE} bytes", hint=hint)
    parser = configparser.ConfigParser(interpolation=None)
    try:
        parser.read_string(data.decode("utf-8"), source=file)
    except (UnicodeDecodeError, configparser.Error) as exc:
        raise InputError(f"{where}: not a yum repository file ({str(exc)[:200]})",
                         hint=hint) from None  # fmt: skip
    repos = []
    for section in parser.sections():
        values = parser[section]
        enabled = _YUM_BOOL.get(values.get("enabled", "1").strip().lower())
        if enabled is None:
            raise InputError(f"{where}: [{section}] enabled={values.get('enabled')!r} is not "
                             "a yum boolean", hint=hint)  # fmt: skip
        urls = values.get("baseurl", "").replace(",", " ").split()
        repos.append(RepoDefinition(id=section, enabled=enabled, baseurl=urls[0] if urls else "",
                                    file=file))  # fmt: skip
    return repos


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
