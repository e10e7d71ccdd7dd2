"""Kickstart validation: pykickstart's RHEL 6 handler plus the product's rules.

``validate_kickstart_text`` returns every problem at once as ``Problem`` (``FILE:LINE:
message``); ``validate_command`` is ``buildiso validate`` (exit 2 on any problem).

pykickstart's RHEL 6 handler is the syntax referee: anything anaconda 13 accepts passes it
(unknown commands and options, e.g. RHEL 7-only ones, and sections without ``%end`` fail),
and its warnings count as errors. On top of that only the product's own rules, each with
its reason from the installation guide (docs/product-facts.md). They are checked on the text
itself, so they can name lines pykickstart does not track:
- sections closed with ``%end``; no ``inst.*`` boot options (RHEL 6 ignores them);
- the profile's packages and groups in ``%packages``, its forbidden packages excluded
  (postfix, rsyslog and samba-common conflict with the gateway's own components);
- separate ``/`` and ``/var`` of at least the guide's minima, on a partition, a logical
  volume or a RAID device, also when a ``%pre`` writes them (``storage.py`` works out what
  each definition guarantees);
- ``reboot`` at the end (the guide's install ends with an automatic reboot); passwords
  only as SHA-512 crypt hashes (secrets never in plain text on the media);
- the gateway repository (``cs-repo``) configured;
- ``%include`` only of a file a ``%pre`` writes, under /tmp or on the install media: any
  other path is a file of the installer's own image, not part of this kickstart.
Input is bounded: a kickstart over 1 MiB is refused unread, and at most ``MAX_PROBLEMS``
problems are listed.
"""

from __future__ import annotations

import math
import posixpath
import re
import shlex
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso.config import Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.log import step
from buildiso.render.profile import ROOT_MIN_MB, TRACKING_FACTOR, VAR_MIN_MB, Profile, load_profile
from buildiso.render.storage import mounted_volumes, pre_written_paths

SECTIONS = ("%pre", "%post", "%packages", "%traceback")
# A real kickstart is a few KB; past this it is the wrong file (or an attack on memory).
MAX_KICKSTART_BYTES = 1024 * 1024
MAX_PROBLEMS = 50
# glibc SHA-512 crypt, with the optional "rounds=N$" (crypt(3)); salt up to 16 characters.
_SHA512_CRYPT = re.compile(r"\$6\$(?:rounds=[0-9]{1,9}\$)?[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}")
# Where RHEL 6's installer mounts the install media (cdrom:, hd: and ISO-on-disk methods).
MEDIA_MOUNTS = ("/mnt/source", "/mnt/isodir", "/mnt/stage2")
_INST_OPTION = re.compile(r"(?<![\w.])inst\.[a-z][a-z0-9_.]*")
_PYKS_LINE = re.compile(r"line (\d+)")


@dataclass(frozen=True, order=True)
class Problem:
    line: int
    message: str
    file: str = ""

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.message}"


@dataclass
class _Section:
    name: str
    args: list[str]
    header_line: int
    body: list[tuple[int, str]]  # (line number, text)
    closed: bool


@dataclass
class _Scan:
    commands: list[tuple[int, str]]  # command-section lines (number, text), no comments
    sections: list[_Section]


def _scan(text: str) -> _Scan:
    """Split the file into the command section and %sections, keeping line numbers."""
    commands: list[tuple[int, str]] = []
    sections: list[_Section] = []
    current: _Section | None = None
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        word = stripped.split(None, 1)[0] if stripped else ""
        if word in SECTIONS or (
            word.startswith("%") and word not in ("%end", "%include", "%ksappend")
        ):
            if current is not None:  # a new section starts before %end
                sections.append(current)
            try:
                args = shlex.split(stripped)
            except ValueError:
                args = stripped.split()
            current = _Section(word, args, number, [], closed=False)
            continue
        if word == "%end" and current is not None:
            current.closed = True
            sections.append(current)
            current = None
            continue
        if current is not None:
            current.body.append((number, line))
        elif stripped and not stripped.startswith("#"):
            commands.append((number, stripped))
    if current is not None:
        sections.append(current)
    return _Scan(commands, sections)


class _TooManyProblems(Exception):
    """Ends a pykickstart parse that has already found more problems than are listed."""


