"""A kickstart read line by line the way RHEL 6's pykickstart 1.74.22 reads it.

anaconda 13 reads the kickstart with pykickstart 1.74.22's ``KickstartParser``
(``parser.py``, ``_stateMachine``); this module follows that state machine, in our own
words, where modern pykickstart's section reader differs (docs/anaconda13-parser.md):

- lines end at ``\\n`` only (the file is read with ``readline``): a lone ``\\r`` is no line end;
- inside ``%pre``/``%post``/``%traceback`` only a line whose first word is ``%end``,
  ``%pre``, ``%post``, ``%traceback``, ``%packages`` or ``%include`` is not script text: a
  sudoers ``%wheel ALL=(ALL) ALL`` in a here-document is script text;
- a section without ``%end`` ends at the next section header without a word; one still
  open at the end of the file gets a deprecation warning, not an error;
- section headers are read with optparse's rules and words that are not options are
  ignored (``%post --nochroot foo`` is ``%post --nochroot``); ``%packages --nocore`` exists;
- ``%include`` is taken out wherever it is (also inside a script) and not followed here;
  ``%ksappend`` lines are taken out before parsing, as anaconda fetches them first;
- a ``%``-line RHEL 6 does not know, a ``%end`` outside a section, broken quoting or a bad
  ``%packages`` line stop the parser: nothing after it is read, as on RHEL 6.

Commands go to ``ks6commands.CommandChecker``. The result keeps every line number so the
product rules can name lines.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from buildiso.render.ks6commands import CommandChecker
from buildiso.render.ksoptions import OptionError, OptionSpec, ReadOptions, read_options

SCRIPTS = ("%pre", "%post", "%traceback")
# First words that end a script body (parser.py, STATE_SCRIPT); %include is taken out too.
_SCRIPT_BREAKS = frozenset({"%end", "%pre", "%post", "%traceback", "%packages"})
_WHITESPACE = " \t\n\r\x0b\x0c"  # Python 2's bytes whitespace: what 1.74.22 strips and splits on
_WORDS = re.compile(f"[{_WHITESPACE}]+")

# parser.py handleScriptHdr / handlePackageHdr (RHEL6): the section headers' options.
_SCRIPT_OPTIONS = (
    OptionSpec(("--erroronfail",), False),
    OptionSpec(("--interpreter",), True),
    OptionSpec(("--log", "--logfile"), True),
)
_POST_OPTIONS = (*_SCRIPT_OPTIONS, OptionSpec(("--nochroot",), False))
_PACKAGES_OPTIONS = tuple(
    OptionSpec((name,), name == "--instLangs")
    for name in ("--excludedocs", "--ignoremissing", "--nobase", "--nocore", "--ignoredeps",
                 "--resolvedeps", "--default", "--instLangs")
)  # fmt: skip
_REMOVED_PACKAGES_OPTIONS = ("--ignoredeps", "--resolvedeps")  # removed in F9
_GROUP_OPTIONS = (OptionSpec(("--nodefaults",), False), OptionSpec(("--optional",), False))
# A real kickstart has tens of commands; past this many the rest are not checked.
MAX_CHECKED_COMMANDS = 1000


@dataclass(frozen=True)
class Finding:
    """Something RHEL 6's parser says about a line: an error (anaconda stops) or a warning."""

    line: int
    message: str
    warning: bool = False


@dataclass(frozen=True)
class Command:
    line: int
    text: str
    words: tuple[str, ...]

    @property
    def name(self) -> str:
        return self.words[0]


@dataclass
class Section:
    """A ``%pre``/``%post``/``%traceback``/``%packages`` section and how it ended."""

    name: str
    line: int  # the header's line
    words: tuple[str, ...]
    options: ReadOptions = field(default_factory=lambda: ReadOptions((), ()))
    body: list[tuple[int, str]] = field(default_factory=list)
    end: str = "eof"  # "%end", "next" (the next section header), "eof", "stopped"
    end_line: int | None = None

    @property
    def closed(self) -> bool:
        return self.end == "%end"


@dataclass(frozen=True)
class Include:
    """An ``%include`` (or ``%ksappend``) line: RHEL 6 reads that file's lines in its place."""

    line: int
    path: str | None
    section: str | None  # the section it sits in, or None in the command section
    directive: str = "%include"


