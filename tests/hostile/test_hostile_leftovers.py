"""Hostile audit #8: temporary folders of a SIGKILLed build are removed by the next one,
and a live build's are never touched."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from buildiso import paths, tmpdirs
from buildiso.compose import rpms
from buildiso.sample.base import SampleBase, build_sample_base

# A child that takes a private folder the way buildiso does, says where, then waits.
_HOLDER = """
import sys, time
from pathlib import Path
from buildiso import tmpdirs
with tmpdirs.private_dir("rpmdb", root=Path(sys.argv[1])) as folder:
    (folder / "rpmdb.sqlite").write_bytes(b"x" * 4096)
    print(folder, flush=True)
    time.sleep(600)
"""


def _holder(root: Path) -> tuple[subprocess.Popen[str], Path]:
    child = subprocess.Popen(
        [sys.executable, "-c", _HOLDER, str(root)], stdout=subprocess.PIPE, text=True
    )
    assert child.stdout is not None
    return child, Path(child.stdout.readline().strip())


def test_killed_builds_folder_is_removed_a_live_ones_kept(tmp_path: Path) -> None:
    killed, killed_dir = _holder(tmp_path)
    live, live_dir = _holder(tmp_path)
    try:
        os.kill(killed.pid, signal.SIGKILL)
        killed.wait()
        assert killed_dir.is_dir()  # SIGKILL: no cleanup ran
        with tmpdirs.private_dir("rpmdb", root=tmp_path) as mine:
            assert not killed_dir.exists()
            assert live_dir.is_dir() and (live_dir / "rpmdb.sqlite").is_file()
            assert mine.is_dir()
        assert not mine.exists()
    finally:
        live.kill()
        live.wait()
    assert tmpdirs.remove_stale(tmp_path) == [live_dir]
    assert list(tmp_path.iterdir()) == []


def test_signature_check_uses_a_private_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """rpms.verify_signatures' rpm database (was /tmp/buildiso-rpmdb-*) is one of them."""
    monkeypatch.setattr(tmpdirs.tempfile, "tempdir", str(tmp_path))
    killed, killed_dir = _holder(tmp_path)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    assert killed_dir.is_dir()
    rpms.verify_signatures([], public_key=None, key_id="5522142c")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.integration
def test_sample_base_staging_left_by_a_kill_is_removed_on_a_cache_hit(
    sample_base: SampleBase,
) -> None:
    out_dir = paths.DEFAULT_SAMPLE_BASE.resolve()
    stage = out_dir.with_name(f".{out_dir.name}.tmp")
    stage.mkdir(exist_ok=True)
    (stage / "partial.iso").write_bytes(b"\0" * 2**20)
    build_sample_base(out_dir)  # nothing changed: a cache hit
    assert not stage.exists()
