"""Reading the kickstart with pykickstart's RHEL6 handler, as anaconda (RHEL 6) did.

Two passes like anaconda: a first one that tolerates missing %include files (they are
often written by %pre), then, after %pre ran, the full parse. Every command the sample
installer does not carry out stops the install with its line number: never a silent skip.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pykickstart.constants import KS_SCRIPT_POST, KS_SCRIPT_PRE
from pykickstart.errors import KickstartError
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion

from .errors import InstallFailed

# Commands the sample installer carries out (poweroff/halt/shutdown share reboot's object;
# logging only sets the level of messages it does not keep anyway).
SUPPORTED_COMMANDS = frozenset({
    "install", "text", "cmdline", "lang", "keyboard", "timezone", "network", "rootpw", "user",
    "authconfig", "auth", "firewall", "selinux", "firstboot", "services", "skipx", "zerombr",
    "clearpart", "ignoredisk", "part", "partition", "raid", "volgroup", "logvol", "bootloader",
    "repo", "logging", "reboot", "poweroff", "halt", "shutdown",
})

# Options of supported commands that the sample installer cannot honour: refused loudly.
_REUSE = ("--useexisting", "--noformat", "--encrypted", "--passphrase")
_UNSUPPORTED_OPTIONS = {
    "bootloader": ("--password", "--md5pass", "--encrypted", "--upgrade"),
    "part": ("--onpart", "--usepart", "--onbiosdisk", "--start", "--end", *_REUSE),
    "raid": _REUSE,
    "volgroup": ("--useexisting", "--noformat", "--reserved-space", "--reserved-percent"),
    "logvol": (*_REUSE, "--thinpool", "--thin", "--cache-size", "--cache-pvs"),
    "clearpart": ("--none",),
    "repo": ("--mirrorlist", "--proxy"),
    "logging": ("--host", "--port"),  # no remote syslog from the sample installer
}
_UNSUPPORTED_OPTIONS["partition"] = _UNSUPPORTED_OPTIONS["part"]


class _StrictParser(KickstartParser):  # type: ignore[misc]
    """Refuses any command outside SUPPORTED_COMMANDS, naming the file and line."""

    def __init__(self, handler: Any, **kwargs: Any) -> None:
        super().__init__(handler, **kwargs)
        self.files: list[str] = []

    def readKickstart(self, f: str, reset: bool = True) -> None:  # noqa: N802 (pykickstart API)
        self.files.append(f)
        try:
            super().readKickstart(f, reset=reset)
        finally:
            self.files.pop()

    def handleCommand(self, lineno: int, args: list[str]) -> Any:  # noqa: N802
        command = args[0]
        where = f"line {lineno}" + (f" of {self.files[-1]}" if len(self.files) > 1 else "")
        if command not in SUPPORTED_COMMANDS:
            raise InstallFailed("kickstart", f"unsupported kickstart command {command} at {where}")
        for option in _UNSUPPORTED_OPTIONS.get(command, ()):
            if any(a == option or a.startswith(option + "=") for a in args[1:]):
                raise InstallFailed(
                    "kickstart", f"unsupported option {command} {option} at {where}"
                )
        return super().handleCommand(lineno, args)


def parse(path: Path, *, first_pass: bool) -> Any:
    """Parse ``path``; return the RHEL6 handler. ``first_pass`` tolerates missing %include."""
    handler = makeVersion(RHEL6)
    parser = _StrictParser(handler, missingIncludeIsFatal=not first_pass)
    try:
        parser.readKickstart(str(path))
    except InstallFailed:
        raise
    except KickstartError as exc:
        raise InstallFailed("kickstart", f"{path}: {' '.join(str(exc).split())}") from exc
    for script in handler.scripts:
        if script.type not in (KS_SCRIPT_PRE, KS_SCRIPT_POST):
            raise InstallFailed(
                "kickstart",
                f"unsupported kickstart section (script type {script.type}) at line "
                f"{script.lineno}: only %pre, %packages and %post are carried out",
            )
    return handler


def pre_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_PRE]


def post_scripts(handler: Any) -> list[Any]:
    return [s for s in handler.scripts if s.type == KS_SCRIPT_POST]
