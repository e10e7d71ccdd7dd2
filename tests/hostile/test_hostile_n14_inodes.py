"""Second hostile audit, N14: inodes (or space) running out during a build.

Before: inodes exhausted during compose gave a 37-line traceback (the old ISO was kept).
Now: one line naming the output folder and what ran out, exit 1 (the machine, not the
input), the outputs of the previous build untouched, no scratch folder left behind.

Each case runs the real CLI in a private mount namespace on a small tmpfs with few inodes
(``unshare --mount``: the mount vanishes with the test's shell).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from hostile.hostile_build import sample_args

from buildiso import paths
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

OLD = {"EMAIL_490_190.iso": "old iso\n", "EMAIL_490_190.manifest.json": "{}\n",
       "SHA256SUM": "0  EMAIL_490_190.iso\n"}  # fmt: skip
# At most 20,000 files: the tmpfs holds 4,000 inodes, and a mistake must not fill a real disk.
# (`true`, not `:`: a failed redirection of a special builtin ends a POSIX shell.)
_FILL = 'i=0; while [ $i -lt 20000 ] && true > "{fill}/f$i" 2>/dev/null; do i=$((i+1)); done'


def _createrepo(folder: Path, fill_dir: Path, *, when: str) -> Path:
    """createrepo_c that uses up the output file system's inodes (files in ``fill_dir``, on
    the tmpfs) before or after it writes a repository; version probes pass through."""
    real = shutil.which("createrepo_c")
    folder.mkdir()
    script = folder / "createrepo_c"
    fill = _FILL.format(fill=fill_dir)
    body = f'{fill}\nexec {real} "$@"\n' if when == "before" else f'{real} "$@" || exit\n{fill}\n'
    script.write_text(f'#!/bin/sh\ncase "$1" in --version) exec {real} "$@";; esac\n'
                      f'[ -d "{fill_dir}" ] || exit 99\n{body}')  # fmt: skip
    script.chmod(0o755)
    return folder


def _run(tmp: Path, sample: SampleBase, *, leave_free: int | None, tools: Path | None) -> Path:
    mnt, logs = tmp / "mnt", tmp / "logs"
    mnt.mkdir()
    logs.mkdir()
    old = "\n".join(f"printf '{text}' > {mnt}/out/{name}" for name, text in OLD.items())
    fill = ""
    if leave_free is not None:
        fill = _FILL.format(fill=f"{mnt}/fill")
        fill += f"\nfor j in $(seq 1 {leave_free}); do rm {mnt}/fill/f$((i-j)); done"
    cli = f"{sys.executable} -m buildiso build {' '.join(sample_args(sample))}"
    script = f"""
mount -t tmpfs -o size=400m,nr_inodes=4000 tmpfs {mnt} || exit 97
mkdir {mnt}/out {mnt}/fill
{old}
{fill}
{cli} --out {mnt}/out > {logs}/stdout 2> {logs}/stderr
echo $? > {logs}/rc
ls -A {mnt}/out > {logs}/after
for f in {" ".join(OLD)}; do cat {mnt}/out/$f; done > {logs}/old
"""
    path = os.environ["PATH"] if tools is None else f"{tools}:{os.environ['PATH']}"
    proc = subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
        env={**os.environ, "PATH": path}, cwd=paths.PROJECT_ROOT, capture_output=True,
        text=True, timeout=900,
    )  # fmt: skip
    if proc.returncode == 97 or proc.returncode != 0 and "unshare" in proc.stderr:
        pytest.skip(f"no private tmpfs here: {proc.stderr.strip()}")
    return logs


def _check(logs: Path) -> str:
    err = (logs / "stderr").read_text()
    assert (logs / "rc").read_text().strip() == "1", err[-3000:]
    assert "Traceback" not in err
    (line,) = [x for x in err.splitlines() if x.startswith("buildiso: error:")]
    assert (logs / "old").read_text() == "".join(OLD.values())  # the old outputs, untouched
    assert sorted((logs / "after").read_text().split()) == sorted(OLD)  # no scratch left
    return line


def test_too_few_inodes_before_the_build_is_one_line(
    sample_base: SampleBase, tmp_path: Path
) -> None:
    line = _check(_run(tmp_path, sample_base, leave_free=3, tools=None))
    assert "inodes" in line and "/mnt/out" in line


@pytest.mark.parametrize("when", ["before", "after"])
def test_inodes_running_out_during_compose_is_one_line(
    when: str, sample_base: SampleBase, tmp_path: Path
) -> None:
    tools = _createrepo(tmp_path / "bin", tmp_path / "mnt" / "fill", when=when)
    line = _check(_run(tmp_path, sample_base, leave_free=None, tools=tools))
    assert "No space left on device" in line or "no space or inodes left" in line
