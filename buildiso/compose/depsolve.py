"""The install set: what a kickstart's %packages installs from the media, as yum would.

RHEL 6 semantics: ``@core`` always, ``@base`` unless ``--nobase``; a group selects its
mandatory and default members (``--optional`` adds optional ones, ``--nodefaults`` drops
the defaults); ``-name`` removes a package from the selection (a dependency can still pull
it back, as with anaconda); the newest version of each name wins. Then the dependency
closure over base + ``cs-repo``. Obsoletes as yum honours them: a name (or group member)
that another package obsoletes installs the obsoleting package instead, and a package of
the set obsoleted by another one in the set is dropped from it. Problems are collected,
never raised one at a time, and each carries the chain that led to it and the kickstart
line it started from.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import ExitStack
from dataclasses import dataclass, field
from functools import cmp_to_key
from pathlib import Path
from typing import Any, Literal

from buildiso.compose.kspackages import GroupLevel, PackageSelection, parse_packages
from buildiso.compose.repo import DirReader, Group, MediaRepos, RepoPackage, TreeReader, load_media
from buildiso.compose.rpmversion import Flag, Relation
from buildiso.errors import InputError
from buildiso.master.basetree import open_base

BASE_ARCHES = ("x86_64", "noarch")
# Where RHEL 6's anaconda has the install media mounted (docs/design.md, "Install media
# during the install"), so ``repo --baseurl=file:///mnt/source/cs-repo`` can be checked
# against the tree: /mnt/source for the whole install, /mnt/isodir for hd:, /mnt/stage2
# in stage 1 of a cdrom install.
MEDIA_MOUNT_POINTS = ("/mnt/source", "/mnt/isodir", "/mnt/stage2")


@dataclass(frozen=True)
class Unresolved:
    """A Requires nothing in the media satisfies, and who needed it."""

    requirement: str
    chain: tuple[str, ...]  # from what the kickstart asked for down to the needing package
    reason: str
    line: int

    def __str__(self) -> str:
        return " → ".join((*self.chain, f"{self.requirement} ({self.reason})"))


@dataclass(frozen=True)
class Conflict:
    """Two packages of the install set that cannot be installed together."""

    package: str
    relation: str  # the Conflicts entry as written, e.g. "postfix" or "samba-common < 4"
    other: str
    other_chain: tuple[str, ...]
    line: int  # the kickstart line that brought ``other`` in

    def __str__(self) -> str:
        return (
            f"{self.package} conflicts with {self.relation} "
            f"({self.other} is in the install set: {_how(self.other_chain)})"
        )


@dataclass(frozen=True)
class Missing:
    """A %packages name or @group the media does not have."""

    name: str
    kind: Literal["package", "group"]
    line: int

    def __str__(self) -> str:
        if self.kind == "group":
            return f"group @{self.name} is not in the media's comps"
        return f"package {self.name} is not in the media's repositories"


@dataclass(frozen=True)
class PulledBack:
    """A package excluded in %packages that a dependency pulls back in."""

    name: str
    chain: tuple[str, ...]
    line: int  # the exclusion's line

    def __str__(self) -> str:
        return f"{self.name} is excluded but pulled back in: {' → '.join(self.chain)}"


@dataclass(frozen=True)
class Closure:
    """The resolved install set and everything wrong with it."""

    packages: tuple[RepoPackage, ...]  # sorted by name
    why: dict[str, tuple[str, ...]] = field(compare=False)  # name → chain ending in name
    unresolved: tuple[Unresolved, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    missing: tuple[Missing, ...] = ()
    pulled_back: tuple[PulledBack, ...] = ()

    @property
    def ok(self) -> bool:
        return not (self.unresolved or self.conflicts or self.missing or self.pulled_back)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.packages)

    def numbered_problems(self) -> list[tuple[int, str]]:
        """Every problem as (kickstart line, message), in line order."""
        found: list[tuple[int, str]] = [(m.line, str(m)) for m in self.missing]
        found += [(u.line, f"unresolved dependency: {u}") for u in self.unresolved]
        found += [(c.line, str(c)) for c in self.conflicts]
        found += [(p.line, str(p)) for p in self.pulled_back]
        return sorted(found, key=lambda f: f[0])

    def problems(self, *, filename: str) -> list[str]:
        """Every problem as ``FILE:LINE: message``, in kickstart line order."""
        return [f"{filename}:{line}: {text}" for line, text in self.numbered_problems()]


def _how(chain: tuple[str, ...]) -> str:
    if len(chain) <= 1:
        return "listed in %packages"
    return "pulled by " + " → ".join(chain[:-1])


class _Index:
    """The newest package of each (name, arch), and who provides what."""

    def __init__(self, media: MediaRepos) -> None:
        best: dict[tuple[str, str], RepoPackage] = {}
        for pkg in media.packages:
            key = (pkg.name, pkg.arch)
            if key not in best or pkg.evr.compare(best[key].evr) > 0:
                best[key] = pkg
        self.media = media
        self.packages = sorted(best.values(), key=lambda p: (p.name, p.arch))
        self.by_name: dict[str, list[RepoPackage]] = {}
        self.provides: dict[str, list[tuple[RepoPackage, Relation]]] = {}
        self.files: dict[str, list[RepoPackage]] = {}
        self.obsoleters: dict[str, list[tuple[RepoPackage, Relation]]] = {}
        for pkg in self.packages:
            for rel in pkg.obsoletes:
                # "Obsoletes: self < 2" is an upgrade path of its own name, not a replacement.
                if rel.name != pkg.name:
                    self.obsoleters.setdefault(rel.name, []).append((pkg, rel))
            self.by_name.setdefault(pkg.name, []).append(pkg)
            for rel in pkg.provides:
                self.provides.setdefault(rel.name, []).append((pkg, rel))
            for path in pkg.files:
                self.files.setdefault(path, []).append(pkg)

    def best(self, name: str) -> RepoPackage | None:
        """The package to install for a bare name: base arch first, then newest."""
        candidates = self.by_name.get(name, [])
        if not candidates:
            return None
        return min(candidates, key=_preference)

    def obsoleted_by(self, pkg: RepoPackage) -> list[RepoPackage]:
        """The packages whose Obsoletes match ``pkg``'s name and version."""
        own = Relation(pkg.name, Flag.EQ, pkg.evr)
        return [other for other, rel in self.obsoleters.get(pkg.name, []) if rel.matches(own)]

    def replacement(self, pkg: RepoPackage) -> RepoPackage:
        """What yum installs when asked for ``pkg``: its obsoleter, followed to the end."""
        seen = {pkg.name}
        while by := self.obsoleted_by(pkg):
            best = min(by, key=_preference)
            if best.name in seen:  # two packages obsoleting each other: keep what was asked
                break
            seen.add(best.name)
            pkg = best
        return pkg

    def by_name_arch(self, text: str) -> RepoPackage | None:
        """The package a ``name.arch`` entry means, if it is one."""
        name, _, arch = text.rpartition(".")
        return next((p for p in self.by_name.get(name, []) if p.arch == arch), None)

    def providers(self, req: Relation) -> tuple[list[RepoPackage], list[RepoPackage]]:
        """(packages satisfying ``req``, packages providing the name in another version)."""
        if req.name.startswith("/"):
            return list(self.files.get(req.name, [])), []
        good: list[RepoPackage] = []
        other: list[RepoPackage] = []
        for pkg, rel in self.provides.get(req.name, []):
            (good if req.matches(rel) else other).append(pkg)
        return good, other