# --- pykickstart -------------------------------------------------------------------------
def _pykickstart_problems(text: str) -> tuple[Any, list[tuple[int, str]]]:
    """Parse with the RHEL 6 handler; (handler, [(line, message)]), warnings included."""
    from pykickstart.errors import KickstartError
    from pykickstart.parser import KickstartParser
    from pykickstart.version import RHEL6, makeVersion

    found: list[tuple[int, str]] = []

    class _CollectingParser(KickstartParser):  # type: ignore[misc]
        """Keeps going after an error and records every error and warning with its line."""

        current_line = 0

        def handleCommand(self, lineno: int, args: list[str]) -> Any:  # noqa: N802
            self.current_line = lineno
            return super().handleCommand(lineno, args)

        def _tryFunc(self, fn: Callable[[], object]) -> None:  # noqa: N802
            if len(found) > MAX_PROBLEMS:
                raise _TooManyProblems  # more would not be listed: stop parsing junk early
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                try:
                    fn()
                except KickstartError as exc:
                    found.append((exc.lineno or self.current_line, _one_line(exc.message)))
            for warning in caught:
                message = str(warning.message)
                match = _PYKS_LINE.search(message)
                line = int(match.group(1)) if match else self.current_line
                found.append((line, f"warning (treated as error): {_one_line(message)}"))

    handler = makeVersion(RHEL6)
    parser = _CollectingParser(handler, followIncludes=False, missingIncludeIsFatal=False)
    for section in parser._sections.values():  # remember the line of each section header
        section.handleHeader = _track_header(parser, section.handleHeader)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            parser.readKickstartFromString(text)
        except KickstartError as exc:  # e.g. a section without %end: parsing stops here
            found.append((exc.lineno or 0, _one_line(exc.message)))
        except _TooManyProblems:
            pass
    for warning in caught:
        message = str(warning.message)
        match = _PYKS_LINE.search(message)
        found.append(
            (int(match.group(1)) if match else parser.current_line,
             f"warning (treated as error): {_one_line(message)}")
        )  # fmt: skip
    return handler, found


def _track_header(parser: Any, original: Callable[..., Any]) -> Callable[..., Any]:
    def handle_header(lineno: int, args: list[str]) -> Any:
        parser.current_line = lineno
        return original(lineno, args)

    return handle_header


def _one_line(message: object) -> str:
    return " ".join(str(message).split())


# --- product rules -----------------------------------------------------------------------
def _section_rules(scan: _Scan) -> Iterator[tuple[int, str]]:
    for section in scan.sections:
        if not section.closed:
            yield section.header_line, f"section {section.name} is not closed with %end"


def _pre_bodies(scan: _Scan) -> list[list[tuple[int, str]]]:
    return [s.body for s in scan.sections if s.name == "%pre"]


def _include_rules(scan: _Scan) -> Iterator[tuple[int, str]]:
    """%include reads a file at install time: one a %pre wrote, or one on the media."""
    written = pre_written_paths(_pre_bodies(scan))
    for number, line in scan.commands:
        words = line.split()
        if words[0] not in ("%include", "%ksappend") or len(words) < 2:
            continue
        path = words[1]
        if not path.startswith("/"):
            continue  # a URL: pykickstart fetches it; nothing on this machine to protect
        norm = posixpath.normpath(path)
        if path in written or norm.startswith("/tmp/"):
            continue
        if any(norm.startswith(f"{m}/") for m in MEDIA_MOUNTS):
            continue
        yield (
            number,
            f"{words[0]} {path}: no %pre writes this file and it is not under /tmp or on the "
            f"install media ({', '.join(MEDIA_MOUNTS)}): it would read a file of the "
            "installer's own system into the kickstart",
        )


def _line_ending_rules(text: str) -> Iterator[tuple[int, str]]:
    """CR LF breaks the %pre/%post shells ("$'\\r': command not found") and option values."""
    crlf = [n for n, line in enumerate(text.split("\n"), start=1) if line.endswith("\r")]
    if crlf:
        yield (
            crlf[0],
            f"Windows line endings (CR LF) on {len(crlf)} line(s): RHEL 6's installer and "
            "its %pre/%post shells need LF (convert with dos2unix)",
        )


def _inst_rules(text: str) -> Iterator[tuple[int, str]]:
    for number, line in enumerate(text.splitlines(), start=1):
        if line.lstrip().startswith("#"):
            continue
        for match in _INST_OPTION.finditer(line):
            yield (
                number,
                (
                    f"{match.group(0)} is a RHEL 7+ boot option that RHEL 6 ignores "
                    "(use ks=, repo=, ...)"
                ),
            )


