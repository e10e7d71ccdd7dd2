"""The install set: what a kickstart's %packages installs from the media, as yum would.

The kickstart layer is ours, RHEL 6 semantics: ``@core`` always, ``@base`` unless
``--nobase``, ``--default`` adds the groups comps marks default; a group selects its
mandatory and default members (``--optional`` adds optional ones, ``--nodefaults`` drops
the defaults, conditional members come with the package they name); ``-name`` removes a
package from the selection (a dependency can still pull it back, as with anaconda:
reported); a name another package obsoletes installs the obsoleter, as yum does;
``--multilib`` asks for every compatible architecture of each name (yum's
``multilib_policy=all``), otherwise x86_64 wins over i686 (``best``).

The solving is libsolv's (solver.py) over base + ``cs-repo`` in one pool (repo.py).
Problems are collected, never raised one at a time, each with the chain that led to it,
the kickstart line it started from and libsolv's proposed solutions.
"""

from __future__ import annotations

import fnmatch
import importlib.metadata
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import solv

from buildiso.compose.kspackages import GroupLevel, PackageSelection, language_search_list
from buildiso.compose.repo import Group, MediaRepos, RepoPackage, repo_package
from buildiso.compose.solver import Outcome, Request, Trouble, solve

BASE_ARCHES = ("x86_64", "noarch")


def _solver_name() -> str:
    """libsolv and its version, for the manifest (the Python binding's distribution)."""
    try:
        return f"libsolv {importlib.metadata.version('solv')} (python solv binding)"
    except importlib.metadata.PackageNotFoundError:  # a distribution package (python3-solv)
        return "libsolv (distribution python3-solv)"


SOLVER = _solver_name()


@dataclass(frozen=True)
class Unresolved:
    """A Requires nothing in the media satisfies, and who needed it."""

    requirement: str
    chain: tuple[str, ...]  # from what the kickstart asked for down to the needing package
    reason: str
    line: int
    solutions: tuple[str, ...] = field(default=(), compare=False)  # libsolv's proposals

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
    solutions: tuple[str, ...] = field(default=(), compare=False)  # libsolv's proposals

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
    lines: dict[str, int] = field(default_factory=dict, compare=False)  # name → ks.cfg line
    unresolved: tuple[Unresolved, ...] = ()
    conflicts: tuple[Conflict, ...] = ()
    missing: tuple[Missing, ...] = ()
    pulled_back: tuple[PulledBack, ...] = ()
    solver: str = SOLVER

    @property
    def ok(self) -> bool:
        return not (self.unresolved or self.conflicts or self.missing or self.pulled_back)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(p.name for p in self.packages)

    def numbered_problems(self) -> list[tuple[int, str]]:
        """Every problem as (kickstart line, message), in line order."""
        found: list[tuple[int, str]] = [(m.line, str(m)) for m in self.missing]
        found += [
            (u.line, f"unresolved dependency: {u}{_proposals(u.solutions)}")
            for u in self.unresolved
        ]
        found += [(c.line, f"{c}{_proposals(c.solutions)}") for c in self.conflicts]
        found += [(p.line, str(p)) for p in self.pulled_back]
        return sorted(found, key=lambda f: f[0])

    def problems(self, *, filename: str) -> list[str]:
        """Every problem as ``FILE:LINE: message``, in kickstart line order."""
        return [f"{filename}:{line}: {text}" for line, text in self.numbered_problems()]


def _proposals(solutions: tuple[str, ...]) -> str:
    return f" [libsolv proposes: {' | '.join(solutions)}]" if solutions else ""


def _how(chain: tuple[str, ...]) -> str:
    if len(chain) <= 1:
        return "listed in %packages"
    return "pulled by " + " → ".join(chain[:-1])


