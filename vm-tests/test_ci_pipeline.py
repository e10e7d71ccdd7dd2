"""The GitLab nightly pipeline (ci/gitlab-ci.yml), run for real with gitlab-ci-local.

A copy of this checkout becomes a git project in a short folder under /tmp (its
.gitlab-ci-local/ cache survives between runs, so the sample base is built once per
machine; short, because gpg-agent's socket path inside the build job's sample base must
stay under the 108-byte limit of a Unix socket); gitlab-ci-local runs every job with the
shell executor in its own folder (--shell-isolation): build → two boot-test shards of a
2-cell matrix → report, diffed against this session's own build manifest. Figures: ``pytest -s``.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from buildiso import paths

pytestmark = pytest.mark.vm

# One folder per checkout (helpers' worktrees run side by side).
WORK = Path(tempfile.gettempdir()) / (
    "bglci-" + hashlib.sha256(str(paths.PROJECT_ROOT).encode()).hexdigest()[:8]
)
CELLS = ["bios-dvd", "uefi-dvd"]
KEEP = {".gitlab-ci-local", ".git"}


def _copy_checkout(project: Path) -> None:
    """The checkout's files (tracked and new, not ignored) into ``project``, as one commit."""
    root = paths.PROJECT_ROOT
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard", "-z"],
        cwd=root, capture_output=True, check=True,
    ).stdout.decode().split("\0")  # fmt: skip
    project.mkdir(parents=True, exist_ok=True)
    for entry in project.iterdir():
        if entry.name not in KEEP:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    for rel in filter(None, listing):
        source = root / rel
        if source.is_file():
            (project / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, project / rel)
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    if not (project / ".git").is_dir():
        subprocess.run([*git, "init", "-q", "-b", "main"], cwd=project, check=True)
        origin = "https://gitlab.example.com/qa/buildiso.git"
        subprocess.run([*git, "remote", "add", "origin", origin], cwd=project, check=True)
    subprocess.run([*git, "add", "-A"], cwd=project, check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "nightly"], cwd=project,
                   check=True)  # fmt: skip


def test_gitlab_pipeline_runs_locally(built_iso: Path) -> None:
    tool = shutil.which("gitlab-ci-local")
    assert tool, "gitlab-ci-local is not installed: run ./setup.sh"
    project = WORK
    _copy_checkout(project)
    logs = paths.DEFAULT_OUT / "gitlab-ci-local"
    logs.mkdir(parents=True, exist_ok=True)
    previous = logs / "previous.manifest.json"
    shutil.copyfile(built_iso.with_name(built_iso.stem + ".manifest.json"), previous)
    log = logs / "pipeline.log"
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            [tool, "--file", "ci/gitlab-ci.yml", "--force-shell-executor", "--shell-isolation",
             "--timestamps", "--variable", "BUILDISO_NIGHTLY=true",
             "--variable", f"BOOT_CELLS={','.join(CELLS)}", "--variable", "BOOT_JOBS=1",
             "--variable", f"BUILDISO_PREVIOUS_MANIFEST={previous}"],
            cwd=project, stdout=out, stderr=subprocess.STDOUT, timeout=45 * 60, check=False,
        )  # fmt: skip
    wall = time.monotonic() - started
    text = log.read_text(errors="replace")
    summary = [
        ln for ln in text.splitlines() if " PASS " in ln or " FAIL " in ln or "pipeline" in ln
    ]
    print(f"\ngitlab-ci-local pipeline: {wall:.0f} s wall\n" + "\n".join(summary))
    assert proc.returncode == 0, f"pipeline failed, see {log}:\n" + text[-4000:]
    for job in ("build", "boot-test: [1/2]", "boot-test: [2/2]", "report"):
        assert any(job in ln and "PASS" in ln for ln in summary), job

    ran = []
    for k in (1, 2):
        shard = json.loads((project / "results" / f"shard-{k}" / "summary.json").read_text())
        assert shard["shard"] == f"{k}/2" and shard["matrix_cells"] == CELLS
        ran += [c["cell"] for c in shard["cells"]]
        # CI logs get plain progress lines, no terminal codes
        assert f"boot-test: [{k}/2] > progress: {shard['cells'][0]['cell']}" in text
    assert sorted(ran) == CELLS
    assert "\x1b[" not in "".join(ln for ln in text.splitlines() if "progress:" in ln)

    report = project / "public"
    root = ET.parse(report / "junit.xml").getroot()
    main_cases = [c for c in root.iter("testcase") if c.get("name") == "install-and-first-boot"]
    assert sorted(c.get("classname") for c in main_cases) == [f"boot-test.{c}" for c in CELLS]
    assert not list(root.iter("failure"))
    index = (report / "index.html").read_text()
    assert "2 of 2 cells passed" in index and "Changes since" in index
    for cell in CELLS:
        assert list((report / "cells" / cell / "filmstrip").glob("*.png"))
