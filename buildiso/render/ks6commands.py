"""Kickstart commands checked as RHEL 6's pykickstart (1.74.22) checks them.

Modern pykickstart's RHEL6 handler does the per-command work (types, required options,
choices, values that must agree, duplicates); this module puts in front of it what
1.74.22 does differently, each difference a row of docs/anaconda13-parser.md:

- the command names are 1.74.22's RHEL6 table (``handlers/control.py``), nothing else;
- options are read with optparse's rules (``ksoptions``), then handed to the handler under
  their full names;
- options 1.74.22 has and modern pykickstart dropped are accepted (``network --domain``,
  ``--ipv6gateway``, ``bootloader --disabled``, ``clearpart --cdl``, ``fcoe --autovlan``,
  ``xconfig --server``), ``firewall --telnet`` is a deprecated flag, ``iscsi --port`` a string;
- words after the options are ignored by most 1.74.22 commands (optparse hands them back
  and the command never looks): they are dropped before the handler sees them;
- checks 1.74.22 makes that the handler does not: ``sshpw`` takes one password word,
  ``logvol --percent`` needs ``--size`` and ``--grow``, and a second ``sshpw`` for one user
  or a second identical ``zfcp`` makes 1.74.22's duplicate check fail.
"""

from __future__ import annotations

import copy
import functools
import re
import warnings
from dataclasses import dataclass
from typing import Any

from buildiso.render.ksoptions import OptionError, OptionSpec, ReadOptions, read_options

# pykickstart 1.74.22 handlers/control.py, commandMap[RHEL6]: the only command names RHEL 6
# knows (modern pykickstart's RHEL6 handler adds "method", which RHEL 6 calls unknown).
RHEL6_COMMANDS = frozenset(
    "auth authconfig autopart autostep bootloader cdrom clearpart cmdline device deviceprobe "
    "dmraid driverdisk fcoe firewall firstboot graphical group halt harddrive ignoredisk "
    "install interactive iscsi iscsiname key keyboard lang logging logvol mediacheck monitor "
    "multipath network nfs part partition poweroff raid reboot repo rescue rootpw selinux "
    "services shutdown skipx sshpw text timezone unsupported_hardware updates upgrade url user "
    "vnc volgroup xconfig zerombr zfcp".split()
)
# Commands whose parse() takes the words as they are, without an option parser
# (authconfig.py FC3_Authconfig, deviceprobe.py FC3_DeviceProbe, monitor.py F10_Monitor,
# a DeprecatedCommand).
_RAW = frozenset({"auth", "authconfig", "deviceprobe", "monitor"})
# Options of 1.74.22 that modern pykickstart's RHEL6 handler lacks: (spelling, takes value).
_ONLY_IN_RHEL6 = {
    "network": (("--domain", True), ("--ipv6gateway", True)),  # network.py RHEL6_Network
    "bootloader": (("--disabled", False),),  # bootloader.py RHEL6_Bootloader
    "clearpart": (("--cdl", False),),  # clearpart.py RHEL6_ClearPart
    "fcoe": (("--autovlan", False),),  # fcoe.py RHEL6_Fcoe
    "xconfig": (("--server", True),),  # xconfig.py F10_XConfig
}
# Options whose value 1.74.22 takes as any string where the handler wants more (iscsi.py
# F10_Iscsi: --port has no type): kept away from the handler once read.
_ANY_STRING = {"iscsi": frozenset({"--port"})}
# firewall.py F10_Firewall: --telnet is a deprecated flag (a callback without a value); 1.74.22
# warns that it has no effect, yet its callback still adds the service "telnet".
_DEPRECATED_FLAGS = {"firewall": frozenset({"--telnet"})}
_DEPRECATED_EFFECT = {("firewall", "--telnet"): "yet RHEL 6's parser still adds the service "
                      "telnet (which RHEL 6's lokkit refuses)"}  # fmt: skip
# How many words after the options a 1.74.22 command uses when it ignores the rest
# (its parse() never checks optparse's leftover list).
_USES_WORDS = {
    **dict.fromkeys(
        "autopart autostep bootloader cdrom clearpart dmraid firstboot group halt harddrive "
        "ignoredisk logging multipath network nfs poweroff reboot rescue selinux services "
        "shutdown url user vnc zfcp".split(),
        0,
    ),
    "logvol": 1,  # logvol.py: the mount point is the first word
}


_SPECS: dict[str, list[OptionSpec]] = {}  # command name -> its options (they never change)


@dataclass(frozen=True)
class CommandFinding:
    line: int
    message: str
    warning: bool = False


def _specs(command: Any, name: str) -> list[OptionSpec]:
    """The handler's options for ``name`` (argparse actions) with 1.74.22's differences."""
    specs: list[OptionSpec] = []
    flags = _DEPRECATED_FLAGS.get(name, frozenset())
    for action in command._getParser()._actions:
        if not action.option_strings or "--help" in action.option_strings:
            continue
        takes_value = action.nargs != 0 and not flags.intersection(action.option_strings)
        specs.append(OptionSpec(tuple(action.option_strings), takes_value))
    specs.extend(OptionSpec((spelling,), value) for spelling, value in _ONLY_IN_RHEL6.get(name, ()))
    return specs


@functools.cache
def _pristine_handler() -> Any:
    from pykickstart.version import RHEL6, makeVersion

    return makeVersion(RHEL6)


