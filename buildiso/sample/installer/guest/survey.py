"""``kstable.survey``: what the sample installer would do with each line of a kickstart,
without installing anything.

Three sources, one list of ``kstable.Finding`` in file order:

- RHEL 6's parser (``render/ks6reader``, pykickstart 1.74.22 as ``validate`` reads it): where
  anaconda 13 stops, a ``fails`` finding;
- the table (``kstable.COMMANDS``/``SECTIONS``) for every command, option and section word,
  and where this stage 2's pykickstart 3 refuses what RHEL 6 accepts, a ``refused`` finding
  (kickstart.py);
- the checks on values the install makes before it writes anything, run here on the parsed
  kickstart: a ``repo`` that is not ``file://``, a file system the sample cannot make,
  plain-text passwords with another hash than SHA-512, ``autopart`` beside partition lines.
  Each is the install's own check (the same function), so the survey cannot drift from it.

Left out because they depend on the machine, not the file: the disks (clearpart keeping
partitions, sizes), the network devices, and the files a ``%pre`` writes for ``%include``.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

from . import autopart, disk, kickstart, kstable, packages, storage, sysconfig
from .errors import UNSUPPORTED, InstallFailed
from .kstable import Finding, Verdict

# kstable.unsupported's message: "unsupported: WORDS at line N[ of FILE] (WHY)"
_UNSUPPORTED = re.compile(
    r"unsupported: (?P<words>.+?) at line (?P<line>\d+)(?: of (?P<file>\S+))? \((?P<why>.*)\)$",
    re.S,
)


def _refusal(check: Callable[[], object]) -> list[Finding]:
    """The install's own check on a value: its kickstart-unsupported refusal as a finding
    (other failures depend on the machine or the media and are not the survey's)."""
    try:
        check()
    except InstallFailed as exc:
        match = _UNSUPPORTED.match(exc.reason)
        if exc.klass == UNSUPPORTED and match:
            command, _, option = match["words"].partition(" ")
            return [Finding(int(match["line"]), command, option,
                            kstable.Rule(Verdict.REFUSED, match["why"]), match["file"] or "",
                            phase="check")]  # fmt: skip
    return []


def value_findings(handler: Any) -> list[Finding]:
    """The value checks an install makes before writing anything, on ``handler``."""
    found = _refusal(lambda: sysconfig.crypt_passwords(copy.deepcopy(handler)))
    for repo in handler.repo.repoList:
        found += _refusal(partial(packages.repo_path, repo))
    for part in handler.partition.partitions:
        found += _refusal(partial(disk.requests_from_ks, [part], uefi=False))
    for raid in handler.raid.raidList:
        if not str(raid.mountpoint).startswith("pv."):
            where = f"raid {raid.mountpoint} (line {raid.lineno})"
            found += _refusal(partial(storage.check_fstype, raid, where=where))
    for volume in handler.logvol.lvList:
        where = f"logvol {volume.mountpoint} (line {volume.lineno})"
        found += _refusal(partial(storage.check_fstype, volume, where=where))
    found += _refusal(lambda: autopart.check_alone(handler))
    return found


def survey(path: Path) -> list[Finding]:
    """Every command, option and section of the kickstart at ``path`` (and the files it
    %includes, when they exist) with its verdict, in file order."""
    findings, handler = kickstart.survey_parse(path)
    return sorted([*findings, *value_findings(handler)], key=lambda f: (f.file, f.line))


def first_stop(findings: list[Finding]) -> Finding | None:
    """Where an install of the surveyed kickstart stops: the first refused or failing
    finding of the first pass (the table, the sample's parser: before %pre), else of RHEL 6's
    parser (the full pass), else of the checks on values; None: carried out whole, as far as
    the file decides."""
    stops = [f for f in findings if f.rule.verdict in (Verdict.REFUSED, Verdict.FAILS)]
    for phase in ("parse", "rhel6", "check"):
        first = next((f for f in stops if f.phase == phase), None)
        if first is not None:
            return first
    return None
