"""The ``%packages`` section of a RHEL 6 kickstart, with line numbers for error messages.

pykickstart parses the same section for validation, but it forgets where each entry was;
the install-set checks (``validate --media``, ``build``) must name the line at fault.
"""

from __future__ import annotations

import enum
import shlex
from dataclasses import dataclass

from buildiso.errors import InputError

DEFAULT_LANG = "en_US.UTF-8"  # anaconda 13's language when nothing sets one


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


def parse_packages(ks_text: str, *, filename: str = "ks.cfg") -> PackageSelection:
    """Read the (first) %packages section of ``ks_text``.

    A missing ``%end`` or an unknown option → InputError naming FILE:LINE.
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
        "--ignoremissing",
        "--excludedocs",
        "--default",
        "--resolvedeps",
    }
    unknown = {o for o in unknown if not o.startswith(("--instLangs", "--multilib"))}
    if unknown:
        raise InputError(
            f"{filename}:{start + 1}: unknown %packages option(s): {', '.join(sorted(unknown))}",
            hint="RHEL 6 knows --nobase, --ignoremissing, --excludedocs, --default, "
            "--resolvedeps, --instLangs, --multilib",
        )
    groups: list[GroupEntry] = []
    packages: list[Entry] = []
    excluded: list[Entry] = []
    excluded_groups: list[Entry] = []
    for number in range(start + 1, len(lines)):
        text = lines[number].split("#", 1)[0].strip()
        lineno = number + 1
        if not text:
            continue
        if text.startswith("%"):
            if text.split()[0] == "%end":
                break
            raise InputError(
                f"{filename}:{lineno}: {text.split()[0]} inside %packages",
                hint="close %packages with %end first",
            )
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
    else:
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
        ignore_missing="--ignoremissing" in options,
        multilib=any(o == "--multilib" or o.startswith("--multilib=") for o in options),
        default="--default" in options,
        lang=_install_language(lines),
        line=start + 1,
    )
