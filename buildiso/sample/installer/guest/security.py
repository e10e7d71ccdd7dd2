"""The SELinux setting, carried out as anaconda 13 does: by running the installed system's
own ``/usr/sbin/lokkit --quiet --nostart --selinux=MODE``.

anaconda-13.21.263:

- the mode: the kickstart's ``selinux`` command (``kickstart.py`` ``SELinux.execute()`` →
  ``security.py`` ``Security.setSELinux()``); a bare ``selinux`` line leaves pykickstart's
  value unset, which ``setSELinux`` logs as an invalid state and turns into *disabled*;
  without the command the default of ``Security()``: enforcing unless the boot line has
  ``selinux=0`` (the loader then starts anaconda with ``--noselinux``: ``loader/loader.c``,
  ``anaconda`` ``flags.selinux``);
- ``Security.write()`` (``instdata.py`` ``InstallData.write()``, right after the firewall,
  before ``%post``) runs lokkit chrooted into the installed system with its output thrown
  away and its exit status not looked at; when the program cannot be started it logs
  "lokkit run failed" and goes on: ``/etc/selinux/config`` stays as the packages left it.
  It never writes the file itself and does not look whether one exists.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pykickstart.constants import SELINUX_DISABLED, SELINUX_ENFORCING, SELINUX_PERMISSIVE

from .firewall import Say, run_in_root, run_lokkit

MODES = {SELINUX_DISABLED: "disabled", SELINUX_ENFORCING: "enforcing",
         SELINUX_PERMISSIVE: "permissive"}  # fmt: skip


def mode(selinux: Any, boot_args: Mapping[str, str], say: Say) -> str:
    """The mode anaconda passes to lokkit for the parsed ``selinux`` command."""
    if not getattr(selinux, "seen", False):
        return "disabled" if boot_args.get("selinux") == "0" else "enforcing"
    if selinux.selinux not in MODES:
        say(f"Error: Tried to set to invalid SELinux state: {selinux.selinux} (line "
            f"{selinux.lineno}: a selinux line without --enforcing, --permissive or "
            "--disabled disables SELinux, as anaconda 13)")  # fmt: skip
        return "disabled"
    return MODES[selinux.selinux]


def lokkit_args(selinux_mode: str) -> list[str]:
    return ["--quiet", "--nostart", f"--selinux={selinux_mode}"]


def write(root: Path, selinux_mode: str, say: Say, *,
          run: Callable[[Path, list[str]], subprocess.CompletedProcess[str]] = run_in_root,
          ) -> None:  # fmt: skip
    """Carry out the SELinux setting on the installed system at ``root``."""
    run_lokkit(root, lokkit_args(selinux_mode), say, run, failed=lambda reason: (
        f"Error: lokkit run failed: {reason} (SELinux not set to {selinux_mode}: "
        "/etc/selinux/config stays as the packages left it)"))  # fmt: skip
