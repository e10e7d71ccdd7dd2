"""Reading the kickstart with pykickstart's RHEL6 handler, as anaconda (RHEL 6) did.

Two passes like anaconda: a first one that tolerates missing %include files (they are
often written by %pre), then, after %pre ran, the full parse. Every command, option and
section goes through the table in kstable.py first: what the sample cannot carry out stops
the install with its line number (never a silent skip), what anaconda 13 itself refuses
fails as it would. The options RHEL 6's parser (pykickstart 1.74) knows but this stage 2's
pykickstart 3 does not are taken off the line and kept on the parsed objects.

The handler returned carries three extra attributes: ``sample_findings`` (every verdict,
kstable.Finding), ``sample_stop`` (the last of reboot/poweroff/halt/shutdown, or "") and,
on network data objects, ``sample_domain``/``sample_ipv6gateway``; ``sample_disabled`` on
the bootloader command.
"""

from __future__ import annotations

import contextlib
import io
import re
import warnings
from pathlib import Path
from typing import Any

from pykickstart.constants import KS_SCRIPT_POST, KS_SCRIPT_PRE
from pykickstart.errors import KickstartError
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion

from . import kstable
from .errors import InstallFailed
from .kstable import Finding

STOP_COMMANDS = ("reboot", "poweroff", "halt", "shutdown")
_KSAPPEND = re.compile(r"^\s*%ksappend\b")


class _StrictParser(KickstartParser):  # type: ignore[misc]
    """pykickstart's parser with the sample's table in front of every command and section."""

    def __init__(self, handler: Any, *, survey: bool = False, **kwargs: Any) -> None:
        self.survey = survey
        self.files: list[str] = []
        self.findings: list[Finding] = []
        self.stop = ""
        self.order = 0  # each command line's place in the kickstart, includes followed
        super().__init__(handler, **kwargs)

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

    def _parse_error(self, lineno: int, command: str, exc: KickstartError) -> None:
        """survey: what pykickstart itself refuses on a line, as a failing finding."""
        self.findings.append(Finding(lineno, command, "", kstable.Rule(
            kstable.Verdict.FAILS, f"pykickstart: {' '.join(str(exc).split())}"), self._file))

    def registerSection(self, obj: Any) -> None:  # noqa: N802 (pykickstart API)
        original = obj.handleHeader

        def checked_header(lineno: int, args: list[str]) -> Any:
            self._record(kstable.section_findings(args, line=lineno, file=self._file))
            try:
                return original(lineno, args)
            except KickstartError as exc:
                if not self.survey:
                    raise
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
            if not self.survey:
                raise
            self._parse_error(lineno, command, exc)
            return None
        if retval is not None:
            self.order += 1
            retval.sample_order = self.order  # anaconda executes storage lines in this order
            for option, value in extras.items():
                setattr(retval, "sample_" + option.lstrip("-"), value)
        return retval


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


def _ksappend_findings(path: Path) -> list[Finding]:
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        return []
    return [Finding(n, "%ksappend", "", kstable.SECTIONS["%ksappend"].rule)
            for n, line in enumerate(lines, start=1) if _KSAPPEND.match(line)]


def _parser(*, first_pass: bool, survey: bool = False) -> _StrictParser:
    return _StrictParser(makeVersion(RHEL6), survey=survey,
                         missingIncludeIsFatal=not first_pass and not survey,
                         errorsAreFatal=not survey)


def parse(path: Path, *, first_pass: bool) -> Any:
    """Parse ``path``; return the RHEL6 handler. ``first_pass`` tolerates missing %include."""
    kstable.stop_on(_ksappend_findings(path))
    parser = _parser(first_pass=first_pass)
    try:
        parser.readKickstart(str(path))
    except InstallFailed:
        raise
    except KickstartError as exc:
        raise InstallFailed("kickstart", f"{path}: {' '.join(str(exc).split())}") from exc
    handler = parser.handler
    handler.sample_findings = parser.findings
    handler.sample_stop = parser.stop
    for script in handler.scripts:
        if script.type not in (KS_SCRIPT_PRE, KS_SCRIPT_POST):
            raise InstallFailed(
                "kickstart",
                f"unsupported kickstart section (script type {script.type}) at line "
                f"{script.lineno}: only %pre, %packages and %post are carried out",
            )
    return handler


def survey_parse(path: Path) -> list[Finding]:
    """kstable.survey: every verdict of ``path`` and what it includes, errors kept going."""
    parser = _parser(first_pass=True, survey=True)
    try:
        # pykickstart prints what it skips in this mode, and warns of deprecated words:
        # the findings say it all
        with contextlib.redirect_stderr(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            parser.readKickstart(str(path))
    except KickstartError as exc:  # a parse error pykickstart cannot go on after
        parser.findings.append(Finding(getattr(exc, "lineno", 0) or 0, "(parser)", "",
                                       kstable.Rule(kstable.Verdict.FAILS,
                                                    " ".join(str(exc).split()))))
    return sorted([*_ksappend_findings(path), *parser.findings],
                  key=lambda f: (f.file, f.line))


def pre_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_PRE]


def post_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_POST]


def notes(handler: Any) -> list[str]:
    """One console line per command or option accepted with no effect, as RHEL 6 does."""
    return [f"Note: {f.message()}" for f in getattr(handler, "sample_findings", [])
            if f.rule.verdict is kstable.Verdict.NO_EFFECT]
