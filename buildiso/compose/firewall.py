"""The kickstart's ``firewall`` command needs ``/usr/sbin/lokkit`` in the install set.

anaconda 13 opens the firewall by running the installed system's lokkit (firewall.py
``Firewall.write()``); when the install set has no lokkit it only logs an error and the
ports stay closed (docs/anaconda13-firewall.md). The build and ``validate --media`` refuse
such a kickstart instead: an enabled ``firewall`` command and no package of the install set
that owns the file (from the media's primary and filelists metadata).
``firewall --disabled`` is not refused: without lokkit the result is what it asks for.
"""

from __future__ import annotations

import fnmatch
import shlex
from collections.abc import Sequence

import solv

from buildiso.compose.kspackages import Entry
from buildiso.compose.repo import MediaRepos, RepoPackage
from buildiso.render.templates import LOKKIT, LOKKIT_PACKAGE

# Where a RHEL 6 kickstart's command lines stop: sections (pykickstart 1.74's headers).
SECTIONS = ("%pre", "%post", "%packages", "%traceback")


def enabled_firewall_line(ks_text: str) -> int | None:
    """The line of the kickstart's ``firewall`` command when it leaves the firewall enabled
    (the last one counts, as in pykickstart), else None."""
    found: int | None = None
    in_section = False
    for number, line in enumerate(ks_text.splitlines(), start=1):
        words = line.split()
        if not words or words[0].startswith("#"):
            continue
        if words[0] in SECTIONS:
            in_section = True
        elif words[0] == "%end":
            in_section = False
        elif not in_section and words[0] == "firewall":
            try:
                args = shlex.split(line, comments=True)
            except ValueError:
                args = words  # pykickstart's own validation reports the quoting
            enabled = True  # --enabled is the default; the last of the two wins
            for arg in args[1:]:
                if arg in ("--enabled", "--enable", "--disabled", "--disable"):
                    enabled = arg.startswith("--enable")
            found = number if enabled else None
    return found


def lokkit_problems(
    ks_text: str,
    *,
    installed: Sequence[RepoPackage],
    media: MediaRepos,
    excluded_entries: Sequence[Entry] = (),
) -> list[tuple[int, str]]:
    """(kickstart line, message) when the firewall needs lokkit and the install set lacks it;
    ``excluded_entries``: the %packages exclusions, to say when one of them is the cause."""
    line = enabled_firewall_line(ks_text)
    if line is None or any(LOKKIT in p.files for p in installed):
        return []
    providers = sorted({s.name for s in media.pool.select(
        LOKKIT, solv.Selection.SELECTION_FILELIST).solvables()})  # fmt: skip
    package = providers[0] if providers else LOKKIT_PACKAGE
    excluded = next((e.line for e in excluded_entries if fnmatch.fnmatchcase(package, e.name)),
                    None)  # fmt: skip
    if excluded is not None:
        what = f"%packages must not exclude {package} (line {excluded})"
    else:
        what = f"add {package} to %packages"
        if not providers:
            what += f" ({package} is not on the media either)"
    return [(line, f"firewall needs {LOKKIT} on the installed system (anaconda runs it to open "
             f"the ports) and no package of the install set provides it: {what}")]  # fmt: skip
