"""comps: the package groups of a yum repository (RHEL 6 format).

A group lists packages as mandatory, default, optional or conditional; a kickstart's
``@group`` selects mandatory + default members (see depsolve.py). A group marked
``<default>true</default>`` is one the installer selects on its own: anaconda 13's
``getDefaultGroups``, which ``%packages --default`` adds, with the groups whose
``<langonly>`` is one of the install language's forms.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass
from pathlib import Path

from buildiso.errors import InputError

_FIX = "fix the comps XML (or regenerate it with the repository's metadata)"


@dataclass(frozen=True)
class Group:
    """A comps group; RHEL 6 kickstarts select mandatory + default members by default."""

    id: str
    name: str
    mandatory: tuple[str, ...]
    default: tuple[str, ...]
    optional: tuple[str, ...]
    conditional: tuple[tuple[str, str], ...]  # (package, installed only if this is)
    is_default: bool = False  # <default>true</default>: selected by %packages --default
    langonly: str = ""  # <langonly>: --default selects it when the install language matches


def load_comps(path: Path | bytes, *, source: str = "") -> dict[str, Group]:
    """Parse a comps XML file (or its bytes) into groups by id."""
    where = source or str(path if isinstance(path, Path) else "comps")
    try:
        data = path.read_bytes() if isinstance(path, Path) else path
        root = ET.fromstring(data)
    except OSError as exc:
        raise InputError(f"{where}: cannot read comps ({exc.strerror})", hint=_FIX) from exc
    except ET.ParseError as exc:
        raise InputError(f"{where}: comps is not valid XML ({exc})", hint=_FIX) from exc
    groups: dict[str, Group] = {}
    for elem in root.findall("group"):
        gid = elem.findtext("id", "").strip()
        if not gid:
            raise InputError(f"{where}: a group has no <id>", hint=_FIX)
        members: dict[str, list[str]] = {"mandatory": [], "default": [], "optional": []}
        conditional: list[tuple[str, str]] = []
        for req in elem.iterfind("packagelist/packagereq"):
            kind = req.get("type", "mandatory")
            name = (req.text or "").strip()
            if kind == "conditional":
                conditional.append((name, req.get("requires", "")))
            elif kind in members:
                members[kind].append(name)
            else:
                raise InputError(
                    f"{where}: group {gid}: unknown packagereq type {kind!r}", hint=_FIX
                )
        groups[gid] = Group(
            id=gid,
            name=_untranslated(elem, "name") or gid,
            mandatory=tuple(members["mandatory"]),
            default=tuple(members["default"]),
            optional=tuple(members["optional"]),
            conditional=tuple(conditional),
            is_default=elem.findtext("default", "").strip().lower() == "true",
            langonly=elem.findtext("langonly", "").strip(),
        )
    return groups


def _untranslated(elem: ET.Element, tag: str) -> str:
    """The <name> without xml:lang (comps repeats it once per translation)."""
    for child in elem.findall(tag):
        if not child.attrib:
            return (child.text or "").strip()
    return ""
