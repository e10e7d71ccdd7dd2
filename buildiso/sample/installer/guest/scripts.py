"""%pre and %post scripts, run as anaconda (RHEL 6) runs them.

%pre and %post --nochroot run in the installer's environment (installed system at
/mnt/sysimage); %post runs chrooted into the installed system. --log appends the
script's output there (inside the chroot for a chrooted %post). --interpreter picks the
program. A failing script stops the install only with --erroronfail.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path
from typing import Any

from .errors import InstallFailed

SYSIMAGE = Path("/mnt/sysimage")
# A script that never ends must not hang the install (the boot test has no one to press a key).
SCRIPT_TIMEOUT = 1800


def run_script(script: Any, *, kind: str, sysimage: Path = SYSIMAGE) -> int:
    """Run one kickstart script; return its exit code (InstallFailed with --erroronfail)."""
    chroot = kind == "post" and bool(script.inChroot)
    root = sysimage if chroot else Path("/")
    tmp_dir = root / "tmp"
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"ks-script-{kind}-{script.lineno}"
    path.write_text(script.script)
    path.chmod(0o700)
    interpreter = script.interp or "/bin/sh"
    inner = ["/tmp/" + path.name]
    cmd = (["/usr/sbin/chroot", str(sysimage), interpreter, *inner] if chroot
           else [interpreter, str(path)])
    if chroot and not (sysimage / interpreter.lstrip("/")).exists():
        return _fail_or(script, kind, 127,
                        f"interpreter {interpreter} is not on the installed system")
    log_path: Path | None = None
    if script.logfile:
        log_path = (sysimage / script.logfile.lstrip("/")) if chroot else Path(script.logfile)
        log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, PATH="/usr/sbin:/usr/bin:/sbin:/bin", HOME="/root", TERM="dumb",
               LANG="C")
    try:
        with (log_path.open("a") if log_path else open(os.devnull, "w")) as out:  # noqa: SIM115
            proc = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=out,
                                  stderr=subprocess.STDOUT, env=env, cwd="/",
                                  timeout=SCRIPT_TIMEOUT, check=False)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        code = -1
    except OSError as exc:
        return _fail_or(script, kind, 127, f"cannot run {interpreter}: {exc}")
    finally:
        path.unlink(missing_ok=True)
    if code != 0:
        return _fail_or(script, kind, code, f"exited with code {code}", log_path)
    return 0


def _last_lines(path: Path | None, count: int = 3) -> str:
    if path is None or not path.is_file():
        return ""
    lines = [ln.strip() for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    return " | ".join(lines[-count:])


def _fail_or(script: Any, kind: str, code: int, why: str, log_path: Path | None = None) -> int:
    message = f"%{kind} script at line {script.lineno} {why}"
    if script.errorOnFail:
        klass = "post" if kind == "post" else "kickstart"
        log = f" (log: {script.logfile})" if script.logfile else ""
        tail = _last_lines(log_path)
        raise InstallFailed(klass, message + log + (f": {tail}" if tail else ""))
    return code
