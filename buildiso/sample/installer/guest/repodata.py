"""Reading yum repositories (repomd.xml, primary.xml.gz, comps) with the standard library.

Enough of the RPM metadata for a dependency closure: names, EVRs, arches, locations,
provides/requires/conflicts/obsoletes and the file list primary.xml carries.
"""

from __future__ import annotations

import gzip
import lzma
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

from .errors import InstallFailed

NS = {
    "repo": "http://linux.duke.edu/metadata/repo",
    "common": "http://linux.duke.edu/metadata/common",
    "rpm": "http://linux.duke.edu/metadata/rpm",
}


@dataclass(frozen=True)
class Dep:
    """One provides/requires entry: ``flags`` EQ/LT/LE/GT/GE or None for unversioned."""

    name: str
    flags: str | None = None
    epoch: str = "0"
    ver: str | None = None
    rel: str | None = None


@dataclass
class Package:
    name: str
    arch: str
    epoch: str
    ver: str
    rel: str
    location: Path  # absolute path of the .rpm
    repo: str
    provides: list[Dep] = field(default_factory=list)
    requires: list[Dep] = field(default_factory=list)
    conflicts: list[Dep] = field(default_factory=list)
    obsoletes: list[Dep] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    @property
    def nevra(self) -> str:
        epoch = "" if self.epoch in ("", "0") else f"{self.epoch}:"
        return f"{self.name}-{epoch}{self.ver}-{self.rel}.{self.arch}"

    @property
    def nvra(self) -> str:
        return f"{self.name}-{self.ver}-{self.rel}.{self.arch}"


def _open_maybe_compressed(path: Path) -> bytes:
    data = path.read_bytes()
    if path.suffix == ".gz":
        return gzip.decompress(data)
    if path.suffix == ".xz":
        return lzma.decompress(data)
    if path.suffix in (".zst", ".bz2"):
        raise InstallFailed(
            "packages",
            f"{path}: {path.suffix} metadata cannot be read (RHEL 6 yum cannot either); "
            "make the repository with createrepo_c --compatibility",
        )
    return data


def repomd_locations(repo_root: Path) -> dict[str, Path]:
    """``type -> file`` of repodata/repomd.xml (primary, group, group_gz, ...)."""
    repomd = repo_root / "repodata" / "repomd.xml"
    try:
        root = ET.fromstring(repomd.read_bytes())
    except (OSError, ET.ParseError) as exc:
        raise InstallFailed("packages", f"cannot read repository metadata {repomd}: {exc}") from exc
    found: dict[str, Path] = {}
    for data in root.findall("repo:data", NS):
        location = data.find("repo:location", NS)
        if location is not None:
            found[data.get("type", "")] = repo_root / location.get("href", "")
    return found


def _deps(fmt: ET.Element, tag: str) -> list[Dep]:
    section = fmt.find(f"rpm:{tag}", NS)
    if section is None:
        return []
    return [
        Dep(
            name=entry.get("name", ""),
            flags=entry.get("flags"),
            epoch=entry.get("epoch") or "0",
            ver=entry.get("ver"),
            rel=entry.get("rel"),
        )
        for entry in section.findall("rpm:entry", NS)
    ]


def read_primary(repo_root: Path, *, repo_name: str) -> list[Package]:
    locations = repomd_locations(repo_root)
    if "primary" not in locations:
        raise InstallFailed("packages", f"{repo_root}/repodata/repomd.xml lists no primary data")
    try:
        root = ET.fromstring(_open_maybe_compressed(locations["primary"]))
    except (OSError, EOFError, ET.ParseError, lzma.LZMAError) as exc:
        raise InstallFailed("packages", f"cannot read {locations['primary']}: {exc}") from exc
    packages: list[Package] = []
    for element in root.findall("common:package", NS):
        if element.get("type") != "rpm":
            continue
        version = element.find("common:version", NS)
        location = element.find("common:location", NS)
        fmt = element.find("common:format", NS)
        if version is None or location is None or fmt is None:
            continue
        packages.append(
            Package(
                name=element.findtext("common:name", "", NS),
                arch=element.findtext("common:arch", "", NS),
                epoch=version.get("epoch") or "0",
                ver=version.get("ver", ""),
                rel=version.get("rel", ""),
                location=repo_root / location.get("href", ""),
                repo=repo_name,
                provides=_deps(fmt, "provides"),
                requires=_deps(fmt, "requires"),
                conflicts=_deps(fmt, "conflicts"),
                obsoletes=_deps(fmt, "obsoletes"),
                files=[f.text or "" for f in fmt.findall("common:file", NS)],
            )
        )
    return packages


@dataclass(frozen=True)
class Group:
    id: str
    name: str
    mandatory: tuple[str, ...]
    default: tuple[str, ...]
    optional: tuple[str, ...]


def parse_comps(data: bytes, *, source: str) -> dict[str, Group]:
    """Groups of a comps.xml by id (lookups by name go through ``find_group``)."""
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise InstallFailed("packages", f"cannot read comps {source}: {exc}") from exc
    groups: dict[str, Group] = {}
    for group in root.findall("group"):
        kinds: dict[str, list[str]] = {"mandatory": [], "default": [], "optional": []}
        for req in group.findall("packagelist/packagereq"):
            kind = req.get("type", "mandatory")
            if kind in kinds and req.text:
                kinds[kind].append(req.text.strip())
        # The untranslated name: the <name> without an xml:lang attribute.
        name = next((n.text or "" for n in group.findall("name") if not n.attrib), "")
        gid = group.findtext("id", "")
        groups[gid] = Group(
            gid, name, tuple(kinds["mandatory"]), tuple(kinds["default"]), tuple(kinds["optional"])
        )
    return groups


def read_comps(repo_root: Path) -> dict[str, Group]:
    locations = repomd_locations(repo_root)
    path = locations.get("group") or locations.get("group_gz")
    if path is None:
        return {}
    try:
        data = _open_maybe_compressed(path)
    except (OSError, EOFError) as exc:
        raise InstallFailed("packages", f"cannot read comps {path}: {exc}") from exc
    return parse_comps(data, source=str(path))


def find_group(groups: dict[str, Group], wanted: str) -> Group | None:
    """A group by id or by its (English) name, case-insensitively, as yum does."""
    if wanted in groups:
        return groups[wanted]
    lowered = wanted.lower()
    for group in groups.values():
        if group.id.lower() == lowered or group.name.lower() == lowered:
            return group
    return None
