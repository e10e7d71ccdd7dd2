"""The build pipeline's own logic (the whole pipeline runs in test_build_e2e.py)."""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from buildiso import build, paths
from buildiso.cli import main
from buildiso.sample.base import SampleBase


def _published(tmp_path: Path) -> dict[str, Path]:
    """An ISO, SHA256SUM and manifest as a build leaves them, plus its recorded state."""
    files = {
        "iso_path": tmp_path / "X.iso",
        "manifest_path": tmp_path / "X.manifest.json",
        "sums": tmp_path / "SHA256SUM",
        "state_path": tmp_path / ".X.buildstate.json",
    }
    files["iso_path"].write_bytes(b"iso")
    files["manifest_path"].write_text(json.dumps({"schema": 1, "iso": {"sha256": "s" * 64}}))
    files["sums"].write_text(f"{'s' * 64}  X.iso\n")
    return files


def test_unchanged_build_needs_same_fingerprint_and_untouched_iso(tmp_path: Path) -> None:
    files = _published(tmp_path)
    # No state recorded (e.g. an older build): never skipped.
    assert build._unchanged_build(**files, fingerprint="f") is None

    def record() -> None:
        build._record_state(
            state_path=files["state_path"],
            iso_path=files["iso_path"],
            manifest_path=files["manifest_path"],
            fingerprint="f",
        )

    record()
    manifest = json.loads(files["manifest_path"].read_text())
    assert build._unchanged_build(**files, fingerprint="f") == manifest
    assert "fingerprint" not in manifest and "stat" not in manifest["iso"]
    # Other inputs: rebuilt, and the state that no longer matches is gone.
    assert build._unchanged_build(**files, fingerprint="other") is None
    assert not files["state_path"].exists()

    record()
    st = files["iso_path"].stat()
    os.utime(files["iso_path"], ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
    assert build._unchanged_build(**files, fingerprint="f") is None  # touched ISO

    record()
    replacement = tmp_path / "copy.iso"
    shutil.copy2(files["iso_path"], replacement)  # same bytes, size and mtime; new inode
    os.replace(replacement, files["iso_path"])
    assert build._unchanged_build(**files, fingerprint="f") is None  # replaced ISO

    record()
    files["manifest_path"].write_text(files["manifest_path"].read_text() + " ")
    assert build._unchanged_build(**files, fingerprint="f") is None  # edited manifest

    files["state_path"].write_text("{not json")
    assert build._unchanged_build(**files, fingerprint="f") is None  # damaged state
    assert not files["state_path"].exists()


def test_base_without_gateway_rpms(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["build", "--base", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "--base and --gateway-rpms go together" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_sigterm_cleans_up_like_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), build._sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal arrives long before this ends
    assert signal.getsignal(signal.SIGTERM) == before


def test_interrupt_during_cleanup_still_removes_the_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Measured: a SIGTERM landing in rmtree left a half-removed .work folder behind.
    real_rmtree = build.shutil.rmtree
    calls = [0]

    def rmtree_interrupted_once(path: Path, ignore_errors: bool = False) -> None:
        calls[0] += 1
        if calls[0] == 1:
            (Path(path) / "ks.cfg").unlink()  # part of the folder is gone already
            raise KeyboardInterrupt
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(build.shutil, "rmtree", rmtree_interrupted_once)
    with pytest.raises(KeyboardInterrupt), build._work_dir(tmp_path, "X.iso") as work:
        (work / "ks.cfg").write_text("x")
        (work / "X.iso").write_bytes(b"partial")
    assert list(tmp_path.iterdir()) == []
    assert calls[0] == 2


def test_signals_wait_until_the_outputs_are_published(tmp_path: Path) -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), build._sigterm_as_interrupt():
        with build._signals_held():
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(0.2)  # without the hold, the interrupt would land here
            done.append("published")
        time.sleep(5)  # the held signal arrives long before this ends
    assert done == ["published"]


def test_scratch_folders_of_a_killed_build_are_removed(tmp_path: Path) -> None:
    # SIGKILL or a power cut runs no cleanup: the next build into the folder removes it.
    stale = tmp_path / ".X.iso.work-dead1"
    (stale / "overlay").mkdir(parents=True)
    (stale / "X.iso").write_bytes(b"partial")
    other = tmp_path / ".Y.iso.work-live1"  # another product's build: not ours to touch
    other.mkdir()
    with build._work_dir(tmp_path, "X.iso") as work:
        assert not stale.exists() and other.is_dir()
        assert work.parent == tmp_path and work.name.startswith(".X.iso.work-")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".Y.iso.work-live1"]


def test_one_build_per_output_folder(tmp_path: Path) -> None:
    entered = threading.Event()
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(folder, fcntl.LOCK_EX)  # another build holds the folder

    def second_build() -> None:
        with build._work_dir(tmp_path, "X.iso"):
            entered.set()

    worker = threading.Thread(target=second_build)
    worker.start()
    assert not entered.wait(0.5)  # it waits ...
    os.close(folder)
    worker.join()
    assert entered.is_set()  # ... and goes on once the folder is free


# --- --allow-unresolved (development builds) -------------------------------------------------


def _sample_build_args(sample: SampleBase, rpms: Path) -> list[str]:
    return ["build", "--base", str(sample.tree), "--gateway-rpms", str(rpms),
            "--gpg-key", str(sample.gpg_public_key), "--key-id", sample.key_id]  # fmt: skip


def _rpms_without_core(sample: SampleBase, dest: Path) -> Path:
    dest.mkdir()
    for rpm in sorted(sample.gateway_rpms.glob("*.rpm")):
        if rpm.name != "cs-email-core-4.9.0-190.x86_64.rpm":  # cs-email Requires it
            shutil.copyfile(rpm, dest / rpm.name)
    return dest


@pytest.mark.integration
def test_allow_unresolved_ships_missing_requires_loudly(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _sample_build_args(sample_base, _rpms_without_core(sample_base, tmp_path / "rpms"))
    out = tmp_path / "out"
    assert main([*args, "--out", str(out)]) == 2  # a release build refuses
    assert "unresolved dependency: " in capsys.readouterr().err
    assert main([*args, "--allow-unresolved", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "--allow-unresolved: DEVELOPMENT BUILD" in captured.err
    assert (
        "--allow-unresolved: shipping ks.cfg:" in captured.err and "cs-email-core" in captured.err
    )
    assert "UNRESOLVED REQUIRES SHIPPED" in captured.out
    manifest = json.loads((out / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["depsolve"] == {"allow_unresolved": True}
    unresolved = manifest["install_set_unresolved"]
    assert unresolved and all(u.startswith("ks.cfg:") for u in unresolved)
    assert any("cs-email-core" in u for u in unresolved)
    assert (out / "EMAIL_490_190.iso").is_file()


@pytest.mark.integration
def test_allow_unresolved_keeps_conflicts_fatal(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile.toml"
    text = paths.DEFAULT_PROFILE.read_text()
    profile.write_text(text.replace('"postfix", ', ""))  # postfix conflicts with cs-email
    assert profile.read_text() != text
    args = _sample_build_args(sample_base, sample_base.gateway_rpms)
    out = tmp_path / "out"
    out.mkdir()
    assert main([*args, "--profile", str(profile), "--allow-unresolved", "--out", str(out)]) == 2
    assert "conflicts with postfix" in capsys.readouterr().err
    assert list(out.iterdir()) == []


@pytest.mark.integration
def test_release_build_records_no_unresolved(built_iso: Path) -> None:
    manifest = json.loads((built_iso.parent / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["depsolve"] == {"allow_unresolved": False}
    assert manifest["install_set_unresolved"] == []
