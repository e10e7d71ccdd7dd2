"""The ``%packages`` section of a RHEL 6 kickstart, with line numbers for error messages.

pykickstart parses the same section for validation, but it forgets where each entry was;
the install-set checks (``validate --media``, ``build``) must name the line at fault.
"""

from __future__ import annotations

import enum
import shlex
from collections.abc import Callable
from dataclasses import dataclass

from buildiso.errors import InputError

DEFAULT_LANG = "en_US.UTF-8"  # anaconda 13's language when nothing sets one
# Headers that end a %packages section left open, for RHEL 6's parser (1.74.22 parser.py
# _stateMachine, STATE_PACKAGES)
_NEXT_SECTIONS = ("%pre", "%post", "%traceback")


class GroupLevel(enum.StrEnum):
    """Which members of a comps group ``@group`` selects (RHEL 6: default = mandatory+default)."""

    MANDATORY = "mandatory"  # @group --nodefaults
    DEFAULT = "default"  # @group
    ALL = "all"  # @group --optional


@dataclass(frozen=True)
class Entry:
    """One name in %packages and the kickstart line it came from (1-based)."""

    name: str
    line: int


@dataclass(frozen=True)
class GroupEntry:
    id: str
    line: int
    level: GroupLevel = GroupLevel.DEFAULT


@dataclass(frozen=True)
class PackageSelection:
    """What a kickstart's %packages asks for."""

    groups: tuple[GroupEntry, ...] = ()
    packages: tuple[Entry, ...] = ()
    excluded: tuple[Entry, ...] = ()
    excluded_groups: tuple[Entry, ...] = ()
    nobase: bool = False
    nocore: bool = False  # --nocore: no @core (anaconda 13 kickstart.py selectPackages)
    ignore_missing: bool = False
    multilib: bool = False  # --multilib: every compatible arch of each name (yum's "all")
    default: bool = False  # --default: the comps groups marked default, besides what is listed
    lang: str = DEFAULT_LANG  # the kickstart's ``lang``: which <langonly> groups --default adds
    line: int = 0  # where %packages starts (0: no %packages section)


def language_search_list(lang: str) -> tuple[str, ...]:
    """The languages a ``lang`` value stands for, as anaconda 13 expands it for comps'
    ``<langonly>``: ``de_DE.UTF-8@euro`` → de_DE.UTF-8@euro, de_DE, de@euro, de, C."""
    langs = [lang]
    if "." in lang:
        langs.append(lang.split(".")[0])
    if "_" in lang:
        base = lang.split("_")[0]
        if "@" in lang:
            langs.append(f"{base}@{lang.split('@')[1]}")
        langs.append(base)
    else:
        langs.append(lang[:2])
    return (*langs, "C")


def _install_language(lines: list[str]) -> str:
    """The top-level ``lang`` command's language (outside %pre/%post/%packages sections)."""
    in_section = False
    for line in lines:
        words = line.split("#", 1)[0].split()
        if not words:
            continue
        if words[0].startswith("%"):
            in_section = words[0] != "%end"
        elif not in_section and words[0] == "lang" and len(words) > 1:
            return words[1]
    return DEFAULT_LANG


def parse_packages(
    ks_text: str,
    *,
    filename: str = "ks.cfg",
    rhel6_ends: bool = False,
    include: Callable[[str], str | None] | None = None,
) -> PackageSelection:
    """Read the (first) %packages section of ``ks_text``.

    A missing ``%end`` or an unknown option → InputError naming FILE:LINE. With
    ``rhel6_ends`` the section may end as RHEL 6's parser lets it, without ``%end``: at the
    next section header or the end of the text (an installer reading a kickstart RHEL 6
    accepted). ``include`` reads the file of an ``%include`` line inside the section (None:
    not there); its entries carry the ``%include`` line's number.
    """
    lines = ks_text.splitlines()
    start = next(
        (i for i, line in enumerate(lines) if line.strip().split()[:1] == ["%packages"]), None
    )
    if start is None:
        return PackageSelection(lang=_install_language(lines))
    header = shlex.split(lines[start].strip(), comments=True)
    options = set(header[1:])
    unknown = options - {
        "--nobase",
        "--nocore",
        "--ignoremissing",
        "--excludedocs",
        "--default",
        "--resolvedeps",
    }
    unknown = {o for o in unknown if not o.startswith(("--instLangs", "--multilib"))}
    if unknown:
        raise InputError(
            f"{filename}:{start + 1}: unknown %packages option(s): {', '.join(sorted(unknown))}",
            hint="RHEL 6 knows --nobase, --nocore, --ignoremissing, --excludedocs, --default, "
            "--resolvedeps, --instLangs, --multilib",
        )
    groups: list[GroupEntry] = []
    packages: list[Entry] = []
    excluded: list[Entry] = []
    excluded_groups: list[Entry] = []

    def entry(text: str, lineno: int) -> None:
        words = text.split()
        item, flags = words[0], words[1:]
        if item.startswith("-@"):
            excluded_groups.append(Entry(item[2:], lineno))
        elif item.startswith("-"):
            excluded.append(Entry(item[1:], lineno))
        elif item.startswith("@"):
            level = GroupLevel.DEFAULT
            if "--optional" in flags:
                level = GroupLevel.ALL
            elif "--nodefaults" in flags:
                level = GroupLevel.MANDATORY
            groups.append(GroupEntry(item[1:], lineno, level))
        else:
            packages.append(Entry(item, lineno))

    for number in range(start + 1, len(lines)):
        text = lines[number].split("#", 1)[0].strip()
        lineno = number + 1
        if not text:
            continue
        if text.startswith("%"):
            first = text.split()[0]
            if first == "%end" or (rhel6_ends and first in _NEXT_SECTIONS):
                break
            words = text.split(None, 1)
            if first == "%include" and include is not None and len(words) == 2:
                included = include(words[1].strip())
                if included is None:
                    raise InputError(f"{filename}:{lineno}: %include {words[1]}: no such file",
                                     hint="the %pre must write it before the packages are read")
                for inner in included.splitlines():
                    inner = inner.split("#", 1)[0].strip()
                    if inner.startswith("%"):
                        raise InputError(f"{filename}:{lineno}: {inner.split()[0]} in the file "
                                         f"%include {words[1]} reads into %packages",
                                         hint="an included package list holds package lines")
                    if inner:
                        entry(inner, lineno)
                continue
            raise InputError(
                f"{filename}:{lineno}: {first} inside %packages",
                hint="close %packages with %end first",
            )
        entry(text, lineno)
    else:
        if not rhel6_ends:
            raise InputError(
                f"{filename}:{start + 1}: %packages is not closed with %end",
                hint="RHEL 6 kickstarts need %end after every section",
            )
    return PackageSelection(
        groups=tuple(groups),
        packages=tuple(packages),
        excluded=tuple(excluded),
        excluded_groups=tuple(excluded_groups),
        nobase="--nobase" in options,
        nocore="--nocore" in options,
        ignore_missing="--ignoremissing" in options,
        multilib=any(o == "--multilib" or o.startswith("--multilib=") for o in options),
        default="--default" in options,
        lang=_install_language(lines),
        line=start + 1,
    )