def _packages_rules(scan: _Scan, profile: Profile) -> Iterator[tuple[int, str]]:
    packages = [s for s in scan.sections if s.name == "%packages"]
    if not packages:
        last = max([n for n, _ in scan.commands] or [1])
        yield last, "no %packages section"
        return
    section = packages[0]
    included: dict[str, int] = {}
    excluded: dict[str, int] = {}
    groups: dict[str, int] = {}
    for number, line in section.body:
        item = line.strip()
        if not item or item.startswith("#"):
            continue
        if item.startswith("@"):
            groups.setdefault(item[1:].split()[0], number)
        elif item.startswith("-"):
            excluded.setdefault(item[1:], number)
        else:
            included.setdefault(item, number)
    where = section.header_line
    if "--nobase" not in section.args:
        yield where, "%packages without --nobase: the gateway needs a minimal RHEL install"
    for group in profile.packages.groups:
        if group not in groups:
            yield where, f"required group @{group} missing from %packages"
    for name in profile.packages.install:
        if name not in included:
            yield where, f"required package {name} missing from %packages"
    for name in profile.packages.remove:
        if name in included:
            yield (
                included[name],
                f"forbidden package {name} is installed (it conflicts with the gateway)",
            )
        if name not in excluded:
            yield where, f"forbidden package {name} is not excluded (add -{name} to %packages)"


def _partition_rules(scan: _Scan, profile: Profile) -> Iterator[tuple[int, str]]:
    """Separate / and /var of the guide's minima (docs/product-facts.md, "Disks and partitions")."""
    volumes = mounted_volumes(scan.commands, _pre_bodies(scan))
    var_min = VAR_MIN_MB[profile.variant]
    if profile.two_year_tracking:
        var_min = math.ceil(var_min * TRACKING_FACTOR)
    last = max([n for n, _ in scan.commands] or [1])
    variant = f"the {profile.variant.value} variant"
    for mount, minimum in (("/", ROOT_MIN_MB), ("/var", var_min)):
        found = [v for v in volumes if v.mount == mount]
        if not found:
            yield (
                last,
                f"no separate {mount} partition, logical volume or RAID device (the "
                "installation guide asks for separate / and /var)",
            )
        for volume in found:
            if volume.size_mb is None:
                yield (
                    volume.line,
                    f"{volume.describe()}: size unknown before install ({volume.unknown_why}), "
                    f"so the minimum of {minimum} MB for {variant} cannot be checked: "
                    "give it a --size of at least the minimum",
                )
            elif volume.size_mb < minimum:
                grows = (
                    " guaranteed (--grow adds only what the disk has left)" if volume.grows else ""
                )
                yield (
                    volume.line,
                    f"{volume.describe()} of {volume.size_mb} MB{grows} is too small for "
                    f"{variant} (minimum {minimum} MB)",
                )


def _password_rules(scan: _Scan) -> Iterator[tuple[int, str]]:
    for number, line in scan.commands:
        try:
            words = shlex.split(line)
        except ValueError:
            continue
        if words[0] not in ("rootpw", "user", "sshpw"):
            continue
        opts = [w for w in words[1:] if w.startswith("--")]
        values = [w for w in words[1:] if not w.startswith("--")]
        secret = next((w.split("=", 1)[1] for w in opts if w.startswith("--password=")), None)
        if words[0] in ("rootpw", "sshpw") and values:
            secret = values[-1]
        if secret is None:
            continue
        if "--iscrypted" not in opts or not _SHA512_CRYPT.fullmatch(secret):
            # never repeat the value: it may be a real password
            yield number, f"{words[0]}: password is not a SHA-512 crypt hash with --iscrypted"


_SCRIPT_PASSWORD = re.compile(r"passwd\b.*--stdin|chpasswd\b(?!.*\s-e\b)(?!.*--encrypted)")


def _script_password_rules(scan: _Scan) -> Iterator[tuple[int, str]]:
    """Scripts that set a password from plain text (passwd --stdin, chpasswd without -e)."""
    for section in scan.sections:
        if section.name not in ("%pre", "%post"):
            continue
        for number, line in section.body:
            if not line.lstrip().startswith("#") and _SCRIPT_PASSWORD.search(line):
                yield number, f"{section.name} sets a password from plain text (use a hash)"


