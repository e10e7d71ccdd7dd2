"""Kickstart validation: RHEL 6's own parser and the product's rules, each problem labelled.

``check_kickstart`` returns every problem of a kickstart as ``Problem``
(``FILE:LINE: KIND: message``); ``validate_command`` is ``buildiso validate``.

Kinds (docs/design.md, validate):
- ``rhel6-syntax``: anaconda 13 refuses the kickstart here. ``ks6reader`` reads it as
  RHEL 6's pykickstart 1.74.22 does (not as modern pykickstart's RHEL6 handler, which is
  stricter: docs/anaconda13-parser.md lists every difference and its test);
- ``rhel6-warning``: 1.74.22 warns (a deprecated option, a section without ``%end`` at the
  end of the file); anaconda logs it and goes on;
- ``product-rule``: the product's own rules (``ksrules``), each with its reason;
- ``media``: ``--media``, what the install media cannot satisfy;
- ``input-limit``: past validate's own bounds (1 MiB, 1000 commands, 200 findings of
  RHEL 6's parser): not a kickstart, nothing after that point is checked.

``--rules rhel6`` checks only what anaconda 13 refuses: exit 0 when it accepts the file,
its warnings still printed. ``--rules product`` checks only the product's rules (and the
media). ``--rules all`` (the default) fails on any problem, warnings included: the
product's kickstarts are warning-free.

Input is bounded: a kickstart over 1 MiB is refused unread, and at most ``MAX_PROBLEMS``
problems are listed (the summary counts all of them).
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from buildiso.config import KsRules, Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.log import log, step
from buildiso.render.ks6reader import read_kickstart
from buildiso.render.ksrules import product_problems
from buildiso.render.profile import Profile, load_profile

# A real kickstart is a few KB: past this it is the wrong file (or an attack on memory).
MAX_KICKSTART_BYTES = 1024 * 1024
MAX_PROBLEMS = 50
# Past this many findings of RHEL 6's parser the file is junk: checking on only costs time.
MAX_FINDINGS = 4 * MAX_PROBLEMS


class Kind(enum.StrEnum):
    RHEL6_SYNTAX = "rhel6-syntax"
    RHEL6_WARNING = "rhel6-warning"
    PRODUCT = "product-rule"
    MEDIA = "media"
    LIMIT = "input-limit"  # past validate's own bounds: not a kickstart, nothing more checked


_ORDER = {kind: n for n, kind in enumerate(Kind)}


@dataclass(frozen=True)
class Problem:
    line: int
    message: str
    file: str = ""
    kind: Kind | None = Kind.PRODUCT  # None: a note about the list, not a problem

    def __str__(self) -> str:
        label = f"{self.kind}: " if self.kind is not None else ""
        return f"{self.file}:{self.line}: {label}{self.message}"

    def sort_key(self) -> tuple[int, int, str]:
        return (self.line, _ORDER.get(self.kind, 99) if self.kind else 99, self.message)


def check_kickstart(
    text: str, *, filename: str, profile: Profile, rules: KsRules = KsRules.ALL
) -> list[Problem]:
    """Every problem ``rules`` asks for in kickstart ``text``, by line (empty: valid)."""
    if len(text) > MAX_KICKSTART_BYTES:  # characters >= bytes / 4; cheap first gate
        return [Problem(1, _too_big(len(text.encode("utf-8"))), filename, Kind.LIMIT)]
    reading = read_kickstart(text, limit=MAX_FINDINGS)
    found: set[Problem] = set()
    if rules is not KsRules.PRODUCT:
        for finding in reading.findings:
            kind = Kind.RHEL6_WARNING if finding.warning else Kind.RHEL6_SYNTAX
            found.add(Problem(finding.line, finding.message, filename, kind))
    if reading.checked_until is not None:
        found.add(Problem(reading.checked_until, (
            f"{reading.unchecked_why} by this line: is this a kickstart? The commands after "
            "it and the product rules were not checked"
        ), filename, Kind.LIMIT))  # fmt: skip
        return sorted(found, key=Problem.sort_key)
    if rules is not KsRules.RHEL6:
        # a section left open at the end is already RHEL 6's warning on the same line
        warned = {s.line for s in reading.sections if s.end == "eof"}
        for line, message in product_problems(reading, text, profile):
            if rules is KsRules.ALL and line in warned and "is not closed with %end" in message:
                continue
            found.add(Problem(line, message, filename, Kind.PRODUCT))
        if rules is KsRules.PRODUCT and reading.stopped_at is not None:
            found.add(Problem(reading.stopped_at, (
                "RHEL 6's parser stops reading at this line (see --rules rhel6): the product "
                "rules saw only the lines before it"
            ), filename, Kind.PRODUCT))  # fmt: skip
    return sorted(found, key=Problem.sort_key)


def bounded(problems: list[Problem]) -> list[Problem]:
    """At most ``MAX_PROBLEMS``, then one note saying how many more there are."""
    if len(problems) <= MAX_PROBLEMS:
        return problems
    rest = len(problems) - MAX_PROBLEMS
    note = Problem(
        problems[MAX_PROBLEMS].line,
        f"... and {rest} more problem(s) from here on (the list stops at {MAX_PROBLEMS}: "
        "fix these first)",
        problems[MAX_PROBLEMS].file,
        None,
    )
    return problems[:MAX_PROBLEMS] + [note]


def validate_kickstart_text(
    text: str, *, filename: str, profile: Profile, rules: KsRules = KsRules.ALL
) -> list[Problem]:
    """``check_kickstart``, the list bounded to ``MAX_PROBLEMS`` (then one note)."""
    return bounded(check_kickstart(text, filename=filename, profile=profile, rules=rules))


def counts(kinds: list[Kind]) -> str:
    """'1 rhel6-syntax, 2 product-rule' (in the order of ``Kind``), or 'no problems'."""
    seen = Counter(kinds)
    return ", ".join(f"{seen[k]} {k}" for k in Kind if seen[k]) or "no problems"


def _too_big(size: int) -> str:
    return (
        f"{size} bytes is over the {MAX_KICKSTART_BYTES // 1024} KiB limit for a kickstart "
        "(a RHEL 6 kickstart is a few KB: is this the right file?)"
    )


def _read(ks_file: Path) -> str:
    try:
        with ks_file.open("rb") as handle:  # never more than the limit in memory
            data = handle.read(MAX_KICKSTART_BYTES + 1)
            if len(data) > MAX_KICKSTART_BYTES:
                size = ks_file.stat().st_size
                raise InputError(
                    f"{ks_file}: {_too_big(size)}", hint="pass the kickstart file itself"
                )
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{ks_file}: cannot read ({exc})", hint="a UTF-8 kickstart file") from None


class MediaCheck(Protocol):
    """What ``--media`` adds: "FILE:LINE: message" lines. The CLI passes the media
    check in (``master.mediacheck.media_problems``), so this stage imports no later one."""

    def __call__(self, ks_text: str, *, filename: str) -> list[str]: ...


def _media_line(line: str, filename: str) -> str:
    """Label a media problem: 'FILE:LINE: media: message' (or 'FILE: media: ...')."""
    prefix, sep, rest = line.partition(": ")
    if sep and prefix.startswith(filename):
        return f"{prefix}: {Kind.MEDIA}: {rest}"
    return f"{filename}: {Kind.MEDIA}: {line}"


def validate_command(
    ks_file: Path,
    media_check: MediaCheck | None,
    profile_path: Path,
    variant: Variant,
    rules: KsRules = KsRules.ALL,
) -> None:
    """``buildiso validate``: problems of ``rules`` at once (exit 2), or a one-line OK."""
    profile = load_profile(profile_path, variant)
    text = _read(ks_file)
    name = str(ks_file)
    problems = check_kickstart(text, filename=name, profile=profile, rules=rules)
    kinds = [p.kind for p in problems if p.kind is not None]
    lines = [str(p) for p in bounded(problems)]
    if media_check is not None and rules is not KsRules.RHEL6:
        media = [_media_line(line, name) for line in media_check(text, filename=name)]
        lines.extend(media)
        kinds.extend(Kind.MEDIA for _ in media)
    failing = [k for k in kinds if rules is not KsRules.RHEL6 or k is not Kind.RHEL6_WARNING]
    if failing:
        what = "RHEL 6 (anaconda 13) refuses it" if rules is KsRules.RHEL6 else "check failed"
        raise ValidationFailed(lines, what=f"{ks_file}: kickstart {what} ({counts(kinds)})")
    for line in lines:  # only RHEL 6's warnings get here: anaconda logs them and goes on
        log.warning(line)
    checked = {
        KsRules.RHEL6: "RHEL 6 (anaconda 13) accepts it",
        KsRules.PRODUCT: "product rules",
        KsRules.ALL: "RHEL 6's parser and product rules",
    }[rules]
    with_media = ", media" if media_check is not None and rules is not KsRules.RHEL6 else ""
    step(f"{ks_file}: OK ({checked}{with_media}; {counts(kinds)})")