@dataclass
class Reading:
    """Everything RHEL 6's parser saw in a kickstart (it stops at ``stopped_at``)."""

    commands: list[Command] = field(default_factory=list)
    sections: list[Section] = field(default_factory=list)
    includes: list[Include] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)
    stopped_at: int | None = None
    # the line after which commands were no longer checked, and why (``read_kickstart``)
    checked_until: int | None = None
    unchecked_why: str = ""

    def of(self, *names: str) -> list[Section]:
        return [s for s in self.sections if s.name in names]


class _Stop(Exception):
    """RHEL 6's parser gives up on this line; nothing after it is read."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


def _split(text: str, *, comments: bool, line: int) -> list[str]:
    try:
        return shlex.split(text, comments=comments)
    except ValueError as exc:  # 1.74.22 lets shlex's error end the parse
        raise _Stop(line, f"cannot split the line into words ({exc})") from None


class _StateMachine:
    def __init__(self, reading: Reading, checker: CommandChecker, limit: int | None) -> None:
        self.reading = reading
        self.checker = checker
        self.limit = limit
        self.section: Section | None = None  # the open section, if any

    def feed(self, number: int, line: str) -> None:
        """One line of the file, with its ``\\n`` (shlex reads a ``\\`` before it as joining)."""
        raw = line.removesuffix("\n")
        stripped = raw.lstrip(_WHITESPACE)
        if stripped.startswith("%ksappend"):
            # anaconda puts the fetched file in its place before parsing (parser.py
            # preprocessKickstart): wherever it is, the line itself is never parsed
            words = stripped.split(None, 2)
            where = self.section.name if self.section is not None else None
            path = words[1] if len(words) > 1 else None
            self.reading.includes.append(Include(number, path, where, "%ksappend"))
            return
        script = self.section is not None and self.section.name in SCRIPTS
        if not stripped or stripped.startswith("#"):
            if script and self.section is not None:
                self.section.body.append((number, raw))
            return
        if script:
            first = _WORDS.split(stripped, maxsplit=1)[0]
            if first not in _SCRIPT_BREAKS and first != "%include":
                assert self.section is not None
                self.section.body.append((number, raw))
                return
            args = _split(line, comments=False, line=number)
        else:
            args = _split(line, comments=True, line=number)
        if not args:
            raise _Stop(number, "the line holds no words: RHEL 6's parser takes it as the end")
        if args[0] == "%include":
            self._include(number, args)
        elif self.section is None:
            self._command_state(number, raw, args)
        elif self.section.name == "%packages":
            self._packages_state(number, raw, args)
        else:
            self._script_state(number, line, args)

    def _include(self, number: int, args: list[str]) -> None:
        where = self.section.name if self.section is not None else None
        path = args[1] if len(args) > 1 and args[1] else None
        self.reading.includes.append(Include(number, path, where))
        if path is None:  # anaconda follows %include: it reads args[1] and fails
            raise _Stop(number, "%include without a file name")

    def _command_state(self, number: int, raw: str, args: list[str]) -> None:
        name = args[0]
        if name in SCRIPTS or name == "%packages":
            self._open(number, args)
        elif name.startswith("%"):
            raise _Stop(number, f"{name} is not a section RHEL 6 knows (%pre, %post, "
                        "%traceback, %packages; %end only closes one)")  # fmt: skip
        else:
            command = Command(number, raw, tuple(args))
            self.reading.commands.append(command)
            if self.reading.checked_until is not None:
                return
            for found in self.checker.check(number, args, raw):
                self.reading.findings.append(Finding(found.line, found.message, found.warning))
            if self.limit is not None and len(self.reading.findings) >= self.limit:
                self.reading.checked_until = number  # a file of junk: no use checking on
                self.reading.unchecked_why = f"{self.limit} findings of RHEL 6's parser"
            elif len(self.reading.commands) >= MAX_CHECKED_COMMANDS:
                # pykickstart compares each partition, volume, user... with all earlier
                # ones: thousands of them cost minutes, and no kickstart has them
                self.reading.checked_until = number
                self.reading.unchecked_why = f"{MAX_CHECKED_COMMANDS} commands"

    def _close(self, number: int, end: str) -> None:
        assert self.section is not None
        self.section.end = end
        self.section.end_line = number
        self.section = None

    def _packages_state(self, number: int, raw: str, args: list[str]) -> None:
        assert self.section is not None
        name = args[0]
        if name == "%end":
            self._close(number, "%end")
        elif name in SCRIPTS:
            self._close(number, "next")
            self._open(number, args)
        elif name == "%packages":  # a second header inside the section: its options apply
            self.section.words = tuple(args)
            self.section.options = self._header_options(number, args)
        elif name.startswith("%"):
            raise _Stop(number, f"{name} inside %packages (only %end or a new section header)")
        else:
            self._package_line(number, raw)

    def _script_state(self, number: int, line: str, args: list[str]) -> None:
        assert self.section is not None
        if args[0] not in _SCRIPT_BREAKS:  # the first word looked like one, the shlex word not
            self.section.body.append((number, line.removesuffix("\n")))
            return
        if args[0] == "%end":
            self._close(number, "%end")
            return
        self._close(number, "next")  # a new header ends the script without a word
        self.feed(number, line)  # read again, as a line of the command section

    def _open(self, number: int, args: list[str]) -> None:
        self.section = Section(args[0], number, tuple(args))
        self.reading.sections.append(self.section)
        self.section.options = self._header_options(number, args)

    def _header_options(self, number: int, args: list[str]) -> ReadOptions:
        name = args[0]
        specs = {"%packages": _PACKAGES_OPTIONS, "%post": _POST_OPTIONS}.get(name, _SCRIPT_OPTIONS)
        try:
            read = read_options(args[1:], specs)
        except OptionError as exc:
            self._error(number, f"{name}: {exc}")
            return ReadOptions((), ())
        if name == "%packages":
            removed = [o for o in _REMOVED_PACKAGES_OPTIONS if read.has(o)]
            if removed:
                self._error(number, f"%packages {removed[0]} was removed in Fedora 9: RHEL 6 "
                            "refuses it")  # fmt: skip
            elif read.has("--default") and (read.has("--nobase") or read.has("--nocore")):
                other = "--nobase" if read.has("--nobase") else "--nocore"
                self._error(number, f"%packages --default and {other} cannot be used together")
        return read

    def _package_line(self, number: int, raw: str) -> None:
        assert self.section is not None
        item = raw.strip(_WHITESPACE)
        if item.startswith("@"):
            try:
                read = read_options(_WORDS.split(item[1:].strip(_WHITESPACE)), _GROUP_OPTIONS)
            except OptionError as exc:  # a plain optparse parser: it exits anaconda
                raise _Stop(number, f"%packages group line: {exc}") from None
            if read.has("--nodefaults") and read.has("--optional"):
                raise _Stop(number, "a group cannot have both --nodefaults and --optional")
        elif item == "-":
            raise _Stop(number, "'-' without a package name (RHEL 6's parser fails on it)")
        self.section.body.append((number, raw))

    def _error(self, number: int, message: str) -> None:
        self.reading.findings.append(Finding(number, message))

    def finish(self, last: int) -> None:
        if self.section is None:
            return
        what = "%packages" if self.section.name == "%packages" else "script"
        self.reading.findings.append(
            Finding(
                self.section.line,
                f"{self.section.name} runs to the end of the file without %end: RHEL 6 accepts "
                f"it with a deprecation warning ({what} does not end with %end)",
                warning=True,
            )
        )
        self._close(last, "eof")


def read_kickstart(text: str, *, limit: int | None = None) -> Reading:
    """What RHEL 6's parser makes of kickstart ``text``: sections, commands, findings.

    With ``limit``, commands are no longer checked once that many findings are in, nor
    past ``MAX_CHECKED_COMMANDS`` commands (the sections are still read): ``checked_until``
    says where that happened and ``unchecked_why`` why.
    """
    reading = Reading()
    machine = _StateMachine(reading, CommandChecker(), limit)
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])
    try:
        for number, raw in enumerate(lines, start=1):
            machine.feed(number, raw)
    except _Stop as stop:
        reading.findings.append(
            Finding(
                stop.line,
                f"{stop.message}; RHEL 6's parser stops here, the rest of the file is not read",
            )
        )
        reading.stopped_at = stop.line
        if machine.section is not None:
            machine._close(stop.line, "stopped")
        return reading
    machine.finish(len(lines))
    return reading
