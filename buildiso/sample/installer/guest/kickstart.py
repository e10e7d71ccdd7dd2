"""Reading the kickstart with pykickstart's RHEL6 handler, as anaconda (RHEL 6) did.

Two passes like anaconda: a first one that tolerates missing %include files (they are
often written by %pre), then, after %pre ran, the full parse. RHEL 6's own verdict comes
first: buildiso's reading of pykickstart 1.74.22 (``render/ks6reader``, the one ``validate
--rules rhel6`` uses, docs/anaconda13-parser.md) finds what anaconda 13's parser refuses,
and the install fails there as anaconda would (class ``kickstart``). Then every command,
option and section goes through the table in kstable.py: what the sample cannot carry out
stops the install with its line number (never a silent skip), what anaconda 13 itself
refuses fails as it would. Where this stage 2's pykickstart 3 still refuses what 1.74.22
accepts, the install stops as ``kickstart-unsupported`` (the sample's limit, never called
anaconda's). pykickstart 3 is shown RHEL 6's reading where they differ: a section may end
without ``%end`` (at the next header or the end of the file; 1.74.22 warns), the options
only 1.74.22 knows are taken off the line and kept on the parsed objects, ``firewall
--telnet`` adds the service telnet as in 1.74.22, and ``%packages --nocore`` is kept.

The handler returned carries extra attributes: ``sample_findings`` (every verdict,
kstable.Finding), ``sample_stop`` (the last of reboot/poweroff/halt/shutdown, or "") and,
on network data objects, ``sample_domain``/``sample_ipv6gateway``; ``sample_disabled`` on
the bootloader command; ``sample_nocore`` on the packages.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pykickstart.constants import KS_SCRIPT_POST, KS_SCRIPT_PRE
from pykickstart.errors import KickstartError
from pykickstart.parser import KickstartParser
from pykickstart.version import F7, RHEL6, makeVersion

from buildiso.render.ks6reader import read_kickstart

from . import kstable
from .errors import UNSUPPORTED, InstallFailed
from .kstable import Finding

STOP_COMMANDS = ("reboot", "poweroff", "halt", "shutdown")
_KSAPPEND = re.compile(r"^\s*%ksappend\b")
RHEL6_NOTE = "RHEL 6's parser (pykickstart 1.74.22): "  # how its findings' notes start
# pykickstart 1.74.22 F10_Firewall: these flags (and --service values) add services in order
_SERVICE_FLAGS = ("--ftp", "--http", "--smtp", "--ssh", "--telnet")


@dataclass(frozen=True)
class Rhel6Error:
    """Where RHEL 6's parser (1.74.22, as ``ks6reader`` reads it) refuses the kickstart."""

    line: int
    message: str
    file: str = ""  # an %include'd file; "" for the kickstart itself

    @property
    def where(self) -> str:
        return f"line {self.line}" + (f" of {self.file}" if self.file else "")


MAX_KICKSTART_BYTES = 1024 * 1024  # as validate: a kickstart is a few KB


def read_text(path: Path) -> str:
    """A kickstart (or a file it includes), at most ``MAX_KICKSTART_BYTES``."""
    with path.open("rb") as handle:
        data = handle.read(MAX_KICKSTART_BYTES + 1)
    if len(data) > MAX_KICKSTART_BYTES:
        raise InstallFailed("kickstart", f"{path}: over {MAX_KICKSTART_BYTES // 1024} KiB: not "
                            "a kickstart")  # fmt: skip
    return data.decode("utf-8", errors="replace")


