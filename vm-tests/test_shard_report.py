"""Sharded boot test for real, then ``buildiso report`` over the shards, read by Chromium.

A reduced matrix (bios-dvd, uefi-dvd) of the shipped sample ISO in two shards: each shard
runs exactly one cell under QEMU, each writes its own summary/JUnit/artifacts with a real
filmstrip (scaled QMP screendumps at every stage); the merged JUnit has both cells and the
HTML report shows both filmstrips. Figures: ``pytest -s``.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.boottest.accel import choose_accel
from buildiso.boottest.command import BootTestRequest, boot_test_command
from buildiso.boottest.filmstrip import FRAME_WIDTH, read_index
from buildiso.boottest.screendump import png_size
from buildiso.boottest.shard import Shard
from buildiso.config import Accel
from buildiso.report.command import report_command

pytestmark = pytest.mark.vm

CELLS = ["bios-dvd", "uefi-dvd"]
# Stages whose start the filmstrip must show for a passing cell.
SEEN = ["firmware", "menu", "kernel", "packages", "post", "reboot", "local-boot", "firstboot"]


def test_two_shards_then_one_report(built_iso: Path, tmp_path: Path) -> None:
    accel = choose_accel(Accel.AUTO)
    ran: list[str] = []
    folders = []
    for k in (1, 2):
        folder = tmp_path / f"shard{k}"
        started = time.monotonic()
        with (tmp_path / f"table{k}.txt").open("w") as out:
            boot_test_command(
                BootTestRequest(iso=built_iso, matrix=True, jobs=1, accel=accel.accel,
                                artifacts=folder, shard=Shard(k, 2), cell_names=tuple(CELLS),
                                frame_every_s=5.0),
                out=out,
            )  # fmt: skip
        print(f"\nshard {k}/2 ({accel.accel.value}): {time.monotonic() - started:.1f} s\n"
              + (tmp_path / f"table{k}.txt").read_text())  # fmt: skip
        summary = json.loads((folder / "summary.json").read_text())
        assert len(summary["cells"]) == 1 and summary["cells"][0]["passed"]
        name = summary["cells"][0]["cell"]
        ran.append(name)
        frames = read_index(folder / name)
        stages = [f["stage"] for f in frames]
        assert [s for s in SEEN if s in stages] == SEEN, stages
        for frame in frames:
            width, height = png_size(folder / name / "filmstrip" / frame["file"])
            assert (width, height) == (frame["width"], frame["height"])
            assert FRAME_WIDTH // 2 <= width <= FRAME_WIDTH
            full_width, _ = png_size(folder / name / "filmstrip" / frame["full"])
            assert full_width >= width  # the guest's screen, linked from the report
        folders.append(folder)
    assert sorted(ran) == sorted(CELLS)  # each cell exactly once over the two shards

    out = tmp_path / "report"
    manifest = built_iso.with_name(built_iso.stem + ".manifest.json")
    results = report_command(results=folders, out=out, manifest=manifest, previous=manifest)
    assert results.counts == {"passed": 2, "failed": 0, "missing": 0}
    root = ET.parse(out / "junit.xml").getroot()
    main_cases = [c for c in root.iter("testcase") if c.get("name") == "install-and-first-boot"]
    assert sorted(c.get("classname") for c in main_cases) == [f"boot-test.{c}" for c in CELLS]
    assert not list(root.iter("failure"))

    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run ./setup.sh"

    def browse(*args: str) -> str:
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    dom = browse("--dump-dom", (out / "index.html").as_uri())
    assert sorted(re.findall(r'<tr class="passed" id="cell-([^"]+)"', dom)) == CELLS
    assert "ISO: identical (same sha256)" in dom
    keep = paths.DEFAULT_OUT / "report-vm"
    shutil.rmtree(keep, ignore_errors=True)
    shutil.copytree(out, keep)
    for k, name in enumerate(ran, start=1):
        page_url = (out / "cells" / name / "index.html").as_uri()
        shown = re.findall(r'<img src="filmstrip/([^"]+)"', browse("--dump-dom", page_url))
        assert shown == [f["file"] for f in read_index(tmp_path / f"shard{k}" / name)]
        browse(f"--screenshot={keep / (name + '.png')}", "--window-size=1400,1800", page_url)
    print(f"report kept in {keep}")
