"""The kickstart's ``firewall`` command, carried out as anaconda 13 does: by running the
installed system's own ``/usr/sbin/lokkit``.

anaconda-13.21.263 ``firewall.py`` ``Firewall.write()`` (called from ``instdata.py``
``InstallData.write()``, the ``writeconfig`` step, before ``%post``):

- arguments ``--quiet --nostart -f`` plus ``Firewall.getArgList()``: ``--disabled`` alone
  when disabled; else ``--service=ssh`` unless ssh is a service or 22:tcp a port, then
  ``--trust=`` per device, ``--port=`` per port, ``--service=`` per service, in kickstart
  order (no ``firewall`` command: enabled, so ``--service=ssh``);
- runs lokkit chrooted into the installed system (``iutil.execWithRedirect(...,
  root=instPath)``: chroot in the child, then exec), its output only logged;
- when the program cannot be started (no lokkit, or no interpreter for it) it logs
  "lokkit run failed" and goes on: no rules are written, the ports stay closed;
- when ``/etc/sysconfig/iptables`` already exists it does not run lokkit and logs
  "would have run ..." instead;
- unless starting failed it then writes ``/etc/sysconfig/system-config-firewall`` itself
  (a comment and the arguments after ``-f``, one a line), whatever lokkit's exit status.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

LOKKIT = "/usr/sbin/lokkit"
RULES = "etc/sysconfig/iptables"
SAVED = "etc/sysconfig/system-config-firewall"
SAVED_HEADER = "# system-config-firewall config written out by anaconda\n\n"
TIMEOUT = 300  # lokkit writes three small files; it must not hang the install

Say = Callable[[str], None]


def arg_list(*, enabled: bool, trusts: Sequence[str], ports: Sequence[str],
             services: Sequence[str]) -> list[str]:  # fmt: skip
    """anaconda's ``Firewall.getArgList()``."""
    if not enabled:
        return ["--disabled"]
    args = [] if "ssh" in services or "22:tcp" in ports else ["--service=ssh"]
    args += [f"--trust={dev}" for dev in trusts]
    args += [f"--port={port}" for port in ports]
    args += [f"--service={name}" for name in services]
    return args


def lokkit_args(firewall: Any) -> list[str]:
    """The whole lokkit command line for pykickstart's parsed ``firewall`` command."""
    return ["--quiet", "--nostart", "-f", *arg_list(
        enabled=firewall.enabled is not False,  # None: no firewall command, anaconda's default
        trusts=list(firewall.trusts or []),
        ports=list(firewall.ports or []),
        services=list(firewall.services or []),
    )]  # fmt: skip


def run_in_root(root: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
    """``argv`` chrooted into ``root`` as anaconda starts it: the child changes root, then
    execs, so a missing program raises OSError here rather than exiting 127."""

    def enter_root() -> None:
        os.chroot(root)

    return subprocess.run(argv, preexec_fn=enter_root, cwd=root, stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, errors="replace", check=False,
                          env=dict(os.environ, LC_ALL="C"), timeout=TIMEOUT)  # fmt: skip


def run_lokkit(root: Path, args: list[str], say: Say,
               run: Callable[[Path, list[str]], subprocess.CompletedProcess[str]], *,
               failed: Callable[[str], str]) -> bool:  # fmt: skip
    """The target's lokkit with ``args``, as anaconda runs it: its output only logged (at most
    20 lines), its exit status not acted on. False, having said ``failed(reason)``, when the
    program could not be started."""
    try:
        proc = run(root, [LOKKIT, *args])
    except (OSError, subprocess.SubprocessError) as exc:
        say(failed(str(exc.strerror if isinstance(exc, OSError) else exc)))
        return False
    for line in (proc.stdout + proc.stderr).splitlines()[:20]:
        say(f"lokkit: {line}")
    if proc.returncode != 0:  # anaconda does not look at it either
        say(f"lokkit exited with status {proc.returncode}")
    return True


def write(root: Path, firewall: Any, say: Say, *,
          run: Callable[[Path, list[str]], subprocess.CompletedProcess[str]] = run_in_root,
          ) -> None:  # fmt: skip
    """Carry out the firewall command on the installed system at ``root``."""
    args = lokkit_args(firewall)
    if (root / RULES).exists():
        say(f"Error: would have run {LOKKIT} {' '.join(args)} (/{RULES} exists already)")
    else:
        started = run_lokkit(root, args, say, run, failed=lambda reason: (
            f"Error: lokkit run failed: Error running {LOKKIT}: {reason} "
            "(the firewall is not configured: its ports stay closed)"))  # fmt: skip
        if not started:
            return
    _write_saved(root / SAVED, SAVED_HEADER + "".join(f"{arg}\n" for arg in args[3:]))


def _write_saved(path: Path, text: str) -> None:
    # anaconda opens the file for writing: lokkit's mode 0600 stays, a new file gets 0644.
    mode = path.stat().st_mode & 0o7777 if path.exists() else 0o644
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".ks-tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    tmp.replace(path)