def resolve_install_set(*, ks_packages: PackageSelection, media: MediaRepos) -> Closure:
    """Resolve ``ks_packages`` against ``media``: selection, then libsolv's closure."""
    sel = ks_packages
    pool = media.pool
    names = _installable_names(pool)

    def is_excluded(name: str) -> int | None:
        return next((e.line for e in sel.excluded if fnmatch.fnmatchcase(name, e.name)), None)

    groups, missing = _selected_groups(sel, media)
    requests: list[Request] = []

    def want(name: str, chain: tuple[str, ...], line: int) -> None:
        if is_excluded(name) is None:
            requests.extend(_name_requests(pool, name, chain, line, multilib=sel.multilib))

    for group, line, level in groups:
        members = list(group.mandatory)
        if level is not GroupLevel.MANDATORY:
            members += group.default
        if level is GroupLevel.ALL:
            members += group.optional
        for name in members:
            if name in names:  # yum skips group members the repos do not carry; so do we
                want(name, (f"@{group.id}", name), line)
    for entry in sel.packages:
        matched = sorted(n for n in names if fnmatch.fnmatchcase(n, entry.name))
        if matched:
            for name in matched:
                want(name, (name,), entry.line)
            continue
        arch_request = _name_arch_request(pool, entry.name, entry.line)
        if arch_request is not None:  # "glibc.i686": that architecture
            if is_excluded(arch_request.name) is None:
                requests.append(arch_request)
        elif not sel.ignore_missing:
            missing.append(Missing(entry.name, "package", entry.line))

    disfavor = sorted(n for n in names if is_excluded(n) is not None)
    outcome = solve(pool, requests, disfavor=disfavor, default_line=sel.line)
    # Conditional group members come in when the package they depend on is installed.
    installed = {s.name for s in outcome.installed}
    extra = [
        (name, (f"@{group.id}", name), outcome.lines[needs])
        for group, _line, _level in groups
        for name, needs in group.conditional
        if needs in installed and name in names and name not in installed
    ]
    if extra:
        for name, chain, line in extra:
            want(name, chain, line)
        outcome = solve(pool, requests, disfavor=disfavor, default_line=sel.line)
    return _closure(pool, outcome, missing, is_excluded)


def _closure(
    pool: solv.Pool,
    outcome: Outcome,
    missing: list[Missing],
    is_excluded: Callable[[str], int | None],
) -> Closure:
    why, lines = outcome.why, outcome.lines
    unresolved: list[Unresolved] = []
    conflicts: list[Conflict] = []
    for trouble in outcome.troubles:
        s = trouble.solvable
        if trouble.kind == "requires" and s is not None:
            unresolved.append(
                Unresolved(
                    trouble.dep,
                    why.get(s.name, (s.name,)),
                    _reason(pool, trouble),
                    lines.get(s.name, 0),
                    trouble.solutions,
                )
            )
        elif trouble.kind == "conflicts" and s is not None and trouble.other is not None:
            other = trouble.other
            relation = trouble.dep or f"{other.name} (obsoletes)"
            conflicts.append(
                Conflict(s.name, relation, other.name, why.get(other.name, (other.name,)),
                         lines.get(other.name, 0), trouble.solutions)
            )  # fmt: skip
    pulled_back = [
        PulledBack(name, why[name], exclusion)
        for name in sorted({s.name for s in outcome.installed})
        if (exclusion := is_excluded(name)) is not None
    ]
    return Closure(
        packages=tuple(repo_package(s) for s in outcome.installed),
        why=dict(why),
        lines=dict(lines),
        unresolved=tuple(sorted(unresolved, key=lambda u: (u.line, u.chain, u.requirement))),
        conflicts=tuple(sorted(conflicts, key=lambda c: (c.package, c.relation))),
        missing=tuple(sorted(missing, key=lambda m: m.line)),
        pulled_back=tuple(pulled_back),
    )


def _reason(pool: solv.Pool, trouble: Trouble) -> str:
    """Why a Requires fails, in the words depsolve has always used (+ libsolv's)."""
    name = trouble.dep.split(" ", 1)[0]
    providers = sorted({repo_package(p).nevra for p in pool.whatprovides(pool.Dep(name))})
    if trouble.nothing_provides:
        if providers and name != trouble.dep:
            return f"only {', '.join(providers)} provides that name, in another version"
        return "nothing provides it"
    blocked = "; ".join(trouble.siblings)
    if providers:
        return f"only {', '.join(providers)} provides it, and {blocked or 'it cannot be installed'}"
    return blocked or trouble.text


def _installable_names(pool: solv.Pool) -> set[str]:
    return {s.name for s in pool.solvables_iter() if s.installable()}