class CommandChecker:
    """Checks command lines one by one against one RHEL6 handler (it remembers earlier ones)."""

    def __init__(self) -> None:
        # a copy of one fresh handler: three times quicker than building one each time
        self.handler = copy.deepcopy(_pristine_handler())
        self._specs = _SPECS
        self._sshpw_users: set[str] = set()
        self._zfcp: set[tuple[str | None, ...]] = set()

    def check(self, line: int, words: list[str], text: str) -> list[CommandFinding]:
        """Problems RHEL 6 finds in command ``words`` (from ``text``) at ``line``."""
        name = words[0]
        if name not in RHEL6_COMMANDS:
            return [CommandFinding(line, f"unknown command {name!r} (RHEL 6 has no such command)")]
        if name in _RAW:
            return self._dispatch(line, words, text)
        command = self.handler.commands[name]
        if name not in self._specs:
            self._specs[name] = _specs(command, name)
        try:
            read = read_options(words[1:], self._specs[name])
        except OptionError as exc:
            return [CommandFinding(line, f"{name}: {exc}")]
        found = self._own_checks(line, name, read)
        if any(not f.warning for f in found):
            return found
        dispatched = self._dispatch(line, self._canonical(name, read), text)
        if name == "network" and not read.value("--device"):
            # network.py RHEL6_NetworkData.__eq__: lines without a device are never the
            # same device in 1.74.22, so no "already been defined" warning for them
            dispatched = [f for f in dispatched if not f.warning]
        return found + dispatched

    def words(self, words: list[str]) -> tuple[str, ...] | None:
        """The words of a command line that are not options (None: not a RHEL 6 command, or
        options RHEL 6 refuses); e.g. the mount point of ``part``."""
        read = self.read(words)
        return None if read is None else read.words

    def read(self, words: list[str]) -> ReadOptions | None:
        """A command line's options under their full names, as 1.74.22 reads them (None:
        not a RHEL 6 command, or options RHEL 6 refuses)."""
        name = words[0]
        if name not in RHEL6_COMMANDS or name in _RAW:
            return None
        if name not in self._specs:
            self._specs[name] = _specs(self.handler.commands[name], name)
        try:
            return read_options(words[1:], self._specs[name])
        except OptionError:
            return None

    def _own_checks(self, line: int, name: str, read: ReadOptions) -> list[CommandFinding]:
        """1.74.22's checks that the modern handler does not make, and its deprecated flags."""
        found: list[CommandFinding] = []
        if name == "sshpw":
            user = read.value("--username")
            if len(read.words) > 1:  # sshpw.py F13_SshPw.parse
                found.append(CommandFinding(line, "sshpw: takes a single password word"))
            elif user in self._sshpw_users:  # F13_SshPwData has no 'name' for its check
                found.append(
                    CommandFinding(
                        line,
                        f"sshpw: user {user} given twice (RHEL 6's "
                        "duplicate check fails with an AttributeError)",
                    )
                )
            self._sshpw_users.add(user or "")
        if name == "zfcp":
            key = tuple(read.value(o) for o in ("--devnum", "--wwpn", "--fcplun"))
            if key in self._zfcp:  # F12_ZFCPData compares a 'scsiid' it does not have
                found.append(
                    CommandFinding(
                        line,
                        "zfcp: the same device given twice (RHEL 6's "
                        "duplicate check fails with an AttributeError)",
                    )
                )
            self._zfcp.add(key)
        if name == "logvol" and read.has("--percent"):
            size = read.value("--size") or "0"
            if not (size.strip("0") and read.has("--grow")):  # logvol.py RHEL6_LogVol.parse
                found.append(
                    CommandFinding(line, "logvol: --percent must be used with --size and --grow")
                )
        for flag in _DEPRECATED_FLAGS.get(name, frozenset()):
            if read.has(flag):
                effect = _DEPRECATED_EFFECT.get((name, flag), "and has no effect")
                found.append(CommandFinding(line, f"{name} {flag} is deprecated {effect}", True))
        return found

    def _canonical(self, name: str, read: ReadOptions) -> list[str]:
        """The words modern pykickstart gets: full option names, 1.74.22's extras left out."""
        dropped = {s for s, _ in _ONLY_IN_RHEL6.get(name, ())}
        dropped |= _ANY_STRING.get(name, frozenset()) | _DEPRECATED_FLAGS.get(name, frozenset())
        args = [name]
        for option, value in read.options:
            if option in dropped:
                continue
            args.append(option if value is None else f"{option}={value}")
        uses = _USES_WORDS.get(name)
        args.extend(read.words if uses is None else read.words[:uses])
        return args

    def _dispatch(self, line: int, args: list[str], text: str) -> list[CommandFinding]:
        from pykickstart.errors import KickstartError

        found: list[CommandFinding] = []
        self.handler.currentLine = text
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.handler.dispatcher(args, line)
            except KickstartError as exc:
                found.append(CommandFinding(line, f"{args[0]}: {_one_line(exc.message)}"))
            except Exception as exc:  # the handler failing on odd input: the line is refused
                found.append(CommandFinding(line, f"{args[0]}: cannot be read ({exc!r})"))
        for warning in caught:
            found.append(CommandFinding(line, f"{args[0]}: {_warning(warning.message)}", True))
        return found


def _warning(message: object) -> str:
    """pykickstart's warning, its first sentence, without the line number the label has."""
    text = re.sub(r"^Ignoring deprecated (option|command) on line \d+:\s*", "", _one_line(message))
    return text.split(". ", 1)[0].rstrip(".")


def _one_line(message: object) -> str:
    return " ".join(str(message).split())
