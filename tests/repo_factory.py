"""Yum repodata written directly from package descriptions (no RPM files needed).

repomd.xml + primary.xml.gz + filelists.xml.gz + comps, with real checksums, as
createrepo_c lays them out: what libsolv (buildiso) and dnf (the referee) both read.
Packages whose ``repo`` is ``cs-repo`` go to ``<root>/cs-repo/``, the others to the root.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

from buildiso.compose.repo import Group, RepoPackage
from buildiso.compose.rpmversion import Relation

_COMMON = "http://linux.duke.edu/metadata/common"
_RPM = "http://linux.duke.edu/metadata/rpm"
_FILELISTS = "http://linux.duke.edu/metadata/filelists"
_PRIMARY_DIRS = ("/etc/", "/bin/", "/sbin/", "/usr/bin/", "/usr/sbin/")


def write_media(
    root: Path,
    packages: Sequence[RepoPackage],
    groups: Sequence[Group],
    *,
    extra_files: dict[str, list[str]] | None = None,
    gateway_groups: Sequence[Group] = (),
) -> Path:
    """Write the base repo at ``root`` and, if any package is in cs-repo, ``root/cs-repo``.

    ``extra_files`` (path → package names) adds files only filelists.xml knows about.
    """
    for repo_id, where in (("base", root), ("cs-repo", root / "cs-repo")):
        members = [p for p in packages if (p.repo == "cs-repo") == (repo_id == "cs-repo")]
        if members or repo_id == "base":
            write_repo(
                where,
                members,
                groups if repo_id == "base" else gateway_groups,
                extra_files=extra_files or {},
            )
    return root


def write_repo(
    where: Path,
    packages: Sequence[RepoPackage],
    groups: Sequence[Group],
    *,
    extra_files: dict[str, list[str]],
) -> None:
    repodata = where / "repodata"
    repodata.mkdir(parents=True, exist_ok=True)
    owned: dict[str, list[str]] = {}
    for path, names in extra_files.items():
        for name in names:
            owned.setdefault(name, []).append(path)
    ids = {p.nevra: hashlib.sha256(p.nevra.encode()).hexdigest() for p in packages}
    primary = "".join(_primary_entry(p, ids[p.nevra]) for p in packages)
    filelists = "".join(
        _filelists_entry(p, ids[p.nevra], sorted({*p.files, *owned.get(p.name, [])}))
        for p in packages
    )
    files = {
        "primary": _gz(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<metadata xmlns="{_COMMON}" '
            f'xmlns:rpm="{_RPM}" packages="{len(packages)}">\n{primary}</metadata>\n'
        ),
        "filelists": _gz(
            f'<?xml version="1.0" encoding="UTF-8"?>\n<filelists xmlns="{_FILELISTS}" '
            f'packages="{len(packages)}">\n{filelists}</filelists>\n'
        ),
    }
    if groups:
        files["group"] = comps_xml(groups).encode()
    entries = []
    for kind, data in files.items():
        digest = hashlib.sha256(data).hexdigest()
        suffix = ".xml.gz" if kind != "group" else ".xml"
        name = f"{digest}-{'comps' if kind == 'group' else kind}{suffix}"
        (repodata / name).write_bytes(data)
        opened = gzip.decompress(data) if suffix.endswith(".gz") else data
        entries.append(
            f'<data type="{kind}"><checksum type="sha256">{digest}</checksum>'
            f'<open-checksum type="sha256">{hashlib.sha256(opened).hexdigest()}</open-checksum>'
            f'<location href="repodata/{name}"/><timestamp>1700000000</timestamp>'
            f"<size>{len(data)}</size><open-size>{len(opened)}</open-size></data>\n"
        )
    (repodata / "repomd.xml").write_text(
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        '<repomd xmlns="http://linux.duke.edu/metadata/repo" '
        f'xmlns:rpm="{_RPM}"><revision>1700000000</revision>\n{"".join(entries)}</repomd>\n'
    )


def comps_xml(groups: Iterable[Group]) -> str:
    body = []
    for g in groups:
        reqs = [(n, "mandatory", "") for n in g.mandatory]
        reqs += [(n, "default", "") for n in g.default]
        reqs += [(n, "optional", "") for n in g.optional]
        reqs += [(n, "conditional", f" requires={quoteattr(needs)}") for n, needs in g.conditional]
        members = "".join(
            f'<packagereq type="{kind}"{extra}>{escape(n)}</packagereq>' for n, kind, extra in reqs
        )
        langonly = f"<langonly>{escape(g.langonly)}</langonly>" if g.langonly else ""
        body.append(
            f"<group><id>{escape(g.id)}</id><name>{escape(g.name)}</name>"
            f"<default>{str(g.is_default).lower()}</default><uservisible>true</uservisible>"
            f"{langonly}<packagelist>{members}</packagelist></group>\n"
        )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<comps>\n{"".join(body)}</comps>\n'


def _gz(text: str) -> bytes:
    return gzip.compress(text.encode(), compresslevel=1, mtime=0)


def _entries(tag: str, relations: Iterable[Relation]) -> str:
    items = []
    for rel in relations:
        attrs = f"name={quoteattr(rel.name)}"
        if rel.flag is not None and rel.evr is not None:
            attrs += f' flags="{rel.flag.value}" epoch="{rel.evr.epoch}"'
            attrs += f" ver={quoteattr(rel.evr.version)}"
            if rel.evr.release is not None:
                attrs += f" rel={quoteattr(rel.evr.release)}"
        items.append(f"<rpm:entry {attrs}/>")
    return f"<rpm:{tag}>{''.join(items)}</rpm:{tag}>" if items else ""


def _primary_entry(p: RepoPackage, pkgid: str) -> str:
    primary_files = "".join(
        f"<file>{escape(f)}</file>" for f in p.files if f.startswith(_PRIMARY_DIRS)
    )
    return (
        f'<package type="rpm"><name>{escape(p.name)}</name><arch>{p.arch}</arch>'
        f'<version epoch="{p.epoch}" ver={quoteattr(p.version)} rel={quoteattr(p.release)}/>'
        f'<checksum type="sha256" pkgid="YES">{pkgid}</checksum>'
        f"<summary>{escape(p.name)}</summary><description/><packager/><url/>"
        '<time file="1700000000" build="1700000000"/>'
        '<size package="1000" installed="1000" archive="1000"/>'
        f"<location href={quoteattr(p.location)}/><format><rpm:license>MIT</rpm:license>"
        f"<rpm:sourcerpm>{escape(p.name)}-{escape(p.version)}-{escape(p.release)}.src.rpm"
        '</rpm:sourcerpm><rpm:header-range start="0" end="1000"/>'
        + _entries("provides", p.provides)
        + _entries("requires", p.requires)
        + _entries("conflicts", p.conflicts)
        + _entries("obsoletes", p.obsoletes)
        + primary_files
        + "</format></package>\n"
    )


def _filelists_entry(p: RepoPackage, pkgid: str, files: list[str]) -> str:
    return (
        f'<package pkgid="{pkgid}" name={quoteattr(p.name)} arch="{p.arch}">'
        f'<version epoch="{p.epoch}" ver={quoteattr(p.version)} rel={quoteattr(p.release)}/>'
        + "".join(f"<file>{escape(f)}</file>" for f in files)
        + "</package>\n"
    )
