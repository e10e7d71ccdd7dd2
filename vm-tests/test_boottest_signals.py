"""SIGTERM (and SIGHUP) to a real ``buildiso boot-test`` while QEMU installs (issue #22, N3).

A CI runner cancelling or timing out a job sends SIGTERM to the job's process. Before,
that killed the run at once: QEMU orphaned under PID 1 at full CPU, its private
``buildiso-vm-*`` folder left, nothing written. Here the real command (``python -m
buildiso boot-test``, one BIOS/DVD cell under TCG) is sent the signal once its QEMU has
booted for a few seconds; it must stop that QEMU, remove every private folder it held and
write partial results, exiting 128 + the signal's number.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso.boottest.results import Summary

pytestmark = pytest.mark.vm

ROOT = Path(__file__).resolve().parents[1]


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
            found.append(int(entry.name))
    return found


def _cmdline(pid: int) -> list[str]:
    try:
        return (Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
                .split("\0"))  # fmt: skip
    except OSError:
        return []


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _private_folders(pid: int) -> set[Path]:
    """The buildiso-* folders whose lock ``pid`` holds open (tmpdirs.private_dir)."""
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = Path(os.readlink(fd))
        except OSError:
            continue
        if target.name == ".buildiso.lock" and target.parent.name.startswith("buildiso-"):
            held.add(target.parent)
    return held


def _qemus_of(artifacts: Path) -> list[int]:
    """Every QEMU on the machine whose command line writes into ``artifacts``."""
    return [int(p.name) for p in Path("/proc").iterdir() if p.name.isdigit()
            and any(str(artifacts) in arg for arg in _cmdline(int(p.name)))
            and "qemu-system" in " ".join(_cmdline(int(p.name))[:1])]  # fmt: skip


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP],
                         ids=lambda s: signal.Signals(s).name)  # fmt: skip
def test_a_signal_stops_qemu_removes_private_folders_and_writes_results(
    signum: signal.Signals, built_iso: Path, tmp_path: Path
) -> None:
    artifacts = tmp_path / "art"
    proc = subprocess.Popen(
        [sys.executable, "-m", "buildiso", "boot-test", str(built_iso), "--accel", "tcg",
         "--artifacts", str(artifacts)],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        start_new_session=True,
    )  # fmt: skip
    qemu: int | None = None
    try:
        deadline = time.monotonic() + 120
        while qemu is None:
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "QEMU never started"
            qemu = next((c for c in _children(proc.pid)
                         if "qemu-system" in " ".join(_cmdline(c)[:1])), None)  # fmt: skip
            time.sleep(0.2)
        args = _cmdline(qemu)
        qmp = args[args.index("-qmp") + 1]  # unix:/tmp/buildiso-vm-XXXX/qmp.sock,...
        vm_folder = Path(qmp.removeprefix("unix:").split(",")[0]).parent
        time.sleep(8)  # booting: firmware, menu, the installer's kernel
        private = _private_folders(proc.pid) | {vm_folder}
        assert vm_folder.name.startswith("buildiso-vm-") and vm_folder.is_dir()
        assert _alive(qemu) and (artifacts / "bios-dvd" / "console.log").stat().st_size > 0
        started = time.monotonic()
        os.kill(proc.pid, signum)  # the run's process only, as a CI runner does
        _out, err = proc.communicate(timeout=90)
        stopped_in = time.monotonic() - started
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if qemu is not None and _alive(qemu) and "qemu-system" in " ".join(_cmdline(qemu)[:1]):
            os.kill(qemu, signal.SIGKILL)  # ours, if the run orphaned it
    print(f"\n{signal.Signals(signum).name}: the run ended {stopped_in:.1f} s after the signal")
    assert proc.returncode == 128 + signum, err
    assert "Traceback" not in err
    assert f"interrupted by {signal.Signals(signum).name}: 0 of 1 cell(s) finished" in err
    assert not _alive(qemu), "QEMU outlived the run"
    assert _qemus_of(artifacts) == []
    assert [p for p in private if p.exists()] == [], "a private folder was left"
    summary = Summary.load(artifacts / "summary.json")
    (cell,) = summary.cells
    assert cell.failure_class == "interrupted" and "interrupted during stage" in cell.message
    assert (artifacts / "bios-dvd" / "result.json").is_file()
    (failure,) = ET.parse(artifacts / "junit.xml").getroot().iter("failure")
    assert failure.get("type") == "interrupted"