def rhel6_errors(path: Path, *, full: bool = False) -> tuple[list[Rhel6Error], list[int]]:
    """RHEL 6's parser errors in ``path`` and in the files it %includes in its command
    section (those that exist), in reading order; and the header lines of the sections it
    accepts without ``%end`` at the end of the file (1.74.22 only warns). ``full``: the
    parse after %pre, where a missing %include file stops anaconda (``anaconda``'s
    "Could not open kickstart file or included file")."""
    try:
        reading = read_kickstart(read_text(path))
    except OSError:
        return [], []
    found = [(f.line, 0, Rhel6Error(f.line, f.message)) for f in reading.findings
             if not f.warning]  # fmt: skip
    for include in reading.includes:
        target = Path(include.path or "")
        if include.directive != "%include":
            continue
        if full and include.path and "://" not in include.path and not target.is_file():
            found.append((include.line, 0, Rhel6Error(include.line, (
                f"cannot open the %include file {include.path}"))))  # fmt: skip
        if include.section is not None or not target.is_file():
            continue
        inner = read_kickstart(read_text(target)).findings
        found += [(include.line, f.line, Rhel6Error(f.line, f.message, str(target)))
                  for f in inner if not f.warning]  # fmt: skip
    open_ends = [s.line for s in reading.sections if s.end == "eof"]
    return [error for *_, error in sorted(found, key=lambda e: (e[0], e[1]))], open_ends


def _rhel6_failure(error: Rhel6Error) -> InstallFailed:
    return InstallFailed("kickstart", f"{error.message} at {error.where} (RHEL 6's parser, "
                         "pykickstart 1.74.22, stops here as anaconda 13 does)")  # fmt: skip


class _StrictParser(KickstartParser):  # type: ignore[misc]
    """pykickstart's parser with the sample's table in front of every command and section."""

    def __init__(self, handler: Any, *, survey: bool = False,
                 rhel6: list[Rhel6Error] | None = None, **kwargs: Any) -> None:  # fmt: skip
        self.survey = survey
        self.rhel6 = rhel6 or []  # RHEL 6's parser errors in the same kickstart
        self.files: list[str] = []
        self.findings: list[Finding] = []
        self.stop = ""
        self.nocore = False
        self.order = 0  # each command line's place in the kickstart, includes followed
        super().__init__(handler, **kwargs)

    def _readSection(self, lineIter: Any, lineno: int) -> int:  # noqa: N802 (pykickstart)
        # 1.74.22 (parser.py _stateMachine) ends a section without %end at the next header,
        # and at the end of the file with a warning; pykickstart 3 refuses both from F8 on
        # and looks at its own version only here to decide.
        real, self.version = self.version, F7  # type: ignore[has-type]
        try:
            return int(super()._readSection(lineIter, lineno))
        finally:
            self.version = real

    def readKickstart(self, f: str, reset: bool = True) -> None:  # noqa: N802 (pykickstart API)
        self.files.append(f)
        try:
            super().readKickstart(f, reset=reset)
        finally:
            self.files.pop()

    @property
    def _file(self) -> str:
        return self.files[-1] if len(self.files) > 1 else ""

    def _record(self, findings: list[Finding]) -> None:
        self.findings += findings
        if not self.survey:
            kstable.stop_on(findings)

    def _rhel6_error_at(self, lineno: int) -> bool:
        return any(e.line == lineno and e.file == self._file for e in self.rhel6)

    def _parse_error(self, lineno: int, command: str, exc: KickstartError) -> None:
        """What pykickstart 3 refuses on a line: in a survey a finding (none where RHEL 6's
        parser fails on the same line: that finding says it); in an install RHEL 6's first
        error when it has one (anaconda stops there), else the sample's own limit."""
        finding = Finding(lineno, command, "", kstable.Rule(kstable.Verdict.REFUSED, (
            "the sample's parser (pykickstart 3) refuses what RHEL 6's parser accepts: "
            f"{_one_line(exc)}")), self._file)  # fmt: skip
        if self.survey:
            if not self._rhel6_error_at(lineno):
                self.findings.append(finding)
            return
        if self.rhel6:
            raise _rhel6_failure(self.rhel6[0]) from exc
        raise InstallFailed(UNSUPPORTED, finding.message()) from exc

    def registerSection(self, obj: Any) -> None:  # noqa: N802 (pykickstart API)
        original = obj.handleHeader

        def checked_header(lineno: int, args: list[str]) -> Any:
            self._record(kstable.section_findings(args, line=lineno, file=self._file))
            if args[0] == "%packages":
                args = self._without_nocore(args)
            try:
                return original(lineno, args)
            except KickstartError as exc:
                self._parse_error(lineno, args[0], exc)
                return None

        obj.handleHeader = checked_header
        super().registerSection(obj)

    def handleCommand(self, lineno: int, args: list[str]) -> Any:  # noqa: N802
        command = args[0]
        self._record(kstable.command_findings(args, line=lineno, file=self._file))
        if command in kstable.UNPARSED or command not in kstable.COMMANDS:
            return None  # refused above, or accepted as RHEL 6 does (any options)
        kept, extras = _rhel6_only(command, args)
        if command in STOP_COMMANDS:
            self.stop = command
        try:
            retval = super().handleCommand(lineno, kept)
        except KickstartError as exc:
            self._parse_error(lineno, command, exc)
            return None
        if retval is not None:
            self.order += 1
            retval.sample_order = self.order  # anaconda executes storage lines in this order
            for option, value in extras.items():
                setattr(retval, "sample_" + option.lstrip("-"), value)
            if command == "firewall" and "--telnet" in extras:
                retval.services = _rhel6_services(args)
        return retval

    def _without_nocore(self, args: list[str]) -> list[str]:
        """%packages --nocore (RHEL 6's parser has it, pykickstart 3's RHEL6 handler not)."""
        rules = kstable.SECTIONS["%packages"].options
        kept = [w for w in args if not (w.startswith("--") and kstable.resolve_option(
            rules, w) == "--nocore")]  # fmt: skip
        self.nocore = len(kept) < len(args)
        return kept


