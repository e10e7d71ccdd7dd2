"""Second hostile audit, N3: SIGTERM to ``boot-test`` (what CI runners send on cancel or
timeout) killed it at once: QEMU orphaned under PID 1, a ``buildiso-vm-*`` folder left,
nothing written. SIGINT was handled, but left no partial results either.

Now SIGTERM and SIGHUP are handled as SIGINT is (``buildiso/interrupts.py``): every guest
and child stopped, the private folders removed, and partial results written
(summary.json and JUnit, the cells not finished marked ``interrupted``), exit 128 + the
signal's number. Here the run is a real process (``n03_driver.py``: the real command
line, scripted guests, each paired with a real child standing in for QEMU) sent each
signal mid-install. ``vm-tests/test_boottest_signals.py`` does the same with QEMU.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso.boottest.results import Summary

DRIVER = Path(__file__).with_name("n03_driver.py")
ROOT = Path(__file__).resolve().parents[2]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state != "Z"


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT],
                         ids=lambda s: signal.Signals(s).name)  # fmt: skip
def test_a_signal_mid_run_stops_everything_and_writes_partial_results(
    signum: signal.Signals, tmp_path: Path
) -> None:
    artifacts = tmp_path / "art"
    pidfile = tmp_path / "guest-pids"
    private = tmp_path / "tmp"  # the run's TMPDIR: its private folders land here
    private.mkdir()
    env = {**os.environ, "TMPDIR": str(private)}
    proc = subprocess.Popen([sys.executable, str(DRIVER), str(artifacts), str(pidfile)],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, start_new_session=True)  # fmt: skip
    pids: list[int] = []
    try:
        deadline = time.monotonic() + 60
        while not (pidfile.exists() and pidfile.read_text().strip()):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the driver's first guest never started"
            time.sleep(0.05)
        pids = [int(p) for p in pidfile.read_text().split()]
        time.sleep(1.0)  # well into the install
        assert _alive(pids[0])
        os.kill(proc.pid, signum)  # the run's process only, as a CI runner does
        _out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        for pid in [int(p) for p in pidfile.read_text().split()] if pidfile.exists() else []:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)  # our own stand-in, if the run orphaned it
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    (line,) = [ln for ln in err.splitlines() if ln.startswith("buildiso: error:")]
    assert f"interrupted by {signal.Signals(signum).name}: 0 of 2 cell(s) finished" in line
    assert str(artifacts / "summary.json") in line
    # every child stopped (the stand-in QEMU, and no second guest started after it)
    assert pids == [int(p) for p in pidfile.read_text().split()]
    assert not any(_alive(pid) for pid in pids), "a guest's process outlived the run"
    # the private folders removed
    assert [p.name for p in private.iterdir() if p.name.startswith("buildiso-")] == []
    # partial results: both cells there, marked interrupted (the second never started)
    summary = Summary.load(artifacts / "summary.json")
    classes = {c.name: (c.failure_class, c.message) for c in summary.cells}
    assert set(classes) == {"bios-dvd", "uefi-dvd"}
    assert all(klass == "interrupted" for klass, _ in classes.values()), classes
    running, waiting = sorted(classes.values(), key=lambda c: "not started" in c[1])
    assert "the run was interrupted during stage " in running[1]
    assert "not started" in waiting[1]
    first = next(c for c in summary.cells if "not started" not in c.message)
    assert json.loads((artifacts / first.name / "result.json").read_text())["failure_class"] \
        == "interrupted"  # fmt: skip
    failures = [f.get("type") for f in ET.parse(artifacts / "junit.xml").getroot().iter("failure")]
    assert failures == ["interrupted", "interrupted"]


VERB_KILLED = """\
import os, signal, sys, time
from buildiso import cli
from buildiso.render import templates

def killed(**kwargs):
    os.kill(os.getpid(), signal.{name})
    time.sleep(30)  # a verb at work (children, temporary files) when the signal comes

templates.render_command = killed
sys.exit(cli.main(["render", "--out", sys.argv[1]]))
"""


@pytest.mark.parametrize("name", ["SIGTERM", "SIGHUP"])
def test_every_verb_handles_sigterm_and_sighup_as_ctrl_c(name: str, tmp_path: Path) -> None:
    """cli.main holds the handlers for every verb (build, sample-base, inspect, ...), so a
    verb that starts children is unwound as on Ctrl-C, never killed mid-way."""
    proc = subprocess.run([sys.executable, "-c", VERB_KILLED.format(name=name),
                           str(tmp_path / "out")], cwd=ROOT, capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    assert proc.returncode == 128 + signal.Signals[name], proc.stderr
    assert proc.stderr.strip() == f"buildiso: interrupted ({name}); partial outputs were removed"