def _newest_first(a: RepoPackage, b: RepoPackage) -> int:
    return b.evr.compare(a.evr)


_NEWEST_FIRST = cmp_to_key(_newest_first)


def _preference(pkg: RepoPackage) -> tuple[int, Any, int, str]:
    # Base arch before multilib, newest first, then the shortest name (yum's tie-break).
    return (0 if pkg.arch in BASE_ARCHES else 1, _NEWEST_FIRST(pkg), len(pkg.name), pkg.name)


def resolve_install_set(*, ks_packages: PackageSelection, media: MediaRepos) -> Closure:
    """Resolve ``ks_packages`` against ``media``: selection, then the dependency closure."""
    index = _Index(media)
    sel = ks_packages
    excluded = {e.name: e.line for e in sel.excluded}

    def is_excluded(name: str) -> int | None:
        for pattern, line in excluded.items():
            if fnmatch.fnmatchcase(name, pattern):
                return line
        return None

    groups, missing = _selected_groups(sel, media)
    # What the kickstart asks for: (package, chain, kickstart line).
    wanted: list[tuple[RepoPackage, tuple[str, ...], int]] = []
    for group, line, level in groups:
        members = list(group.mandatory)
        if level is not GroupLevel.MANDATORY:
            members += group.default
        if level is GroupLevel.ALL:
            members += group.optional
        for name in members:
            pkg = index.best(name)
            # yum skips group members the repos do not carry; so do we.
            if pkg is not None and is_excluded(name) is None:
                wanted.append(_replaced(index, pkg, (f"@{group.id}", name), line))
    for entry in sel.packages:
        if any(c in entry.name for c in "*?["):
            names = sorted(
                {p.name for p in index.packages if fnmatch.fnmatchcase(p.name, entry.name)}
            )
        else:
            names = [entry.name] if entry.name in index.by_name else []
        arch_pkg = index.by_name_arch(entry.name) if not names else None
        if arch_pkg is not None:  # "glibc.i686": that architecture
            if is_excluded(arch_pkg.name) is None:
                wanted.append((arch_pkg, (arch_pkg.name,), entry.line))
            continue
        if not names and not sel.ignore_missing:
            missing.append(Missing(entry.name, "package", entry.line))
        for name in names:
            pkg = index.best(name)
            if pkg is not None and is_excluded(name) is None:
                wanted.append(_replaced(index, pkg, (name,), entry.line))

    state = _Closure(index, is_excluded=is_excluded)
    for pkg, chain, line in wanted:
        state.add(pkg, chain, line)
    state.run()
    # Conditional group members come in when the package they depend on is installed.
    for group, _line, _level in groups:
        for name, needs in group.conditional:
            pkg = index.best(name)
            if pkg is not None and needs in state.names and is_excluded(name) is None:
                state.add(pkg, (f"@{group.id}", name), state.lines[needs])
    state.run()
    state.drop_obsoleted()

    pulled_back = [
        PulledBack(name, state.why[name], exclusion)
        for name in sorted(state.names)
        if (exclusion := is_excluded(name)) is not None
    ]
    chosen = sorted(state.chosen.values(), key=lambda p: (p.name, p.arch))
    return Closure(
        packages=tuple(chosen),
        why=dict(state.why),
        unresolved=tuple(state.unresolved),
        conflicts=tuple(_conflicts(chosen, state)),
        missing=tuple(sorted(missing, key=lambda m: m.line)),
        pulled_back=tuple(pulled_back),
    )


