"""Second hostile audit, N6: there was no lock on ``--artifacts``: two runs into one folder
both exited 0, the second deleting the first's cell folder mid-run.

Now every output folder has a lock (``outdir.locked``: ``flock`` on the folder itself, as
``publish.locked_work_dir`` does for the build): a second ``boot-test`` into the same
``--artifacts``, or a second ``report`` into the same ``--out``, is refused at once in one
line (exit 2) while the first goes on untouched. Chosen over waiting because a boot test
runs for many minutes and a second run would replace the first's results anyway; the
lock dies with its holder, so a killed run never blocks the next.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from bootfakes import good_report, install_script, quick, run_shard
from hostile.hostile_boottest import fake_iso, faked, one_error_line

from buildiso.cli import main
from buildiso.render.profile import Profile


def _wait_for(condition: object, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_second_boot_test_into_the_same_artifacts_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    profile: Profile,
) -> None:  # fmt: skip
    artifacts = tmp_path / "art"
    iso = fake_iso(tmp_path / "in")
    script = quick(install_script(report=good_report(profile)), factor=4)  # a few seconds
    args = ["boot-test", str(iso), "--accel", "tcg", "--artifacts", str(artifacts)]
    codes: list[int] = []
    with faked(monkeypatch, {"bios-dvd": script, "bios-dvd#2": script}) as factory:
        first = threading.Thread(target=lambda: codes.append(main(args)))
        first.start()
        _wait_for(lambda: factory.started)  # the first run's guest is up
        guest = factory.started[0]
        assert main(args) == 2
        first.join(60)
    err = capsys.readouterr().err
    one_error_line(err, names=f"--artifacts {artifacts}: another buildiso boot-test is writing")
    assert codes == [0], err
    assert len(factory.started) == 1  # the second run started no machine
    result = json.loads((artifacts / "bios-dvd" / "result.json").read_text())
    assert result["passed"] and guest.alive is False
    # the lock goes with its holder: a run after the first one ends is not refused
    with faked(monkeypatch, {"bios-dvd": quick(install_script(report=good_report(profile)))}):
        assert main(args) == 0


@pytest.fixture(scope="module")
def shard(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> Path:
    tmp = tmp_path_factory.mktemp("n6")
    script = quick(install_script(report=good_report(profile)))
    assert run_shard(tmp, artifacts=tmp / "shard", scripts={"bios-dvd": script},
                     cell_names=("bios-dvd",)) is None  # fmt: skip
    return tmp / "shard"


def test_a_report_into_a_folder_another_writer_holds_is_refused(
    shard: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "report"
    assert main(["report", str(shard), "--out", str(out)]) == 0
    before = (out / "index.html").read_bytes()
    # another writer: util-linux flock(1) holding the folder, as a second report would
    holder = subprocess.Popen(["flock", "--exclusive", str(out), "sleep", "60"],
                              start_new_session=True)  # its group: flock and its sleep
    try:
        _wait_for(lambda: _held(out))
        capsys.readouterr()
        assert main(["report", str(shard), "--out", str(out)]) == 2
        one_error_line(capsys.readouterr().err,
                       names=f"--out {out}: another buildiso report is writing")  # fmt: skip
        assert (out / "index.html").read_bytes() == before
    finally:
        os.killpg(holder.pid, signal.SIGKILL)
        holder.wait()
    assert main(["report", str(shard), "--out", str(out)]) == 0
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".report.")]


def _held(folder: Path) -> bool:
    probe = subprocess.run(["flock", "--nonblock", "--exclusive", str(folder), "true"],
                           check=False)  # fmt: skip
    return probe.returncode != 0
