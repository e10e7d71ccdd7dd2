"""The GitLab nightly pipeline (ci/gitlab-ci.yml), run for real with gitlab-ci-local.

A copy of this checkout becomes a git project in a short folder under /tmp (its
.gitlab-ci-local/ cache survives between runs, so the sample base is built once per
machine; short, because gpg-agent's socket path inside the build job's sample base must
stay under the 108-byte limit of a Unix socket); gitlab-ci-local runs every job with the
shell executor in its own folder (--shell-isolation).

- The release team's path, the whole pipeline: the sample base's tree and RPMs passed in
  as if they were the RHEL 6.10 DVD and the vendor's RPMs (BUILDISO_BASE,
  BUILDISO_GATEWAY_RPMS), the key as a File variable with its ID, a custom cs-admin
  password as a File variable; build → two boot-test shards of a 1-cell matrix → report,
  diffed against this session's own build manifest. The password must be in no job log
  and no artifact (the ISO included), and the ISO's kickstart must carry its hash.
- No base given: the build job alone builds from the sample base.

Figures: ``pytest -s``.
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.boottest.consolesteps import fresh_password
from buildiso.compose import online
from buildiso.config import Variant
from buildiso.render.profile import load_profile
from buildiso.render.shacrypt import sha512_crypt
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

# One folder per checkout (helpers' worktrees run side by side).
WORK = Path(tempfile.gettempdir()) / (
    "bglci-" + hashlib.sha256(str(paths.PROJECT_ROOT).encode()).hexdigest()[:8]
)
# One cell: the matrix itself is test_boot_matrix.py's; here the pipeline's plumbing (the
# second shard then runs no cell, as a shard of a short cell list does).
CELLS = ["uefi-dvd"]
KEEP = {".gitlab-ci-local", ".git"}
VARIABLES_FILE = ".gitlab-ci-local-variables.yml"


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


@pytest.fixture()
def project() -> Iterator[Path]:
    """The checkout as a git project; its variables file (the CI engine's secret store
    here) and the file variables gitlab-ci-local writes are gone afterwards."""
    def file_variables() -> set[Path]:
        return set(Path(tempfile.gettempdir()).glob("gitlab-ci-local-file-variables-*"))

    before = file_variables()
    _copy_checkout(WORK)
    yield WORK
    (WORK / VARIABLES_FILE).unlink(missing_ok=True)
    for leftover in file_variables() - before:  # ours only: another run's are its own
        shutil.rmtree(leftover, ignore_errors=True)


def _file_variables(project: Path, values: dict[str, str]) -> None:
    """GitLab *File* variables, as gitlab-ci-local reads them from the project's
    variables file: the job gets the path of a file holding the value."""
    lines = []
    for name, value in values.items():
        body = "".join(f"      {line}\n" for line in value.splitlines())
        lines.append(f"{name}:\n  type: file\n  values:\n    '*': |\n{body}")
    (project / VARIABLES_FILE).write_text("".join(lines))


def _gitlab_ci_local(
    project: Path, log: Path, *args: str, variables: dict[str, str]
) -> tuple[subprocess.CompletedProcess[bytes], str, float]:
    tool = shutil.which("gitlab-ci-local")
    assert tool, "gitlab-ci-local is not installed: run ./setup.sh"
    options = [arg for name, value in variables.items()
               for arg in ("--variable", f"{name}={value}")]  # fmt: skip
    started = time.monotonic()
    with log.open("w") as out:
        proc = subprocess.run(
            [tool, "--file", "ci/gitlab-ci.yml", "--force-shell-executor", "--shell-isolation",
             "--timestamps", "--variable", "BUILDISO_NIGHTLY=true", *options, *args],
            cwd=project, stdout=out, stderr=subprocess.STDOUT, timeout=45 * 60, check=False,
        )  # fmt: skip
    return proc, log.read_text(errors="replace"), time.monotonic() - started


def _files_holding(needle: bytes, *roots: Path) -> list[Path]:
    """Every file under ``roots`` whose bytes contain ``needle`` (symlinks not followed)."""
    found = []
    for root in roots:
        for path in [root] if root.is_file() else sorted(root.rglob("*")):
            if path.is_file() and not path.is_symlink():
                with path.open("rb") as f:
                    tail = b""
                    while chunk := f.read(1 << 22):
                        if needle in tail + chunk:
                            found.append(path)
                            break
                        tail = chunk[-len(needle) :]
    return found


def test_gitlab_pipeline_runs_the_release_teams_build(
    project: Path, built_iso: Path, sample_base: SampleBase
) -> None:
    logs = paths.DEFAULT_OUT / "gitlab-ci-local"
    logs.mkdir(parents=True, exist_ok=True)
    previous = logs / "previous.manifest.json"
    shutil.copyfile(built_iso.with_name(built_iso.stem + ".manifest.json"), previous)
    # the vendor's RPMs as another pipeline's artifact would leave them: a folder of *.rpm
    vendor_rpms = logs / "vendor-rpms"
    shutil.rmtree(vendor_rpms, ignore_errors=True)
    vendor_rpms.mkdir()
    for rpm in sample_base.gateway_rpms.glob("*.rpm"):
        shutil.copyfile(rpm, vendor_rpms / rpm.name)
    password = fresh_password()  # this run's secret: typed nowhere but the File variable
    _file_variables(project, {
        "BUILDISO_GPG_KEY": sample_base.gpg_public_key.read_text(),
        "BUILDISO_ADMIN_PASSWORD_FILE": password,
    })  # fmt: skip
    log = logs / "pipeline.log"
    proc, text, wall = _gitlab_ci_local(project, log, variables={
        "BOOT_CELLS": ",".join(CELLS), "BOOT_JOBS": "1",
        # no scenarios job: the scenarios have their own VM tests, the job's script is
        # tests/test_ci_templates.py's
        "BOOT_SCENARIOS": "",
        "BUILDISO_PREVIOUS_MANIFEST": str(previous),
        "BUILDISO_BASE": str(sample_base.tree),
        "BUILDISO_GATEWAY_RPMS": str(vendor_rpms),
        "BUILDISO_KEY_ID": sample_base.key_id,
    })  # fmt: skip
    summary = [
        ln for ln in text.splitlines() if " PASS " in ln or " FAIL " in ln or "pipeline" in ln
    ]
    print(f"\ngitlab-ci-local pipeline: {wall:.0f} s wall\n" + "\n".join(summary))
    assert proc.returncode == 0, f"pipeline failed, see {log}:\n" + text[-4000:]
    for job in ("build", "boot-test: [1/2]", "boot-test: [2/2]", "report"):
        assert any(job in ln and "PASS" in ln for ln in summary), job

    # built from the variables: that tree, those RPMs, that key, that password
    assert "no base DVD given" not in text
    manifest = json.loads((project / "out" / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["base"]["kind"] == "dir"
    assert manifest["inputs"]["signing"]["key_id"] == sample_base.key_id
    assert manifest["inputs"]["profile"]["variant"] == "test"
    ks = manifest["rendered"]["ks.cfg"]["text"]
    hashed = re.search(r"^user --name=cs-admin .*--password=(\S+)", ks, re.M)
    assert hashed, ks
    salt = hashed.group(1).split("$")[2]
    assert sha512_crypt(password, salt) == hashed.group(1)
    default = load_profile(paths.DEFAULT_PROFILE, Variant.TEST).admin_password_hash
    assert hashed.group(1) != default
    tree = project / "out" / online.folder_name("EMAIL_490_190")
    assert online.published_intact(tree, manifest["online"]["files"])  # an artifact too

    # the password: in no job log, no artifact, nothing the pipeline left in the project
    # (job folders, caches) but the CI engine's own variables file
    state = project / ".gitlab-ci-local"
    for where in ("output", "artifacts", "builds"):
        assert any((state / where).iterdir()), where  # a scan of nothing proves nothing
    assert _files_holding(password.encode(), project / VARIABLES_FILE)  # the needle works
    scanned = [log, *(p for p in project.iterdir() if p.name not in (".git", VARIABLES_FILE))]
    leaks = _files_holding(password.encode(), *scanned)
    assert leaks == [], f"the password is in {leaks}"
    # gitlab-ci-local writes File variables to /tmp for each job, as a runner does, and
    # removes them after the job; only the copies it writes while reading the pipeline
    # (before a job has its project slug: "-undefined-") stay, which the fixture removes
    left = Path(tempfile.gettempdir()).glob("gitlab-ci-local-file-variables-*")
    holding = _files_holding(password.encode(), *left)
    assert all("-undefined-" in path.parent.name for path in holding), holding

    ran = []
    for k in (1, 2):
        shard = json.loads((project / "results" / f"shard-{k}" / "summary.json").read_text())
        assert shard["shard"] == f"{k}/2" and shard["matrix_cells"] == CELLS
        ran += [c["cell"] for c in shard["cells"]]
        for cell in shard["cells"]:  # CI logs get plain progress lines, no terminal codes
            assert f"boot-test: [{k}/2] > progress: {cell['cell']}" in text
    assert sorted(ran) == CELLS
    assert "\x1b[" not in "".join(ln for ln in text.splitlines() if "progress:" in ln)

    report = project / "public"
    root = ET.parse(report / "junit.xml").getroot()
    main_cases = [c for c in root.iter("testcase") if c.get("name") == "install-and-first-boot"]
    assert sorted(c.get("classname") for c in main_cases) == [f"boot-test.{c}" for c in CELLS]
    assert not list(root.iter("failure"))
    index = (report / "index.html").read_text()
    assert f"{len(CELLS)} of {len(CELLS)} cells passed" in index and "Changes since" in index
    for cell in CELLS:
        assert list((report / "cells" / cell / "filmstrip").glob("*.png"))


def test_gitlab_build_job_without_a_base_builds_the_sample(project: Path) -> None:
    logs = paths.DEFAULT_OUT / "gitlab-ci-local"
    logs.mkdir(parents=True, exist_ok=True)
    log = logs / "build-sample.log"
    proc, text, wall = _gitlab_ci_local(project, log, "build", variables={})
    print(f"\ngitlab-ci-local build job (sample base): {wall:.0f} s wall")
    assert proc.returncode == 0, f"build job failed, see {log}:\n" + text[-4000:]
    assert "no base DVD given: building from the sample base" in text
    manifest = json.loads((project / "out" / "EMAIL_490_190.manifest.json").read_text())
    assert "/out/sample-base/tree" in manifest["inputs"]["base"]["source"]
    tree = project / "out" / online.folder_name("EMAIL_490_190")
    assert online.published_intact(tree, manifest["online"]["files"])
