"""Yum repositories: compose the gateway repo (``cs-repo/``) and read repodata + comps.

The gateway repo is made by createrepo_c in compatibility mode (gzip XML plus the sqlite
databases RHEL 6's yum reads), with the gateway comps group and fixed timestamps so the
same packages always give the same bytes. The readers understand what RHEL 6 media carry:
repomd.xml → primary.xml(.gz) for packages, the ``group`` entry for comps.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
import os
import shutil
import tempfile
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Protocol

from buildiso.compose.comps import Group, load_comps
from buildiso.compose.rpms import RpmHeader, read_rpms
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.errors import InputError
from buildiso.run import run
from buildiso.sourcedate import epoch_from_env

__all__ = [
    "GATEWAY_REPO_DIR",
    "DirReader",
    "GatewayRepo",
    "Group",
    "MediaRepos",
    "RepoPackage",
    "TreeReader",
    "compose_gateway_repo",
    "load_comps",
    "load_media",
    "load_repo",
    "scan_filelists",
]

GATEWAY_REPO_DIR = "cs-repo"
_REMAKE_METADATA = "the repository metadata is damaged: copy it again or re-run createrepo_c"
_NS = {
    "repo": "http://linux.duke.edu/metadata/repo",
    "common": "http://linux.duke.edu/metadata/common",
    "rpm": "http://linux.duke.edu/metadata/rpm",
    "filelists": "http://linux.duke.edu/metadata/filelists",
}


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
        if dest.exists():
            shutil.rmtree(dest)
        staging.rename(dest)
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
    files: tuple[str, ...]  # only the "primary" files (/etc/*, */bin/*) listed there

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
    where = f"{prefix}/" if prefix else ""
    href = _repomd_location(reader, where, "primary")
    if href is None:
        raise InputError(
            f"{where}repodata/repomd.xml lists no primary metadata",
            hint="regenerate the repository with createrepo_c --compatibility",
        )
    data = _decompress(href, reader.read_bytes(where + href))
    return list(_parse_primary(data, repo_id=repo_id or prefix or "base", source=where + href))


def _repomd_location(reader: TreeReader, where: str, data_type: str) -> str | None:
    rel = f"{where}repodata/repomd.xml"
    if not reader.exists(rel):
        raise InputError(
            f"{rel} not found",
            hint="the tree has no yum repository there: is it an install tree?",
        )
    try:
        root = ET.fromstring(reader.read_bytes(rel))
    except ET.ParseError as exc:
        raise InputError(f"{rel}: not valid XML ({exc})", hint="regenerate the repodata") from exc
    for data in root.findall("repo:data", _NS):
        if data.get("type") == data_type:
            location = data.find("repo:location", _NS)
            if location is not None and location.get("href"):
                return location.get("href")
    return None


def _decompress(name: str, data: bytes) -> bytes:
    try:
        if name.endswith(".gz"):
            return gzip.decompress(data)
        if name.endswith(".xz"):
            return lzma.decompress(data)
        if name.endswith(".bz2"):
            return bz2.decompress(data)
    except (OSError, EOFError, lzma.LZMAError) as exc:
        raise InputError(
            f"{name}: corrupt compressed metadata ({exc})", hint=_REMAKE_METADATA
        ) from exc
    if name.endswith((".zst", ".zck")):
        raise InputError(
            f"{name}: zstd/zchunk metadata cannot be read by RHEL 6 yum",
            hint="regenerate the repository with createrepo_c --compatibility",
        )
    return data


def _relations(fmt: ET.Element | None, tag: str) -> tuple[Relation, ...]:
    if fmt is None:
        return ()
    group = fmt.find(f"rpm:{tag}", _NS)
    if group is None:
        return ()
    result = []
    for entry in group.findall("rpm:entry", _NS):
        name = entry.get("name", "")
        flags = entry.get("flags")
        if flags and entry.get("ver") is not None:
            epoch = entry.get("epoch")
            evr = Evr(
                int(epoch) if epoch and epoch.isdigit() else 0,
                entry.get("ver", ""),
                entry.get("rel"),
            )
            result.append(Relation(name, Flag(flags), evr))
        else:
            result.append(Relation(name))
    return tuple(result)


def _parse_primary(data: bytes, *, repo_id: str, source: str) -> Iterator[RepoPackage]:
    common = "{" + _NS["common"] + "}"
    try:
        for _event, elem in ET.iterparse(io.BytesIO(data), events=("end",)):
            if elem.tag != f"{common}package" or elem.get("type") != "rpm":
                continue
            version = elem.find("common:version", _NS)
            location = elem.find("common:location", _NS)
            fmt = elem.find("common:format", _NS)
            if version is None or location is None:
                raise InputError(
                    f"{source}: a package entry lacks version or location", hint=_REMAKE_METADATA
                )
            epoch = version.get("epoch") or "0"
            yield RepoPackage(
                repo=repo_id,
                name=elem.findtext("common:name", "", _NS),
                epoch=int(epoch) if epoch.isdigit() else 0,
                version=version.get("ver", ""),
                release=version.get("rel", ""),
                arch=elem.findtext("common:arch", "", _NS),
                location=location.get("href", ""),
                requires=_relations(fmt, "requires"),
                provides=_relations(fmt, "provides"),
                conflicts=_relations(fmt, "conflicts"),
                obsoletes=_relations(fmt, "obsoletes"),
                files=tuple(f.text or "" for f in fmt.findall("common:file", _NS))
                if fmt is not None
                else (),
            )
            elem.clear()
    except ET.ParseError as exc:
        raise InputError(
            f"{source}: not valid XML ({exc})", hint="regenerate the repodata"
        ) from exc


def scan_filelists(reader: TreeReader, paths: set[str], *, prefix: str = "") -> dict[str, set[str]]:
    """For each of ``paths``, the names of packages owning it per filelists.xml.

    filelists is the biggest piece of repodata (every file of every package): it is read
    only when a file dependency is not answered by primary.xml, streamed, and only the
    asked-for paths are kept.
    """
    where = f"{prefix}/" if prefix else ""
    owners: dict[str, set[str]] = {p: set() for p in paths}
    href = _repomd_location(reader, where, "filelists")
    if href is None or not paths:
        return owners
    data = _decompress(href, reader.read_bytes(where + href))
    pkg_tag = "{" + _NS["filelists"] + "}package"
    for _event, elem in ET.iterparse(io.BytesIO(data), events=("end",)):
        if elem.tag == pkg_tag:
            name = elem.get("name", "")
            for f in elem.findall("filelists:file", _NS):
                if f.text in owners:
                    owners[f.text].add(name)
            elem.clear()
    return owners


# --- the media's repositories -------------------------------------------------------------


@dataclass(frozen=True)
class MediaRepos:
    """Every repository on the install media: the base tree's and the gateway's."""

    packages: tuple[RepoPackage, ...]
    groups: dict[str, Group]
    repo_ids: tuple[str, ...]
    reader: TreeReader = field(repr=False, compare=False)
    _file_owners: dict[str, tuple[str, ...]] = field(
        default_factory=dict, repr=False, compare=False
    )

    def find_file_owners(self, paths: Iterable[str]) -> dict[str, tuple[str, ...]]:
        """path → names of packages owning it (filelists, one scan per batch of new paths)."""
        wanted = set(paths)
        new = wanted - set(self._file_owners)
        if new:
            found: dict[str, set[str]] = {p: set() for p in new}
            for repo_id in self.repo_ids:
                prefix = "" if repo_id == "base" else repo_id
                for path, names in scan_filelists(self.reader, new, prefix=prefix).items():
                    found[path] |= names
            self._file_owners.update({p: tuple(sorted(n)) for p, n in found.items()})
        return {p: self._file_owners[p] for p in wanted}

    def file_owners(self, path: str) -> list[str]:
        return list(self.find_file_owners([path])[path])


def load_media(tree: Path | TreeReader) -> MediaRepos:
    """The base repo (``repodata/`` at the root) plus ``cs-repo/`` when present, with comps."""
    reader = DirReader(tree) if isinstance(tree, Path) else tree
    prefixes = [""]
    if reader.exists(f"{GATEWAY_REPO_DIR}/repodata/repomd.xml"):
        prefixes.append(GATEWAY_REPO_DIR)
    packages: list[RepoPackage] = []
    groups: dict[str, Group] = {}
    ids: list[str] = []
    for prefix in prefixes:
        repo_id = prefix or "base"
        ids.append(repo_id)
        packages += load_repo(reader, repo_id=repo_id, prefix=prefix)
        where = f"{prefix}/" if prefix else ""
        comps_href = _repomd_location(reader, where, "group") or _repomd_location(
            reader, where, "group_gz"
        )
        if comps_href:
            data = _decompress(comps_href, reader.read_bytes(where + comps_href))
            for gid, group in load_comps(data, source=where + comps_href).items():
                groups[gid] = _merge(groups.get(gid), group)
    return MediaRepos(packages=tuple(packages), groups=groups, repo_ids=tuple(ids), reader=reader)


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
    )
