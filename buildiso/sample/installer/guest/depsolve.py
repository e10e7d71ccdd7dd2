"""The install set: %packages (groups, names, exclusions) → full dependency closure.

Like yum in anaconda: every requirement is satisfied from the repositories (newest
version first, x86_64/noarch); what cannot be satisfied stops the install naming the
package. Conflicts are left to rpm's own transaction check, which runs for real.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .errors import InstallFailed
from .repodata import Dep, Group, Package, find_group

ARCHES = ("x86_64", "noarch", "i686", "i386")

_SEGMENT = re.compile(r"(\d+|[a-zA-Z]+|~)")


def rpmvercmp(a: str, b: str) -> int:
    """RPM's version segment comparison: -1, 0 or 1."""
    if a == b:
        return 0
    sa, sb = _SEGMENT.findall(a), _SEGMENT.findall(b)
    for x, y in zip(sa, sb, strict=False):
        if x == "~" or y == "~":
            if x != y:
                return -1 if x == "~" else 1
            continue
        if x.isdigit() and y.isdigit():
            xi, yi = int(x), int(y)
            if xi != yi:
                return -1 if xi < yi else 1
        elif x.isdigit():
            return 1  # numbers are newer than letters
        elif y.isdigit():
            return -1
        elif x != y:
            return -1 if x < y else 1
    if len(sa) == len(sb):
        return 0
    longer = sa if len(sa) > len(sb) else sb
    rest = longer[min(len(sa), len(sb))]
    if rest == "~":
        return -1 if longer is sa else 1
    return 1 if longer is sa else -1


def evr_compare(a: tuple[str, str, str | None], b: tuple[str, str, str | None]) -> int:
    """Compare (epoch, version, release); a release of None matches any release."""
    epoch = (int(a[0] or 0) > int(b[0] or 0)) - (int(a[0] or 0) < int(b[0] or 0))
    if epoch:
        return epoch
    ver = rpmvercmp(a[1], b[1])
    if ver or a[2] is None or b[2] is None:
        return ver
    return rpmvercmp(a[2], b[2])


def _range_holds(cmp: int, flags: str) -> bool:
    return {
        "EQ": cmp == 0,
        "LT": cmp < 0,
        "LE": cmp <= 0,
        "GT": cmp > 0,
        "GE": cmp >= 0,
    }.get(flags, False)


def provides_match(provide: Dep, require: Dep) -> bool:
    """Does ``provide`` satisfy ``require`` (same name, overlapping version ranges)?"""
    if provide.name != require.name:
        return False
    if require.flags is None or require.ver is None:
        return True
    if provide.flags is None or provide.ver is None:
        return True  # an unversioned provide satisfies any version (rpm's rule)
    if provide.flags != "EQ":
        return True  # range against range: accepted, rpm will check for real
    cmp = evr_compare(
        (provide.epoch, provide.ver, provide.rel), (require.epoch, require.ver, require.rel)
    )
    return _range_holds(cmp, require.flags)


def satisfies(package: Package, require: Dep) -> bool:
    if require.name.startswith("/"):
        return require.name in package.files or any(
            p.name == require.name for p in package.provides
        )
    if package.name == require.name and require.flags is None:
        return True
    self_provide = Dep(package.name, "EQ", package.epoch, package.ver, package.rel)
    return any(provides_match(p, require) for p in [self_provide, *package.provides])


def _newest_first(packages: Iterable[Package]) -> list[Package]:
    import functools

    def key(a: Package, b: Package) -> int:
        return evr_compare((a.epoch, a.ver, a.rel), (b.epoch, b.ver, b.rel))

    ordered = sorted(packages, key=lambda p: (p.name, ARCHES.index(p.arch)))
    return sorted(ordered, key=functools.cmp_to_key(key), reverse=True)


@dataclass
class Request:
    """What %packages asks for."""

    groups: list[str]
    names: list[str]
    excluded: list[str]
    add_base: bool = True


def requested_names(request: Request, groups: dict[str, Group]) -> list[str]:
    """Package names from groups (mandatory + default) and names, minus exclusions."""
    wanted_groups = ["core"]
    if request.add_base:
        wanted_groups.append("base")
    wanted_groups += request.groups
    names: list[str] = []
    for group_name in wanted_groups:
        group = find_group(groups, group_name)
        if group is None:
            if group_name in request.groups:
                raise InstallFailed(
                    "packages", f"group @{group_name} is not in the installation media's comps"
                )
            continue  # core/base missing from a small repository: nothing implicit to add
        names += [*group.mandatory, *group.default]
    names += request.names
    excluded = set(request.excluded)
    result: list[str] = []
    for name in names:
        if name not in excluded and name not in result:
            result.append(name)
    return result


def resolve(names: list[str], packages: list[Package]) -> list[Package]:
    """The closure of ``names`` over ``packages``; one version per name (the newest)."""
    usable = [p for p in packages if p.arch in ARCHES]
    by_name: dict[str, list[Package]] = {}
    for package in _newest_first(usable):
        by_name.setdefault(package.name, []).append(package)
    chosen: dict[str, Package] = {}
    queue: list[tuple[Package, str]] = []
    for name in names:
        candidates = by_name.get(name)
        if not candidates:
            raise InstallFailed("packages", f"package {name} is not in any repository")
        if name not in chosen:
            chosen[name] = candidates[0]
            queue.append((candidates[0], "%packages"))
    while queue:
        package, _why = queue.pop(0)
        for require in package.requires:
            if require.name.startswith("rpmlib("):
                continue  # rpm's own features, checked by rpm itself
            if any(satisfies(c, require) for c in chosen.values()):
                continue
            providers = [p for p in _newest_first(usable) if satisfies(p, require)]
            providers = [p for p in providers if p.name not in chosen]
            if not providers:
                wanted = require.name + (
                    f" {require.flags} {require.ver}" if require.flags and require.ver else ""
                )
                raise InstallFailed(
                    "packages",
                    f"{package.nvra} requires {wanted}, which no repository provides",
                )
            pick = providers[0]
            chosen[pick.name] = pick
            queue.append((pick, package.name))
    return sorted(chosen.values(), key=lambda p: p.name)