def _rhel6_only(command: str, args: list[str]) -> tuple[list[str], dict[str, str | bool]]:
    """``args`` without the options only RHEL 6's parser knows, and those options' values."""
    known = kstable.RHEL6_ONLY_OPTIONS.get(command, ())
    if not known:
        return args, {}
    rules = kstable.COMMANDS[command].options
    kept = [args[0]]
    extras: dict[str, str | bool] = {}
    words = iter(args[1:])
    for word in words:
        option = kstable.resolve_option(rules, word.split("=", 1)[0]) if word.startswith(
            "--") else None
        if option not in known:
            kept.append(word)
            continue
        if "=" in word:
            extras[option] = word.split("=", 1)[1]
        elif option in ("--domain", "--ipv6gateway"):
            extras[option] = next(words, "")
        else:
            extras[option] = True
    return kept, extras


def _rhel6_services(args: list[str]) -> list[str]:
    """1.74.22's service list of a firewall line: each --ssh/--smtp/--http/--ftp/--telnet
    flag adds its name, each --service value its comma-separated names, in line order
    (``F10_Firewall._getParser`` ``service_cb``)."""
    rules = kstable.COMMANDS["firewall"].options
    services: list[str] = []
    words = iter(args[1:])
    for word in words:
        option = kstable.resolve_option(rules, word.split("=", 1)[0]) if word.startswith(
            "--") else None  # fmt: skip
        if option in _SERVICE_FLAGS:
            services.append(option[2:])
        elif option == "--service":
            value = word.split("=", 1)[1] if "=" in word else next(words, "")
            services += [name.strip() for name in value.split(",")]
    return services


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split())


def _ksappend_findings(path: Path) -> list[Finding]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [Finding(n, "%ksappend", "", kstable.SECTIONS["%ksappend"].rule)
            for n, line in enumerate(lines, start=1) if _KSAPPEND.match(line)]


def _parser(*, first_pass: bool, survey: bool = False,
            rhel6: list[Rhel6Error] | None = None) -> _StrictParser:  # fmt: skip
    return _StrictParser(makeVersion(RHEL6), survey=survey, rhel6=rhel6,
                         missingIncludeIsFatal=not first_pass and not survey,
                         errorsAreFatal=not survey)