def _replaced(
    index: _Index, pkg: RepoPackage, chain: tuple[str, ...], line: int
) -> tuple[RepoPackage, tuple[str, ...], int]:
    """A request for an obsoleted package installs its obsoleter (the chain says so)."""
    new = index.replacement(pkg)
    return (new, chain if new is pkg else (*chain, new.name), line)


def _selected_groups(
    sel: PackageSelection, media: MediaRepos
) -> tuple[list[tuple[Group, int, GroupLevel]], list[Missing]]:
    """The comps groups to install (with their %packages line and level) and those missing.

    Like yum, ``@name`` matches a group's id or its name, ignoring case.
    """
    lookup: dict[str, Group] = {}
    for each in media.groups.values():
        lookup.setdefault(each.name.lower(), each)
    for each in media.groups.values():
        lookup[each.id.lower()] = each  # ids win over names
    excluded = {lookup[e.name.lower()].id for e in sel.excluded_groups if e.name.lower() in lookup}
    implicit = [("core", sel.line)] + ([] if sel.nobase else [("base", sel.line)])
    requests = [(gid, line, GroupLevel.DEFAULT) for gid, line in implicit]
    requests += [(g.id, g.line, g.level) for g in sel.groups]
    chosen: dict[str, tuple[Group, int, GroupLevel]] = {}
    missing: list[Missing] = []
    for gid, line, level in requests:
        group = lookup.get(gid.lower())
        if group is None:
            missing.append(Missing(gid, "group", line))
        elif group.id not in excluded:
            previous = chosen.get(group.id)
            # Asked twice (@core is implicit): the wider selection wins.
            if previous is None or _LEVELS.index(level) > _LEVELS.index(previous[2]):
                chosen[group.id] = (group, previous[1] if previous else line, level)
    return list(chosen.values()), missing


