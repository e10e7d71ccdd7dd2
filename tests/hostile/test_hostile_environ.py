"""Second hostile audit ("also weak"): the password given in ``BUILDISO_CS_ADMIN_PASSWORD``
stayed readable in ``/proc/<pid>/environ`` for the whole build: deleting it from
``os.environ`` does not change the process's environment block, which the kernel shows to
anyone who may read that file. Now the CLI takes the variable out before any work by
executing itself again without it, and hands the password over through an inherited pipe.

The test runs the real CLI and, from inside the build (a tool it starts), reads the
build's own ``/proc/<pid>/environ`` and ``cmdline``.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile.hostile_build import sample_args

from buildiso import paths
from buildiso.master.basetree import open_base
from buildiso.sample.base import SampleBase

SECRET = "Xk9#mRq2vL-Tz7w"
ENV_VAR = "BUILDISO_CS_ADMIN_PASSWORD"

ENTRY_POINTS = {
    "console script": [str(Path(sys.executable).with_name("buildiso"))],
    "python -m buildiso": [sys.executable, "-m", "buildiso"],
}


def _spying_createrepo(folder: Path, dumps: Path) -> Path:
    """createrepo_c that saves the environment and command line of its parent (the build)."""
    real = shutil.which("createrepo_c")
    assert real is not None
    folder.mkdir()
    script = folder / "createrepo_c"
    script.write_text(
        "#!/bin/sh\n"
        f'cat /proc/$PPID/environ > "{dumps}/environ.$PPID"\n'
        f'cat /proc/$PPID/cmdline > "{dumps}/cmdline.$PPID"\n'
        f'exec {real} "$@"\n'
    )
    script.chmod(0o755)
    return folder


@pytest.mark.integration
@pytest.mark.parametrize("entry", sorted(ENTRY_POINTS))
def test_running_build_does_not_hold_the_password_in_its_environment(
    entry: str, sample_base: SampleBase, tmp_path: Path
) -> None:
    dumps = tmp_path / "dumps"
    dumps.mkdir()
    spy = _spying_createrepo(tmp_path / "bin", dumps)
    env = {**os.environ, "PATH": f"{spy}:{os.environ['PATH']}", ENV_VAR: SECRET}
    out = tmp_path / "out"
    proc = subprocess.run(
        [*ENTRY_POINTS[entry], "build", *sample_args(sample_base), "--out", str(out)],
        env=env, capture_output=True, text=True, cwd=paths.PROJECT_ROOT, timeout=900,
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr[-3000:]
    environs = sorted(dumps.glob("environ.*"))
    assert environs, "createrepo_c did not run"
    for dump in [*environs, *dumps.glob("cmdline.*")]:
        data = dump.read_bytes()
        assert SECRET.encode() not in data and ENV_VAR.encode() + b"=" not in data, dump.name
    assert b"PATH=" in environs[0].read_bytes()  # it is the build's environment we read
    # the password did reach the build: ks.cfg holds its hash (openssl as the referee)
    with open_base(out / "EMAIL_490_190.iso") as media:
        ks = media.read_bytes("ks.cfg").decode()
    match = re.search(r"--iscrypted --password=(\$6\$([^$]+)\$[^ \n]+)", ks)
    assert match is not None and SECRET not in ks
    check = subprocess.run(["openssl", "passwd", "-6", "-salt", match.group(2), "-stdin"],
                           input=SECRET, capture_output=True, text=True, check=True)  # fmt: skip
    assert check.stdout.strip() == match.group(1)


def test_deleting_from_os_environ_does_not_change_proc_environ() -> None:
    """Why the fix re-executes: the kernel's copy of the environment outlives os.environ."""
    code = (
        "import os; os.environ.pop('MARKER_VAR'); "
        "print(b'MARKER_VAR=' in open('/proc/self/environ', 'rb').read())"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          env={**os.environ, "MARKER_VAR": "x"}, check=True)  # fmt: skip
    assert proc.stdout.strip() == "True"
