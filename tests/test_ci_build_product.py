"""ci/build-product.sh, the nightly's build job: CI variables → one `buildiso build`.

The script runs for real under bash; `buildiso` is a stand-in that records its arguments
and whether it saw a password (the real build behind it: vm-tests/test_ci_pipeline.py).
A DVD "URL" is served by an HTTP server on 127.0.0.1.
"""

from __future__ import annotations

import functools
import hashlib
import http.server
import json
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from buildiso import paths

SCRIPT = paths.PROJECT_ROOT / "ci" / "build-product.sh"
PASSWORD = "Nightly-Tq7-Vbx!2w"  # meets the policy; must show up in no output
RECORDER = """#!/usr/bin/env python3
import json, os, sys
with open(os.environ["RECORD"], "w") as f:
    json.dump({"args": sys.argv[1:],
               "password_env": os.environ.get("BUILDISO_CS_ADMIN_PASSWORD")}, f)
"""


@pytest.fixture()
def job(tmp_path: Path) -> Path:
    """A job's working folder with the stand-in buildiso."""
    folder = tmp_path / "job"
    folder.mkdir()
    fake = tmp_path / "buildiso"
    fake.write_text(RECORDER)
    fake.chmod(0o755)
    return folder


def _run(job: Path, *, trace: bool = False, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": "/usr/bin:/bin",
        "LANG": "C",
        "BUILDISO": str(job.parent / "buildiso"),
        "RECORD": str(job.parent / "record.json"),
        **variables,
    }
    return subprocess.run(
        ["bash", *(["-x"] if trace else []), str(SCRIPT)],
        cwd=job, env=env, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def _recorded(job: Path) -> dict[str, object] | None:
    record = job.parent / "record.json"
    return json.loads(record.read_text()) if record.exists() else None


def _refused(proc: subprocess.CompletedProcess[str], job: Path, message: str) -> None:
    assert proc.returncode == 2, proc.stdout + proc.stderr
    errors = [ln for ln in proc.stderr.splitlines() if ln.startswith("build-product: error:")]
    assert len(errors) == 1 and message in errors[0] and "(hint: " in errors[0], proc.stderr
    assert _recorded(job) is None  # buildiso never ran


def test_no_base_builds_the_sample(job: Path) -> None:
    proc = _run(job)
    assert proc.returncode == 0, proc.stderr
    assert _recorded(job) == {
        "args": ["build", "--out", "out", "--variant", "test"],
        "password_env": None,
    }
    assert "building from the sample base" in proc.stdout


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, str]:
    """A DVD tree, an RPM folder, a key and a password file, as a release team has them."""
    (tmp_path / "dvd" / "Packages").mkdir(parents=True)
    (tmp_path / "rpms").mkdir()
    (tmp_path / "RPM-GPG-KEY-vendor").write_text("key\n")
    password = tmp_path / "password"
    password.write_text(PASSWORD + "\n")
    return {
        "BUILDISO_BASE": str(tmp_path / "dvd"),
        "BUILDISO_GATEWAY_RPMS": str(tmp_path / "rpms"),
        "BUILDISO_GPG_KEY": str(tmp_path / "RPM-GPG-KEY-vendor"),
        "BUILDISO_KEY_ID": "5522142c",
        "BUILDISO_ADMIN_PASSWORD_FILE": str(password),
        "BUILDISO_VARIANT": "production",
    }


def test_the_release_teams_inputs_become_build_options(job: Path, inputs: dict[str, str]) -> None:
    proc = _run(job, trace=True, **inputs)
    assert proc.returncode == 0, proc.stderr
    assert _recorded(job) == {
        "args": ["build", "--out", "out", "--variant", "production",
                 "--base", inputs["BUILDISO_BASE"],
                 "--gateway-rpms", inputs["BUILDISO_GATEWAY_RPMS"],
                 "--gpg-key", inputs["BUILDISO_GPG_KEY"], "--key-id", "5522142c",
                 "--password-file", inputs["BUILDISO_ADMIN_PASSWORD_FILE"]],
        "password_env": None,
    }  # fmt: skip
    # even under `bash -x` (a CI engine's or a colleague's debug switch)
    assert PASSWORD not in proc.stdout + proc.stderr
    assert "set +x" in proc.stderr and proc.stderr.count("\n+ ") <= 1


def test_a_masked_password_variable_reaches_buildiso_and_no_log(job: Path) -> None:
    proc = _run(job, trace=True, BUILDISO_CS_ADMIN_PASSWORD=PASSWORD)
    assert proc.returncode == 0, proc.stderr
    record = _recorded(job)
    assert record is not None and record["password_env"] == PASSWORD
    assert "from BUILDISO_CS_ADMIN_PASSWORD" in proc.stdout
    assert PASSWORD not in proc.stdout + proc.stderr


def test_an_unset_github_secret_is_no_password(job: Path) -> None:
    proc = _run(job, BUILDISO_CS_ADMIN_PASSWORD="")  # `${{ secrets.X }}` of a missing secret
    assert proc.returncode == 0, proc.stderr
    record = _recorded(job)
    assert record is not None and record["password_env"] is None