_LEVELS = (GroupLevel.MANDATORY, GroupLevel.DEFAULT, GroupLevel.ALL)


class _Closure:
    """Breadth-first dependency closure, remembering why each package is in."""

    def __init__(self, index: _Index, *, is_excluded: Callable[[str], int | None]) -> None:
        self.index = index
        self.is_excluded = is_excluded
        # Keyed by (name, arch): "glibc.i686" in %packages must not hide glibc.x86_64.
        self.chosen: dict[tuple[str, str], RepoPackage] = {}
        self.names: set[str] = set()
        self.why: dict[str, tuple[str, ...]] = {}
        self.lines: dict[str, int] = {}
        self.unresolved: list[Unresolved] = []
        self.queue: deque[tuple[str, str]] = deque()
        self._provided: dict[str, list[Relation]] = {}
        self._files: set[str] = set()
        self.deferred: list[tuple[RepoPackage, Relation]] = []

    def add(self, pkg: RepoPackage, chain: tuple[str, ...], line: int) -> None:
        key = (pkg.name, pkg.arch)
        if key in self.chosen:
            return
        self.chosen[key] = pkg
        self.names.add(pkg.name)
        self.why.setdefault(pkg.name, chain)
        self.lines.setdefault(pkg.name, line)
        for rel in pkg.provides:
            self._provided.setdefault(rel.name, []).append(rel)
        self._files.update(pkg.files)
        self.queue.append(key)

    def satisfied(self, req: Relation) -> bool:
        if req.name.startswith("/"):
            return req.name in self._files
        return any(req.matches(rel) for rel in self._provided.get(req.name, []))

    def run(self) -> None:
        while self.queue or self.deferred:
            while self.queue:
                pkg = self.chosen[self.queue.popleft()]
                for req in pkg.requires:
                    if req.name.startswith("rpmlib(") or self.satisfied(req):
                        continue
                    if req.name.startswith("/") and req.name not in self.index.files:
                        # Not a "primary" file: ask filelists, for all such at once.
                        self.deferred.append((pkg, req))
                        continue
                    good, other = self.index.providers(req)
                    self._choose(pkg, req, good, other)
            pending, self.deferred = self.deferred, []
            owners = self.index.media.find_file_owners({req.name for _, req in pending})
            for pkg, req in pending:
                names = owners[req.name]
                if not any(n in self.names for n in names):
                    good = [p for n in names for p in self.index.by_name.get(n, [])]
                    self._choose(pkg, req, good, [])

    def drop_obsoleted(self) -> None:
        """yum's transaction: a package obsoleted by another one in the set is not installed.

        A Requires only a dropped package satisfied is then reported as unresolved.
        """
        chosen = set(self.chosen.values())
        dropped = {
            key: pkg
            for key, pkg in self.chosen.items()
            if any(other in chosen for other in self.index.obsoleted_by(pkg))
        }
        if not dropped:
            return
        for key in dropped:
            del self.chosen[key]
        self.names = {pkg.name for pkg in self.chosen.values()}
        self._provided = {}
        self._files = set()
        for pkg in self.chosen.values():
            for rel in pkg.provides:
                self._provided.setdefault(rel.name, []).append(rel)
            self._files.update(pkg.files)
        for pkg in sorted(self.chosen.values(), key=lambda p: (p.name, p.arch)):
            for req in pkg.requires:
                if req.name.startswith("rpmlib(") or self.satisfied(req):
                    continue
                lost = sorted(
                    old.nevra
                    for old in dropped.values()
                    if (
                        req.name in old.files
                        if req.name.startswith("/")
                        else any(req.matches(rel) for rel in old.provides)
                    )
                )
                if lost:
                    self.unresolved.append(
                        Unresolved(
                            str(req),
                            self.why[pkg.name],
                            f"only {', '.join(lost)} provides it, and the set obsoletes that",
                            self.lines[pkg.name],
                        )
                    )

    def _choose(
        self, pkg: RepoPackage, req: Relation, good: list[RepoPackage], other: list[RepoPackage]
    ) -> None:
        chain, line = self.why[pkg.name], self.lines[pkg.name]
        if not good:
            self.unresolved.append(Unresolved(str(req), chain, _reason(other), line))
            return
        best = min(good, key=self._rank)
        self.add(best, (*chain, best.name), line)

    def _rank(self, pkg: RepoPackage) -> tuple[int, tuple[int, Any, int, str]]:
        # Like yum, avoid a provider the kickstart excluded when another one will do.
        return (0 if self.is_excluded(pkg.name) is None else 1, _preference(pkg))


