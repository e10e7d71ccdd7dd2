"""libsolv does the solving: jobs in, the install set and libsolv's problems out.

depsolve.py (the kickstart layer) decides what is asked for and in which order; this
module hands that to libsolv, keeps going past problems (so every problem is reported at
once, and ``--allow-unresolved`` still gets a set), and says why each package is in: the
chain from what the kickstart asked for down to it.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

import solv

# Rule types that mean "a requirement cannot be met" and "two packages cannot coexist".
_REQUIRES = (solv.Solver.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP, solv.Solver.SOLVER_RULE_PKG_REQUIRES)
_CONFLICTS = (
    solv.Solver.SOLVER_RULE_PKG_CONFLICTS,
    solv.Solver.SOLVER_RULE_PKG_OBSOLETES,
    solv.Solver.SOLVER_RULE_PKG_IMPLICIT_OBSOLETES,
)
_MAX_ROUNDS = 50  # each round weakens at least one package; real media need 1-3


@dataclass(frozen=True)
class Request:
    """One thing the kickstart asks for: libsolv jobs, and the chain/line to report."""

    jobs: tuple[solv.Job, ...] = field(compare=False)
    name: str  # the package name that will stand for it in chains
    arch: str | None  # only for ``name.arch`` entries and --multilib
    chain: tuple[str, ...]
    line: int


@dataclass(frozen=True)
class Trouble:
    """One rule of a libsolv problem, and libsolv's proposed solutions for the problem."""

    kind: str  # "requires" | "conflicts" | "other"
    solvable: solv.XSolvable | None = field(compare=False)
    dep: str
    other: solv.XSolvable | None = field(compare=False)
    text: str  # libsolv's own words for the rule
    nothing_provides: bool  # no package at all provides ``dep`` (else: none can be installed)
    siblings: tuple[str, ...]  # libsolv's words for the problem's other rules
    solutions: tuple[str, ...]
    key: tuple[int, str, int]  # (solvable id, dep, other id): one report per rule


@dataclass
class Outcome:
    installed: list[solv.XSolvable]  # sorted by (name, arch)
    troubles: list[Trouble]
    why: dict[str, tuple[str, ...]]
    lines: dict[str, int]


def solve(
    pool: solv.Pool, requests: list[Request], *, disfavor: list[str], default_line: int
) -> Outcome:
    """Install ``requests`` over ``pool`` (nothing installed yet), avoiding ``disfavor``
    names when another provider will do. Packages whose dependencies cannot be met are
    installed with those dependencies broken (``SOLVER_WEAKENDEPS``), and every problem
    libsolv found on the way is returned."""
    jobs = [job for r in requests for job in r.jobs]
    for name in disfavor:
        jobs.append(
            pool.Job(solv.Job.SOLVER_SOLVABLE_NAME | solv.Job.SOLVER_DISFAVOR, pool.str2id(name))
        )
    troubles: dict[tuple[int, str, int], Trouble] = {}
    weakened: set[int] = set()
    # Conflicts cannot be weakened: the packages declaring them have their Conflicts set
    # aside while solving (restored after), and every conflict inside the resulting set
    # is reported, not just the first libsolv stops at.
    suspended: dict[int, list[solv.Dep]] = {}
    solutions: dict[int, tuple[str, ...]] = {}
    try:
        for _round in range(_MAX_ROUNDS):
            solver = pool.Solver()
            solver.set_flag(solv.Solver.SOLVER_FLAG_IGNORE_RECOMMENDED, 1)  # RHEL 6: none
            problems = solver.solve(jobs)
            if not problems:
                break
            weaken: set[int] = set()
            suspend: set[int] = set()
            for problem in problems:
                for trouble in _troubles(problem):
                    troubles.setdefault(trouble.key, trouble)
                    if trouble.solvable is None:
                        continue
                    solutions.setdefault(trouble.solvable.id, trouble.solutions)
                    if trouble.kind == "requires":
                        weaken.add(trouble.solvable.id)
                    elif trouble.kind == "conflicts" and trouble.dep:
                        suspend.add(trouble.solvable.id)
            weaken -= weakened
            suspend -= set(suspended)
            if not weaken and not suspend:  # nothing more to set aside: report what we have
                break
            weakened |= weaken
            jobs += [
                pool.Job(solv.Job.SOLVER_SOLVABLE | solv.Job.SOLVER_WEAKENDEPS, i)
                for i in sorted(weaken)
            ]
            for i in sorted(suspend):
                s = pool.id2solvable(i)
                suspended[i] = list(s.lookup_deparray(solv.SOLVABLE_CONFLICTS))
                s.unset(solv.SOLVABLE_CONFLICTS)
        installed = sorted(solver.transaction().newsolvables(), key=lambda s: (s.name, s.arch))
    finally:
        for i, deps in suspended.items():
            for dep in deps:
                pool.id2solvable(i).add_conflicts(dep)
    chosen = {s.id for s in installed}
    for i, deps in sorted(suspended.items()):
        if i not in chosen:
            continue
        s = pool.id2solvable(i)
        for dep in deps:
            for other in pool.whatprovides(dep):
                if other.id in chosen and other.name != s.name:
                    text = f"{s} conflicts with {dep} provided by {other}"
                    key = (i, str(dep), other.id)
                    troubles.setdefault(
                        key,
                        Trouble(
                            "conflicts", s, str(dep), other, text, False, (), solutions[i], key
                        ),
                    )
    why, lines = _chains(pool, requests, installed, default_line=default_line)
    return Outcome(installed=installed, troubles=list(troubles.values()), why=why, lines=lines)