@pytest.fixture()
def dvd_server(tmp_path: Path) -> Iterator[tuple[str, bytes, list[str]]]:
    """A "DVD" on an HTTP server on 127.0.0.1; the paths it was asked for."""
    root = tmp_path / "www"
    root.mkdir()
    content = b"RHEL-6.10 DVD stand-in\n" * 1000
    (root / "rhel-server-6.10-x86_64-dvd.iso").write_bytes(content)
    asked: list[str] = []

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, format: str, *args: object) -> None:  # noqa: A002
            asked.append(self.path)

    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", content, asked
    finally:
        server.shutdown()
        server.server_close()


def test_a_dvd_url_is_downloaded_once_and_checked(
    job: Path, inputs: dict[str, str], dvd_server: tuple[str, bytes, list[str]]
) -> None:
    url, content, asked = dvd_server
    sha = hashlib.sha256(content).hexdigest()
    del inputs["BUILDISO_BASE"]
    secret_url = url.replace("http://", "http://ci-user:Url-Token-99@") + (
        "/rhel-server-6.10-x86_64-dvd.iso?token=Query-Token-77"
    )
    variables = {**inputs, "BUILDISO_BASE_URL": secret_url, "BUILDISO_BASE_SHA256": sha.upper()}
    proc = _run(job, **variables)
    assert proc.returncode == 0, proc.stderr
    kept = job / "downloads" / f"base-{sha}.iso"
    assert kept.read_bytes() == content
    record = _recorded(job)
    assert record is not None and record["args"][5:7] == ["--base", "downloads/" + kept.name]
    log = proc.stdout + proc.stderr
    assert "Url-Token-99" not in log and "Query-Token-77" not in log and "ci-user" not in log
    assert f"{url}/rhel-server-6.10-x86_64-dvd.iso" in log
    assert len(asked) == 1

    (job.parent / "record.json").unlink()
    again = _run(job, **variables)  # the next nightly: the CI cache kept the download
    assert again.returncode == 0 and len(asked) == 1 and "downloaded before" in again.stdout


def test_a_download_that_does_not_match_is_refused(
    job: Path, inputs: dict[str, str], dvd_server: tuple[str, bytes, list[str]]
) -> None:
    url, content, _asked = dvd_server
    wrong = hashlib.sha256(content + b"x").hexdigest()
    del inputs["BUILDISO_BASE"]
    proc = _run(job, **inputs, BUILDISO_BASE_URL=f"{url}/rhel-server-6.10-x86_64-dvd.iso",
                BUILDISO_BASE_SHA256=wrong)  # fmt: skip
    _refused(proc, job, f"not BUILDISO_BASE_SHA256 {wrong}")
    assert hashlib.sha256(content).hexdigest() in proc.stderr
    assert list((job / "downloads").iterdir()) == []  # neither the file nor a .part

    proc = _run(job, **inputs, BUILDISO_BASE_URL=f"{url}/missing.iso",
                BUILDISO_BASE_SHA256=wrong)  # fmt: skip
    _refused(proc, job, "cannot download BUILDISO_BASE_URL")
    assert list((job / "downloads").iterdir()) == []


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"BUILDISO_BASE_URL": "http://127.0.0.1:9/dvd.iso"}, "are both set"),
        ({"BUILDISO_BASE": "", "BUILDISO_BASE_URL": "http://127.0.0.1:9/dvd.iso"},
         "without BUILDISO_BASE_SHA256"),
        ({"BUILDISO_BASE": "", "BUILDISO_BASE_URL": "http://127.0.0.1:9/dvd.iso",
          "BUILDISO_BASE_SHA256": "abc"}, "is not a sha256"),
        ({"BUILDISO_BASE": "", "BUILDISO_BASE_URL": "/srv/dvd.iso",
          "BUILDISO_BASE_SHA256": "a" * 64}, "is not an http(s), ftp or file URL"),
        ({"BUILDISO_BASE_SHA256": "a" * 64}, "without BUILDISO_BASE_URL"),
        ({"BUILDISO_BASE": "/nonexistent/dvd.iso"}, "does not exist on this runner"),
        ({"BUILDISO_GATEWAY_RPMS": ""}, "without BUILDISO_GATEWAY_RPMS"),
        ({"BUILDISO_BASE": ""}, "BUILDISO_GATEWAY_RPMS without a base DVD"),
        ({"BUILDISO_GATEWAY_RPMS": "/nonexistent"}, "is not a folder"),
        ({"BUILDISO_KEY_ID": ""}, "go together"),
        ({"BUILDISO_GPG_KEY": ""}, "go together"),
        ({"BUILDISO_GPG_KEY": "/nonexistent.key"}, "is not a file"),
        ({"BUILDISO_VARIANT": "prod"}, "is not a variant"),
        ({"BUILDISO_CS_ADMIN_PASSWORD": PASSWORD}, "are both set"),
        ({"BUILDISO_ADMIN_PASSWORD_FILE": "/nonexistent"}, "is not a readable file"),
    ],  # fmt: skip
)
def test_wrong_variables_are_refused_before_anything_runs(
    job: Path, inputs: dict[str, str], change: dict[str, str], message: str
) -> None:
    proc = _run(job, **{**inputs, **change})
    _refused(proc, job, message)
    assert PASSWORD not in proc.stdout + proc.stderr
    assert not (job / "downloads").exists()
