"""buildiso.publish: the output folder's lock, scratch folders, rebuild state, signals."""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import signal
import threading
import time
from pathlib import Path

import pytest

from buildiso import publish


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
    assert publish.unchanged_build(**files, fingerprint="f") is None

    def record() -> None:
        publish.record_state(
            state_path=files["state_path"],
            iso_path=files["iso_path"],
            manifest_path=files["manifest_path"],
            fingerprint="f",
        )

    record()
    manifest = json.loads(files["manifest_path"].read_text())
    assert publish.unchanged_build(**files, fingerprint="f") == manifest
    assert "fingerprint" not in manifest and "stat" not in manifest["iso"]
    # Other inputs: rebuilt, and the state that no longer matches is gone.
    assert publish.unchanged_build(**files, fingerprint="other") is None
    assert not files["state_path"].exists()

    record()
    st = files["iso_path"].stat()
    os.utime(files["iso_path"], ns=(st.st_mtime_ns + 10**9, st.st_mtime_ns + 10**9))
    assert publish.unchanged_build(**files, fingerprint="f") is None  # touched ISO

    record()
    replacement = tmp_path / "copy.iso"
    shutil.copy2(files["iso_path"], replacement)  # same bytes, size and mtime; new inode
    os.replace(replacement, files["iso_path"])
    assert publish.unchanged_build(**files, fingerprint="f") is None  # replaced ISO

    record()
    files["manifest_path"].write_text(files["manifest_path"].read_text() + " ")
    assert publish.unchanged_build(**files, fingerprint="f") is None  # edited manifest

    files["state_path"].write_text("{not json")
    assert publish.unchanged_build(**files, fingerprint="f") is None  # damaged state
    assert not files["state_path"].exists()


def test_sigterm_cleans_up_like_ctrl_c() -> None:
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt), publish.sigterm_as_interrupt():
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(5)  # the signal arrives long before this ends
    assert signal.getsignal(signal.SIGTERM) == before


def test_interrupt_during_cleanup_still_removes_the_work_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Measured: a SIGTERM landing in rmtree left a half-removed .work folder behind.
    real_rmtree = publish.shutil.rmtree
    calls = [0]

    def rmtree_interrupted_once(path: Path, ignore_errors: bool = False) -> None:
        calls[0] += 1
        if calls[0] == 1:
            (Path(path) / "ks.cfg").unlink()  # part of the folder is gone already
            raise KeyboardInterrupt
        real_rmtree(path, ignore_errors=ignore_errors)

    monkeypatch.setattr(publish.shutil, "rmtree", rmtree_interrupted_once)
    with pytest.raises(KeyboardInterrupt), publish.locked_work_dir(tmp_path, "X.iso") as work:
        (work / "ks.cfg").write_text("x")
        (work / "X.iso").write_bytes(b"partial")
    assert list(tmp_path.iterdir()) == []
    assert calls[0] == 2


def test_signals_wait_until_the_outputs_are_published(tmp_path: Path) -> None:
    done = []
    with pytest.raises(KeyboardInterrupt), publish.sigterm_as_interrupt():
        with publish.signals_held():
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
    with publish.locked_work_dir(tmp_path, "X.iso") as work:
        assert not stale.exists() and other.is_dir()
        assert work.parent == tmp_path and work.name.startswith(".X.iso.work-")
    assert sorted(p.name for p in tmp_path.iterdir()) == [".Y.iso.work-live1"]


def test_one_build_per_output_folder(tmp_path: Path) -> None:
    entered = threading.Event()
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    fcntl.flock(folder, fcntl.LOCK_EX)  # another build holds the folder

    def second_build() -> None:
        with publish.locked_work_dir(tmp_path, "X.iso"):
            entered.set()

    worker = threading.Thread(target=second_build)
    worker.start()
    assert not entered.wait(0.5)  # it waits ...
    os.close(folder)
    worker.join()
    assert entered.is_set()  # ... and goes on once the folder is free