def _best(candidates: list[solv.XSolvable]) -> solv.XSolvable:
    """yum's pick among packages of one name: base arch first, then the newest."""
    top = min(0 if s.arch in BASE_ARCHES else 1 for s in candidates)
    best = [s for s in candidates if (0 if s.arch in BASE_ARCHES else 1) == top]
    winner = best[0]
    for s in best[1:]:
        if s.evrcmp(winner) > 0:
            winner = s
    return winner


def _obsoleter(pool: solv.Pool, s: solv.XSolvable) -> solv.XSolvable | None:
    own = pool.Dep(s.name).Rel(solv.REL_EQ, pool.Dep(s.evr))
    others = [o for o in pool.whatmatchesdep(solv.SOLVABLE_OBSOLETES, own) if o.name != s.name]
    return _best(others) if others else None


def _name_requests(
    pool: solv.Pool, name: str, chain: tuple[str, ...], line: int, *, multilib: bool
) -> list[Request]:
    """What yum installs for a bare name: its obsoleter (followed to the end) or the name."""
    candidates = [
        s for s in pool.whatprovides(pool.Dep(name)) if s.name == name and s.installable()
    ]
    seen = {name}
    while candidates and (new := _obsoleter(pool, _best(candidates))) is not None:
        if new.name in seen:  # two packages obsoleting each other: keep what was asked
            break
        seen.add(new.name)
        name, chain = new.name, (*chain, new.name)
        candidates = [
            s for s in pool.whatprovides(pool.Dep(name)) if s.name == name and s.installable()
        ]
    if not multilib:
        sel = pool.select(name, solv.Selection.SELECTION_NAME)
        return [Request(tuple(sel.jobs(solv.Job.SOLVER_INSTALL)), name, None, chain, line)]
    arches = sorted({s.arch for s in candidates})
    return [
        Request(tuple(_arch_selection(pool, name, arch).jobs(solv.Job.SOLVER_INSTALL)),
                name, arch, chain, line)
        for arch in arches
    ]  # fmt: skip


def _arch_selection(pool: solv.Pool, name: str, arch: str) -> solv.Selection:
    return pool.select(
        f"{name}.{arch}", solv.Selection.SELECTION_NAME | solv.Selection.SELECTION_DOTARCH
    )


def _name_arch_request(pool: solv.Pool, text: str, line: int) -> Request | None:
    name, _, arch = text.rpartition(".")
    if not name:
        return None
    sel = _arch_selection(pool, name, arch)
    if sel.isempty():
        return None
    new = _obsoleter(pool, _best(sel.solvables()))
    if new is not None:  # as for a bare name: the obsoleter is what yum installs
        sel = _arch_selection(pool, new.name, new.arch)
        return Request(tuple(sel.jobs(solv.Job.SOLVER_INSTALL)), new.name, new.arch,
                       (name, new.name), line)  # fmt: skip
    return Request(tuple(sel.jobs(solv.Job.SOLVER_INSTALL)), name, arch, (name,), line)


def _selected_groups(
    sel: PackageSelection, media: MediaRepos
) -> tuple[list[tuple[Group, int, GroupLevel]], list[Missing]]:
    """The comps groups to install (with their %packages line and level) and those missing.

    Like yum, ``@name`` matches a group's id or its name, ignoring case. ``--default`` adds
    every group comps marks default at default level, and those whose ``<langonly>`` is the
    kickstart's ``lang`` (in any of its forms), as anaconda 13 does before it reads the
    listed entries (its ``setGroupSelection``).
    """
    lookup: dict[str, Group] = {}
    for each in media.groups.values():
        lookup.setdefault(each.name.lower(), each)
    for each in media.groups.values():
        lookup[each.id.lower()] = each  # ids win over names
    excluded = {lookup[e.name.lower()].id for e in sel.excluded_groups if e.name.lower() in lookup}
    implicit = ([] if sel.nocore else [("core", sel.line)]) + (
        [] if sel.nobase else [("base", sel.line)])
    if sel.default:
        langs = language_search_list(sel.lang)
        implicit += sorted(
            (g.id, sel.line) for g in media.groups.values() if g.is_default or g.langonly in langs
        )
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
