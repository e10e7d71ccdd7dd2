"""The upgrade scenario twice with one ``--disk-cache`` folder (issue #21, published disks).

The first run installs the previous release (EMAIL_480_150.iso, built here as a user
would) and publishes the installed gateway's disk; the second, from the same OLD.iso,
finds it, skips the install and starts from a copy-on-write overlay on it. Both must pass
the whole upgrade; the second's result.json, transcript and stages say it started from
the published disk and that the install's stages did not run.

The speed goal (the second run at most 60 % of the first's wall time) is measured, not
asserted: ``pytest -s`` prints both wall times and their ratio.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from buildiso import paths
from buildiso.cli import main

pytestmark = pytest.mark.vm

CELL = "bios-dvd-upgrade"
# the old release's install and first boot: the steps publish-disk skips when published
INSTALL_STAGES = ("packages", "bootloader", "firstboot")
UPGRADE_CHECKS = {"gateway-version", "obsoleted-removed", "added-installed", "config-kept",
                  "data-kept", "forbidden-absent", "cs-repos-disabled", "vendor-key-imported",
                  "firewall-unchanged", "services-unchanged"}  # fmt: skip


Run = tuple[dict[str, Any], list[Any], float]


def _upgrade(iso: Path, old_iso: Path, disks: Path, art: Path,
             capsys: pytest.CaptureFixture[str]) -> Run:  # fmt: skip
    """One run: its result.json, transcript and wall seconds (it must pass)."""
    capsys.readouterr()
    started = time.monotonic()
    code = main(["boot-test", str(iso), "--scenario", "upgrade", "--from", str(old_iso),
                 "--disk-cache", str(disks), "--artifacts", str(art)])  # fmt: skip
    wall = time.monotonic() - started
    out = capsys.readouterr()
    with capsys.disabled():  # shown with -s, not taken by the next run's readouterr
        print("\n" + out.out)
    result = json.loads((art / CELL / "result.json").read_text())
    assert code == 0, f"[{result['failure_class']}] {result['message']}\n{out.err[-2000:]}"
    assert result["passed"]
    checks = {c["name"]: c for c in result["checks"]}
    assert UPGRADE_CHECKS <= set(checks) and all(c["ok"] for c in checks.values()), checks
    assert "(want 4.9.0-190, was 4.8.0-150)" in checks["gateway-version"]["message"]
    transcript = json.loads((art / CELL / "transcript.json").read_text())
    return result, transcript, wall


def test_a_second_upgrade_starts_from_the_published_old_release(
    built_iso: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.delenv("BUILDISO_CS_ADMIN_PASSWORD", raising=False)
    old_dir = tmp_path / "old"
    assert main(["build", "--profile", str(paths.PROFILES_DIR / "email-480.toml"),
                 "--out", str(old_dir)]) == 0  # fmt: skip
    old_iso = old_dir / "EMAIL_480_150.iso"
    disks = tmp_path / "disks"

    first, first_log, first_wall = _upgrade(built_iso, old_iso, disks, tmp_path / "first", capsys)
    assert first["disk"]["action"] == "published"
    key = first["disk"]["key"]
    assert key.startswith("old-release.bios-dvd.")
    for stage in INSTALL_STAGES:  # the first run installed the old release itself
        assert first["stages"][stage]["status"] == "ok", stage
    assert any(f"published disk {key}" in t.get("note", "") for t in first_log)

    second, second_log, second_wall = _upgrade(built_iso, old_iso, disks, tmp_path / "second",
                                               capsys)  # fmt: skip
    assert second["disk"] == {"key": key, "made": first["disk"]["made"],
                              "action": "started-from"}  # fmt: skip
    notes = [t["note"] for t in second_log if "note" in t]
    assert any(n.startswith(f"started from published disk {key}") and "skipped" in n
               for n in notes), notes  # fmt: skip
    for stage in INSTALL_STAGES:  # nothing was installed: those stages never ran
        assert stage not in second["stages"], stage
    assert "installed-packages" not in {c["name"] for c in second["checks"]}
    with capsys.disabled():
        print(f"upgrade with --disk-cache: first run {first_wall:.0f} s wall "
              f"(cell {first['seconds']:.0f} s), second {second_wall:.0f} s wall "
              f"(cell {second['seconds']:.0f} s): ratio {second_wall / first_wall:.2f} "
              "(goal <= 0.60)")