def _ending_rules(scan: _Scan) -> Iterator[tuple[int, str]]:
    words = [(n, line.split(None, 1)[0]) for n, line in scan.commands]
    # docs/product-facts.md, "The unattended install": it ends with an automatic reboot.
    stops = [(n, w) for n, w in words if w in ("poweroff", "halt", "shutdown")]
    for number, word in stops:
        yield number, f"'{word}': the installation guide's install ends with an automatic reboot"
    if not stops and not any(w == "reboot" for _, w in words):
        last = max([n for n, _ in words] or [1])
        yield last, "no 'reboot' command: the install must end with an automatic reboot"
    repos = [(n, line) for n, line in scan.commands if line.split(None, 1)[0] == "repo"]
    if not any("/cs-repo" in line for _, line in repos):
        yield (
            (repos[0][0] if repos else 1),
            "no repo --baseurl=.../cs-repo: the gateway packages are not reachable",
        )


def validate_kickstart_text(text: str, *, filename: str, profile: Profile) -> list[Problem]:
    """Every problem of kickstart ``text``, sorted by line (empty list: valid).

    At most ``MAX_PROBLEMS`` are listed, then one line saying how many more there are.
    """
    if len(text) > MAX_KICKSTART_BYTES:  # characters >= bytes / 4; cheap first gate
        return [Problem(1, _too_big(len(text.encode("utf-8"))), filename)]
    scan = _scan(text)
    raw: list[tuple[int, str]] = []
    unclosed = any(not s.closed for s in scan.sections)
    _, pyks = _pykickstart_problems(text)
    for line, message in pyks:
        if unclosed and "does not end with %end" in message:
            continue  # reported more precisely at the section header by _section_rules
        raw.append((line, f"pykickstart RHEL6: {message}"))
    for rules in (
        _section_rules(scan),
        _include_rules(scan),
        _line_ending_rules(text),
        _inst_rules(text),
        _packages_rules(scan, profile),
        _partition_rules(scan, profile),
        _password_rules(scan),
        _script_password_rules(scan),
        _ending_rules(scan),
    ):
        raw.extend(rules)
    problems = sorted({Problem(line, message, filename) for line, message in raw})
    if len(problems) > MAX_PROBLEMS:
        rest = len(problems) - MAX_PROBLEMS
        problems = problems[:MAX_PROBLEMS] + [
            Problem(
                problems[MAX_PROBLEMS].line,
                f"... and {rest} more problem(s) from here on (the list stops at "
                f"{MAX_PROBLEMS}: fix these first)",
                filename,
            )
        ]
    return problems


def _too_big(size: int) -> str:
    return (
        f"{size} bytes is over the {MAX_KICKSTART_BYTES // 1024} KiB limit for a kickstart "
        "(a RHEL 6 kickstart is a few KB: is this the right file?)"
    )


def validate_command(
    ks_file: Path,
    media: Path | None,
    profile_path: Path,
    variant: Variant,
    media_check: Callable[..., list[str]] | None = None,
) -> None:
    """``buildiso validate``: all problems at once (exit 2), or a one-line OK. ``media`` is
    checked by ``media_check`` (cli passes master.mediacheck's: render imports no later stage)."""
    profile = load_profile(profile_path, variant)
    try:
        with ks_file.open("rb") as handle:  # never more than the limit in memory
            data = handle.read(MAX_KICKSTART_BYTES + 1)
            if len(data) > MAX_KICKSTART_BYTES:
                size = ks_file.stat().st_size
                raise InputError(
                    f"{ks_file}: {_too_big(size)}", hint="pass the kickstart file itself"
                )
        text = data.decode("utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{ks_file}: cannot read ({exc})", hint="a UTF-8 kickstart file") from None
    problems = [
        str(p) for p in validate_kickstart_text(text, filename=str(ks_file), profile=profile)
    ]
    if media is not None:
        assert media_check is not None, "validate_command: media without media_check"
        problems.extend(media_check(text, filename=str(ks_file), tree=media))
    if problems:
        raise ValidationFailed(problems, what=f"{ks_file}: kickstart check failed")
    step(f"{ks_file}: OK (pykickstart RHEL6 and product rules{', media' if media else ''})")