def _troubles(problem: solv.Problem) -> list[Trouble]:
    infos = [rule.info() for rule in problem.findallproblemrules()]
    texts = tuple(str(info) for info in infos)
    solutions = tuple(
        " and ".join(str(element) for element in solution.elements(True))
        for solution in problem.solutions()
    )
    # A Requires whose provider fails for a reason of its own (nothing provides one of
    # *its* Requires) is not a problem of its own: the root cause is reported alone.
    root_causes = any(i.type == solv.Solver.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP for i in infos)
    found = []
    for info, text in zip(infos, texts, strict=True):
        if info.type == solv.Solver.SOLVER_RULE_PKG_REQUIRES and root_causes:
            kind = "other"
        elif info.type in _REQUIRES:
            kind = "requires"
        elif info.type in _CONFLICTS:
            kind = "conflicts"
        else:
            kind = "other"
        dep = str(info.dep) if info.dep is not None else ""
        solvable, other = info.solvable, info.othersolvable
        found.append(
            Trouble(
                kind=kind,
                solvable=solvable,
                dep=dep,
                other=other,
                text=text,
                nothing_provides=info.type == solv.Solver.SOLVER_RULE_PKG_NOTHING_PROVIDES_DEP,
                siblings=tuple(t for t in texts if t != text),
                solutions=solutions,
                key=(solvable.id if solvable else 0, dep or text, other.id if other else 0),
            )
        )
    return found


def _chains(
    pool: solv.Pool, requests: list[Request], installed: list[solv.XSolvable], *, default_line: int
) -> tuple[dict[str, tuple[str, ...]], dict[str, int]]:
    """Breadth first from what the kickstart asked for, over the Requires of the install
    set: each package's chain is the first way found to reach it (deterministic)."""
    chosen = {s.id: s for s in installed}
    by_name: dict[str, list[tuple[str, solv.XSolvable]]] = {}
    for s in installed:  # SWIG attribute reads are slow: read each name/arch once
        by_name.setdefault(s.name, []).append((s.arch, s))
    why: dict[str, tuple[str, ...]] = {}
    lines: dict[str, int] = {}
    queue: deque[solv.XSolvable] = deque()
    for request in requests:
        for arch, s in by_name.get(request.name, []):
            if request.arch in (None, arch) and request.name not in why:
                why[request.name], lines[request.name] = request.chain, request.line
                queue.append(s)
    seen = {s.id for s in queue}
    while queue:
        s = queue.popleft()
        for dep in s.lookup_deparray(solv.SOLVABLE_REQUIRES):
            providers = sorted(
                (p for p in pool.whatprovides(dep) if p.id in chosen and p.id not in seen),
                key=lambda p: (p.name, p.arch),
            )
            for p in providers:
                seen.add(p.id)
                if p.name not in why:
                    why[p.name], lines[p.name] = (*why[s.name], p.name), lines[s.name]
                queue.append(p)
    for s in installed:  # unreachable by Requires (libsolv had its reasons): stand alone
        why.setdefault(s.name, (s.name,))
        lines.setdefault(s.name, default_line)
    return why, lines
