"""Run a section of the rendered product kickstart for real (dash), against a fake root.

Absolute paths of the installed system in the script (/etc/, /root/, /opt/tomcat, /sys/block)
are redirected into the fake root; rpm and df are small fakes on PATH.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

from buildiso.render.profile import Profile
from buildiso.render.templates import render_kickstart

REPORT_POST = "%post --log=/root/ks-post-report.log --erroronfail"


def section(ks: str, header: str) -> str:
    start = ks.index(header + "\n") + len(header) + 1
    return ks[start : ks.index("\n%end\n", start) + 1]


def fake_tool(bindir: Path, name: str, body: str) -> Path:
    path = bindir / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def run_sh(script: str, *, bindir: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    shell = shutil.which("dash") or "/bin/sh"
    env = {"PATH": f"{bindir}:{os.environ['PATH']}", "LANG": "C"}
    return subprocess.run([shell, "-c", script], capture_output=True, text=True, env=env, cwd=cwd)


def post_install_report(profile: Profile, root: Path, work: Path) -> dict[str, Any]:
    """The product's report %post run on ``root`` (an installed system's files); returns the
    report it wrote. rpm -qa lists the profile's packages; df shows every partition."""
    bindir = work / "report-bin"
    bindir.mkdir(parents=True)
    names = " ".join(f"{n}-1.0-1.x86_64" for n in profile.packages.install)
    fake_tool(bindir, "rpm", f'case "$1" in -qa) printf "%s\\n" {names} ;; *) exit 1 ;; esac\n')
    rows = "".join(f'  {p.mount}) echo "/dev/sda{i} {p.size_mb} 1 1 1% {p.mount}" ;;\n'
                   for i, p in enumerate(profile.partitions, start=2))  # fmt: skip
    fake_tool(bindir, "df", 'echo "Filesystem 1048576-blocks Used Available Capacity Mounted"\n'
              f'for a in "$@"; do case "$a" in\n{rows}esac; done\n')  # fmt: skip
    for sub in ("etc", "root", "sys/block"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    script = section(render_kickstart(profile, password_hash=profile.admin_password_hash),
                     REPORT_POST).replace("RPM=/bin/rpm", f"RPM={bindir}/rpm")  # fmt: skip
    script = re.sub(r"(?<![\w.])(/etc/|/opt/tomcat|/root/|/sys/block)",
                    lambda m: f"{root}{m.group(1)}", script)  # fmt: skip
    proc = run_sh(script, bindir=bindir, cwd=work)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads((root / "root/buildiso-postinstall.json").read_text())
    return report
