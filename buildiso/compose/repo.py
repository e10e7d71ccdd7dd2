"""Yum repositories: compose the gateway repo (``cs-repo/``) and read repodata + comps.

The gateway repo is made by createrepo_c in compatibility mode (gzip XML plus the sqlite
databases RHEL 6's yum reads), with the gateway comps group and fixed timestamps so the
same packages always give the same bytes. Reading: repomd.xml says where primary,
filelists and comps are and what their checksums are (repomd.py: each file is checked
before it is read); libsolv parses primary and filelists into a pool (the one repodata
reader in buildiso, the one the resolver uses), comps.py the groups.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import BinaryIO, Protocol

import solv

from buildiso.atomicfile import replace_dir
from buildiso.compose import repomd
from buildiso.compose.comps import Group, load_comps
from buildiso.compose.repomd import RepoMd, read_repomd
from buildiso.compose.rpms import RpmHeader, read_rpms
from buildiso.compose.rpmversion import Evr, Relation
from buildiso.errors import InputError
from buildiso.run import run
from buildiso.sourcedate import epoch_from_env

__all__ = [
    "GATEWAY_REPO_DIR",
    "DirReader",
    "GatewayRepo",
    "Group",
    "ListedPackage",
    "MediaRepos",
    "RepoPackage",
    "TreeReader",
    "compose_gateway_repo",
    "listed_packages",
    "load_comps",
    "load_media",
    "load_repo",
]

GATEWAY_REPO_DIR = "cs-repo"
_REMAKE_METADATA = "the repository metadata is damaged: copy it again or re-run createrepo_c"


class TreeReader(Protocol):
    """Read-only access to a media tree (a BaseTree or a plain directory)."""

    def read_bytes(self, rel: str) -> bytes: ...

    def exists(self, rel: str) -> bool: ...


@dataclass(frozen=True)
class DirReader:
    """A TreeReader over a directory on disk."""

    root: Path

    def read_bytes(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def open(self, rel: str) -> BinaryIO:
        return (self.root / rel).open("rb")

    def exists(self, rel: str) -> bool:
        return (self.root / rel).exists()


# --- composing the gateway repo -----------------------------------------------------------


@dataclass(frozen=True)
class GatewayRepo:
    """The composed ``cs-repo/``: where it is and what it holds."""

    path: Path
    packages: tuple[RpmHeader, ...]  # headers of the copies, sorted by file name
    repomd: Path

    def package_path(self, name: str) -> Path:
        for pkg in self.packages:
            if pkg.name == name:
                return pkg.path
        raise KeyError(name)


def compose_gateway_repo(
    *,
    rpms: Sequence[Path],
    dest: Path,
    comps: Path | None,
    timestamp: int | None = None,
) -> GatewayRepo:
    """Copy ``rpms`` to ``dest/Packages/N-V-R.A.rpm`` and run createrepo_c on ``dest``.

    ``timestamp`` (default: $SOURCE_DATE_EPOCH, else the newest package build time) fixes
    the repodata revision, its timestamps and the copies' mtimes, for reproducible output.
    Every bad package is reported at once; ``dest`` is only replaced when all went well.
    """
    if not rpms:
        raise InputError("no gateway RPMs given", hint="point --gateway-rpms at the RPM folder")
    headers = read_rpms(rpms)
    _refuse_duplicates(headers)
    if comps is not None:
        _check_comps_members(comps, {h.name for h in headers})
    stamp = _timestamp(timestamp, headers)
    dest.parent.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=f".{dest.name}.", dir=dest.parent))
    try:
        packages = staging / "Packages"
        packages.mkdir()
        for header in headers:
            copy = packages / header.filename
            shutil.copyfile(header.path, copy)
            os.utime(copy, (stamp, stamp))
        cmd: list[str] = [
            "createrepo_c",
            "--compatibility",  # gzip XML + sqlite: what RHEL 6 yum reads
            "--database",
            "--checksum",
            "sha256",
            "--revision",
            str(stamp),
            "--set-timestamp-to-revision",
            "--workers",
            "1",
            "--quiet",
        ]
        if comps is not None:
            cmd += ["--groupfile", str(comps)]
        run([*cmd, str(staging)], env={"SOURCE_DATE_EPOCH": str(stamp)})
        os.chmod(staging, 0o755)
        # createrepo_c leaves repomd.xml and the folders at "now": pin every mtime.
        for path in [*staging.rglob("*"), staging]:
            os.utime(path, (stamp, stamp))
        replace_dir(staging, dest)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    copies = tuple(
        replace(h, path=dest / "Packages" / h.filename)
        for h in sorted(headers, key=lambda h: h.filename)
    )
    return GatewayRepo(path=dest, packages=copies, repomd=dest / "repodata" / "repomd.xml")


def _timestamp(timestamp: int | None, headers: Sequence[RpmHeader]) -> int:
    if timestamp is not None:
        return timestamp
    env = epoch_from_env()
    if env is not None:
        return env
    # Derived from the inputs, so unchanged packages give unchanged repodata.
    return max(h.build_time for h in headers)


def _refuse_duplicates(headers: Sequence[RpmHeader]) -> None:
    seen: dict[str, Path] = {}
    problems = []
    for h in headers:
        if h.filename in seen:
            problems.append(f"{h.path.name} and {seen[h.filename].name} are both {h.nevra}")
        seen[h.filename] = h.path
    if problems:
        raise InputError("; ".join(problems), hint="remove the duplicate package files")


def _check_comps_members(comps: Path, names: set[str]) -> None:
    groups = load_comps(comps)
    missing = sorted(
        f"{name} (group {group.id})"
        for group in groups.values()
        for name in group.mandatory + group.default
        if name not in names
    )
    if missing:
        raise InputError(
            f"{comps}: lists packages that are not among the gateway RPMs: {', '.join(missing)}",
            hint="add the missing RPMs or fix the comps file",
        )


# --- reading repodata -------------------------------------------------------------------


@dataclass(frozen=True)
class RepoPackage:
    """One package as primary.xml describes it."""

    repo: str
    name: str
    epoch: int
    version: str
    release: str
    arch: str
    location: str  # relative to the repo's root, e.g. Packages/foo-1.0-1.el6.x86_64.rpm
    requires: tuple[Relation, ...]
    provides: tuple[Relation, ...]
    conflicts: tuple[Relation, ...]
    obsoletes: tuple[Relation, ...]
    files: tuple[str, ...]  # every file it owns (primary + filelists)

    @property
    def evr(self) -> Evr:
        return Evr(self.epoch, self.version, self.release)

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


def load_repo(
    repo_dir: Path | TreeReader, *, repo_id: str = "", prefix: str = ""
) -> list[RepoPackage]:
    """Packages of the repo whose ``repodata/`` is under ``prefix`` (a directory or reader)."""
    reader = DirReader(repo_dir) if isinstance(repo_dir, Path) else repo_dir
    pool = new_pool()
    repo = add_repo(pool, reader, repo_id=repo_id or prefix or "base", prefix=prefix)
    pool.addfileprovides()
    pool.createwhatprovides()
    return [repo_package(s) for s in repo.solvables_iter()]


def new_pool() -> solv.Pool:
    """An empty libsolv pool for an x86_64 install (i686/i386/noarch installable too)."""
    pool = solv.Pool()
    pool.setdisttype(solv.Pool.DISTTYPE_RPM)
    pool.setarch("x86_64")
    # Multilib: glibc.i686 next to glibc.x86_64 is not an implicit obsolete (rpm's file
    # colours; repodata has none, so only the arches tell them apart), as for yum/dnf.
    pool.set_flag(solv.Pool.POOL_FLAG_IMPLICITOBSOLETEUSESCOLORS, 1)
    return pool


def add_repo(
    pool: solv.Pool, reader: TreeReader, *, repo_id: str, prefix: str, filelists: bool = True
) -> solv.Repo:
    """Read the repo under ``prefix`` into ``pool``: libsolv parses primary and filelists
    (ours finds them in repomd.xml, checks their checksums and decompresses them, refusing
    zstd like RHEL 6)."""
    return _add_repo(pool, reader, read_repomd(reader, f"{prefix}/" if prefix else ""),
                     repo_id=repo_id, filelists=filelists)  # fmt: skip


def _add_repo(
    pool: solv.Pool, reader: TreeReader, index: RepoMd, *, repo_id: str, filelists: bool
) -> solv.Repo:
    primary = index.get("primary")
    if primary is None:
        raise InputError(
            f"{index.where}repodata/repomd.xml lists no primary metadata",
            hint="regenerate the repository with createrepo_c --compatibility",
        )
    repo = pool.add_repo(repo_id)
    _feed(repo, reader, index, primary, flags=0)
    files = index.get("filelists") if filelists else None
    if files is not None:
        _feed(repo, reader, index, files, flags=solv.Repo.REPO_EXTEND_SOLVABLES)
    return repo


def _feed(
    repo: solv.Repo, reader: TreeReader, index: RepoMd, entry: repomd.MetadataFile, *, flags: int
) -> None:
    rel = index.path(entry)
    data = repomd.read_verified(reader, index, entry)
    fd = os.memfd_create("buildiso-repodata")
    try:
        for chunk in repomd.open_chunks(rel, data):
            view = memoryview(chunk)
            while view:
                view = view[os.write(fd, view) :]
        os.lseek(fd, 0, os.SEEK_SET)
        handle = solv.xfopen_fd("", fd)  # libsolv dups the descriptor
    finally:
        os.close(fd)
    try:
        ok = repo.add_rpmmd(handle, None, flags)
    finally:
        handle.close()
    if not ok:
        raise InputError(f"{rel}: not valid repodata ({repo.pool.errstr})", hint=_REMAKE_METADATA)


@dataclass(frozen=True)
class ListedPackage:
    """A package as primary.xml lists it: where it is and the checksum of its file."""

    nevra: str
    name: str
    epoch: int
    version: str
    release: str
    arch: str
    location: str  # relative to the repo's root
    algorithm: str  # hashlib's name ("" when primary gives none)
    checksum: str


def listed_packages(reader: TreeReader, *, prefix: str = "") -> tuple[ListedPackage, ...]:
    """Every package primary.xml lists (primary only: no file lists needed), sorted."""
    pool = new_pool()
    repo = add_repo(pool, reader, repo_id=prefix or "base", prefix=prefix, filelists=False)
    found = []
    for s in repo.solvables_iter():
        evr = Evr.parse(s.evr)
        chk = s.lookup_checksum(solv.SOLVABLE_CHECKSUM)
        kind = chk.typestr() if chk is not None else ""
        epoch = f"{evr.epoch}:" if evr.epoch else ""
        found.append(ListedPackage(
            nevra=f"{s.name}-{epoch}{evr.version}-{evr.release or ''}.{s.arch}",
            name=s.name, epoch=evr.epoch, version=evr.version, release=evr.release or "",
            arch=s.arch, location=s.lookup_location()[0] or "",
            algorithm={"sha": "sha1"}.get(kind, kind), checksum=chk.hex() if chk else "",
        ))  # fmt: skip
    return tuple(sorted(found, key=lambda p: p.location))


def repo_package(s: solv.XSolvable) -> RepoPackage:
    """A solvable as a RepoPackage (its dependencies and every file it owns)."""
    evr = Evr.parse(s.evr)

    def deps(key: int) -> tuple[Relation, ...]:
        return tuple(_relation(str(d)) for d in s.lookup_deparray(key))

    files = s.Dataiterator(solv.SOLVABLE_FILELIST, None, _COMPLETE_FILES)
    return RepoPackage(
        repo=s.repo.name,
        name=s.name,
        epoch=evr.epoch,
        version=evr.version,
        release=evr.release or "",
        arch=s.arch,
        location=s.lookup_location()[0] or "",
        requires=deps(solv.SOLVABLE_REQUIRES),
        provides=deps(solv.SOLVABLE_PROVIDES),
        conflicts=deps(solv.SOLVABLE_CONFLICTS),
        obsoletes=deps(solv.SOLVABLE_OBSOLETES),
        files=tuple(sorted(d.str for d in files)),
    )


_COMPLETE_FILES = solv.Dataiterator.SEARCH_FILES | solv.Dataiterator.SEARCH_COMPLETE_FILELIST


def _relation(text: str) -> Relation:
    try:
        return Relation.parse(text)
    except ValueError:  # a rich dependency "(a or b)": kept whole
        return Relation(text)


# --- the media's repositories -------------------------------------------------------------


@dataclass(frozen=True)
class MediaRepos:
    """Every repository on the install media (the base tree's and the gateway's) in one
    libsolv pool, ready to resolve, and the comps groups of all of them."""

    pool: solv.Pool = field(repr=False, compare=False)
    groups: dict[str, Group]
    repo_ids: tuple[str, ...]

    @cached_property
    def packages(self) -> tuple[RepoPackage, ...]:
        return tuple(repo_package(s) for s in self.pool.solvables_iter())


def load_media(tree: Path | TreeReader, *, extra: Sequence[tuple[str, Path]] = ()) -> MediaRepos:
    """The base repo (``repodata/`` at the root) plus ``cs-repo/`` when present, with comps;
    ``extra``: more (repo id, directory) repositories, e.g. a kickstart's ``repo`` lines."""
    reader = DirReader(tree) if isinstance(tree, Path) else tree
    repos: list[tuple[str, TreeReader, str]] = [("base", reader, "")]
    if reader.exists(f"{GATEWAY_REPO_DIR}/repodata/repomd.xml"):
        repos.append((GATEWAY_REPO_DIR, reader, GATEWAY_REPO_DIR))
    repos += [(repo_id, DirReader(path), "") for repo_id, path in extra]
    pool = new_pool()
    groups: dict[str, Group] = {}
    ids: list[str] = []
    for repo_id, reader, prefix in repos:
        ids.append(repo_id)
        index = read_repomd(reader, f"{prefix}/" if prefix else "")
        _add_repo(pool, reader, index, repo_id=repo_id, filelists=True)
        comps = index.get("group") or index.get("group_gz")
        if comps is not None:
            data = repomd.open_bytes(index.path(comps), repomd.read_verified(reader, index, comps))
            for gid, group in load_comps(data, source=index.path(comps)).items():
                groups[gid] = _merge(groups.get(gid), group)
    pool.addfileprovides()
    pool.createwhatprovides()
    return MediaRepos(pool=pool, groups=groups, repo_ids=tuple(ids))


def _merge(old: Group | None, new: Group) -> Group:
    """yum merges a group defined by several repos: the union of their members."""
    if old is None:
        return new

    def union(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
        return a + tuple(x for x in b if x not in a)

    return Group(
        id=old.id,
        name=old.name,
        mandatory=union(old.mandatory, new.mandatory),
        default=union(old.default, new.default),
        optional=union(old.optional, new.optional),
        conditional=old.conditional + tuple(c for c in new.conditional if c not in old.conditional),
        is_default=old.is_default or new.is_default,
        langonly=old.langonly or new.langonly,
    )