def test_signals_are_held_while_other_threads_run(tmp_path: Path) -> None:
    """A process-directed SIGTERM may be handed to any thread that does not block it; the
    hold must not depend on which one (a signal mask covers only the main thread)."""
    import threading

    stop = threading.Event()
    others = [threading.Thread(target=stop.wait, daemon=True) for _ in range(4)]
    for thread in others:
        thread.start()
    done = []
    try:
        for _ in range(5):
            with pytest.raises(KeyboardInterrupt), publish.sigterm_as_interrupt():
                with publish.signals_held():
                    os.kill(os.getpid(), signal.SIGTERM)
                    time.sleep(0.2)
                    done.append("published")
                time.sleep(5)
    finally:
        stop.set()
    assert done == ["published"] * 5


# --- the online repository tree -----------------------------------------------------------


def _online_build(out: Path, content: bytes) -> tuple[publish.Outputs, Path]:
    """A build's scratch folder holding an ISO and an online tree with one file."""
    out.mkdir(exist_ok=True)
    work = out / ".X.iso.work-1"
    shutil.rmtree(work, ignore_errors=True)
    tree = work / "online"
    (tree / "rhel6").mkdir(parents=True)
    (tree / "rhel6" / "f.rpm").write_bytes(content)
    (work / "X.iso").write_bytes(b"iso")
    return publish.Outputs(out_dir=out, iso_name="X.iso"), work


def _publish_online(outputs: publish.Outputs, work: Path, content: bytes) -> None:
    files = {"rhel6/f.rpm": hashlib.sha256(content).hexdigest()}
    manifest = {"schema": 1, "iso": {"sha256": "s" * 64}, "online": {"files": files}}
    publish.publish(
        outputs=outputs, tmp_iso=work / "X.iso", sha256="s" * 64, manifest=manifest,
        fingerprint="f", tmp_online=work / "online",
    )  # fmt: skip


def test_the_online_tree_is_published_beside_the_iso_and_replaces_the_old_one(
    tmp_path: Path,
) -> None:
    outputs, work = _online_build(tmp_path / "out", b"one")
    assert outputs.online == tmp_path / "out" / "X.online"
    _publish_online(outputs, work, b"one")
    assert (outputs.online / "rhel6" / "f.rpm").read_bytes() == b"one"
    assert not (work / "online").exists()
    assert publish.previous_build(outputs, fingerprint="f") is not None

    outputs, work = _online_build(tmp_path / "out", b"two")
    (outputs.online / "served-by-hand.txt").write_text("old tree")
    _publish_online(outputs, work, b"two")
    assert sorted(p.name for p in outputs.online.rglob("*")) == ["f.rpm", "rhel6"]
    assert (outputs.online / "rhel6" / "f.rpm").read_bytes() == b"two"
    assert (work / "online.old" / "served-by-hand.txt").is_file()  # removed with the scratch


def test_an_edited_online_tree_is_rebuilt(tmp_path: Path) -> None:
    outputs, work = _online_build(tmp_path / "out", b"one")
    _publish_online(outputs, work, b"one")
    assert publish.previous_build(outputs, fingerprint="f") is not None
    (outputs.online / "rhel6" / "f.rpm").write_bytes(b"eno")  # same size, other bytes
    assert publish.previous_build(outputs, fingerprint="f") is None
    assert not outputs.state.exists()  # the state no longer vouches for the outputs

    outputs, work = _online_build(tmp_path / "out", b"one")
    _publish_online(outputs, work, b"one")
    shutil.rmtree(outputs.online)
    assert publish.previous_build(outputs, fingerprint="f") is None


def test_a_manifest_without_an_online_section_is_rebuilt(tmp_path: Path) -> None:
    files = _published(tmp_path)
    publish.record_state(
        state_path=files["state_path"], iso_path=files["iso_path"],
        manifest_path=files["manifest_path"], fingerprint="f",
    )  # fmt: skip
    outputs = publish.Outputs(out_dir=tmp_path, iso_name="X.iso")
    assert publish.unchanged_build(**files, fingerprint="f") is not None  # the ISO's part
    assert publish.previous_build(outputs, fingerprint="f") is None  # but no online tree


def test_the_online_tree_is_on_disk_before_its_rename(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outputs, work = _online_build(tmp_path / "out", b"one")
    tree = work / "online"
    expected = {str(p) for p in (tree, *tree.rglob("*"))}
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", str(src)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    _publish_online(outputs, work, b"one")
    renamed = events.index(("replace", str(tree)))
    assert expected <= {path for kind, path in events[:renamed] if kind == "fsync"}