def _reason(other: list[RepoPackage]) -> str:
    if not other:
        return "nothing provides it"
    versions = ", ".join(sorted({p.nevra for p in other}))
    return f"only {versions} provides that name, in another version"


def _conflicts(chosen: list[RepoPackage], state: _Closure) -> Iterable[Conflict]:
    by_provide: dict[str, list[tuple[RepoPackage, Relation]]] = {}
    for pkg in chosen:
        for rel in pkg.provides:
            by_provide.setdefault(rel.name, []).append((pkg, rel))
    for pkg in chosen:
        for con in pkg.conflicts:
            for other, rel in by_provide.get(con.name, []):
                if other.name != pkg.name and con.matches(rel):
                    yield Conflict(
                        package=pkg.name,
                        relation=str(con),
                        other=other.name,
                        other_chain=state.why[other.name],
                        line=state.lines[other.name],
                    )
                    break


# --- validate --media ---------------------------------------------------------------------


def media_problems(ks_text: str, *, filename: str, tree: Path) -> list[str]:
    """``FILE:LINE: message`` for everything in the kickstart the media cannot satisfy.

    ``tree`` is an install tree (directory) or a DVD ISO file. Checks every %packages name
    and @group against its repos and comps, the full closure (unresolved requires,
    conflicts, exclusions pulled back) and every ``repo --baseurl=file:`` path.
    """
    try:
        selection = parse_packages(ks_text, filename=filename)
    except InputError as exc:
        return [exc.message]
    with ExitStack() as stack:
        reader: TreeReader
        try:
            if tree.is_dir():
                reader = DirReader(tree)
            else:
                reader = stack.enter_context(open_base(tree))
            media = load_media(reader)
        except InputError as exc:
            return [exc.message if exc.message.startswith(str(tree)) else f"{tree}: {exc.message}"]
        found = _repo_line_problems(ks_text, reader=reader, tree=tree)
        if selection.line:
            closure = resolve_install_set(ks_packages=selection, media=media)
            found += closure.numbered_problems()
    return [f"{filename}:{line}: {text}" for line, text in sorted(found, key=lambda f: f[0])]


def _baseurls(line: str) -> list[str]:
    """The ``--baseurl`` values of a ``repo`` line (``--baseurl=URL`` or ``--baseurl URL``)."""
    words = line.strip().split(None, 1)
    if not words or words[0] != "repo":
        return []
    try:
        args = shlex.split(line, comments=True)
    except ValueError:
        return []  # pykickstart's validation reports the broken quoting
    urls = []
    for i, arg in enumerate(args):
        if arg.startswith("--baseurl="):
            urls.append(arg.removeprefix("--baseurl="))
        elif arg == "--baseurl" and i + 1 < len(args):
            urls.append(args[i + 1])
    return urls


def _repo_line_problems(ks_text: str, *, reader: TreeReader, tree: Path) -> list[tuple[int, str]]:
    problems = []
    for number, line in enumerate(ks_text.splitlines(), start=1):
        for url in _baseurls(line):
            if not url.startswith("file:"):
                continue
            rel = _media_relative("/" + url.removeprefix("file:").lstrip("/"))
            if rel is None:
                problems.append(
                    (
                        number,
                        f"repo {url} is not on the install media "
                        f"(expected a path under {' or '.join(MEDIA_MOUNT_POINTS[:2])})",
                    )
                )
            elif not reader.exists(f"{rel}/repodata/repomd.xml".lstrip("/")):
                problems.append(
                    (
                        number,
                        f"repo {url}: {rel or '.'}/repodata/repomd.xml does not exist in {tree}",
                    )
                )
    return problems


def _media_relative(path: str) -> str | None:
    for mount in MEDIA_MOUNT_POINTS:
        if path == mount or path.startswith(mount + "/"):
            return path[len(mount) :].strip("/")
    return None