def _open_end_findings(lines: list[int]) -> list[Finding]:
    return [Finding(n, "%end", "(missing)", kstable.Rule(kstable.Verdict.NO_EFFECT, (
        "the section runs to the end of the file: RHEL 6's parser warns (deprecated) and "
        "reads it"))) for n in lines]  # fmt: skip


def parse(path: Path, *, first_pass: bool) -> Any:
    """Parse ``path``; return the RHEL6 handler. ``first_pass`` tolerates missing %include.

    The full pass fails first where RHEL 6's parser fails (anaconda reads commands only
    then, after %pre); the first pass only when pykickstart 3 stops somewhere too."""
    kstable.stop_on(_ksappend_findings(path))
    rhel6, open_ends = rhel6_errors(path, full=not first_pass)
    if rhel6 and not first_pass:
        raise _rhel6_failure(rhel6[0])
    parser = _parser(first_pass=first_pass, rhel6=rhel6)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # 1.74.22's warnings are in the findings
            parser.readKickstart(str(path))
    except InstallFailed:
        raise
    except KickstartError as exc:
        if rhel6:
            raise _rhel6_failure(rhel6[0]) from exc
        raise InstallFailed(UNSUPPORTED, (
            f"unsupported: {path} at line {getattr(exc, 'lineno', 0) or 0} (the sample's "
            f"parser, pykickstart 3, refuses what RHEL 6's parser accepts: {_one_line(exc)})"
        )) from exc  # fmt: skip
    handler = parser.handler
    handler.sample_findings = sorted([*parser.findings, *_open_end_findings(open_ends)],
                                     key=lambda f: (f.file, f.line))  # fmt: skip
    handler.sample_stop = parser.stop
    handler.packages.sample_nocore = parser.nocore
    for script in handler.scripts:
        if script.type not in (KS_SCRIPT_PRE, KS_SCRIPT_POST):
            raise InstallFailed(
                "kickstart",
                f"unsupported kickstart section (script type {script.type}) at line "
                f"{script.lineno}: only %pre, %packages and %post are carried out",
            )
    return handler


def _rhel6_findings(path: Path, errors: list[Rhel6Error]) -> list[Finding]:
    """RHEL 6's parser errors as failing findings, named by the line's first word."""
    found = []
    for error in errors:
        try:
            lines = read_text(Path(error.file) if error.file else path).split("\n")
            words = lines[error.line - 1].split()
        except (OSError, IndexError):
            words = []
        found.append(Finding(error.line, words[0] if words else "(line)", "", kstable.Rule(
            kstable.Verdict.FAILS, f"{RHEL6_NOTE}{error.message}"), error.file,
            phase="rhel6"))  # fmt: skip
    return found


def survey_parse(path: Path) -> tuple[list[Finding], Any]:
    """The parse-level verdicts of ``path`` and what it includes, errors kept going (see
    survey.py), and the handler as far as pykickstart 3 read it."""
    rhel6, open_ends = rhel6_errors(path)
    parser = _parser(first_pass=True, survey=True, rhel6=rhel6)
    try:
        # pykickstart prints what it skips in this mode, and warns of deprecated words:
        # the findings say it all
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser.readKickstart(str(path))
    except KickstartError as exc:  # a parse error pykickstart cannot go on after
        line = getattr(exc, "lineno", 0) or 0
        if not parser._rhel6_error_at(line):
            parser.findings.append(Finding(line, "(parser)", "", kstable.Rule(
                kstable.Verdict.REFUSED, "the sample's parser (pykickstart 3) stops here where "
                f"RHEL 6's parser reads on: {_one_line(exc)}")))  # fmt: skip
    findings = [*_ksappend_findings(path), *parser.findings, *_rhel6_findings(path, rhel6),
                *_open_end_findings(open_ends)]
    return findings, parser.handler


def pre_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_PRE]


def post_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_POST]


def notes(handler: Any) -> list[str]:
    """One console line per command or option accepted with no effect, as RHEL 6 does."""
    return [f"Note: {f.message()}" for f in getattr(handler, "sample_findings", [])
            if f.rule.verdict is kstable.Verdict.NO_EFFECT]
