"""Second hostile audit, N4: ``boot-test`` tracebacked on a bad ``--artifacts`` (a file,
under a file, read-only, /dev/null, /proc/x) and on a damaged manifest beside the ISO, and
``--junit DIR`` failed only after the whole run.

Now every path option is checked before any work and before any VM starts: one line
naming the path, exit 2, nothing created. The manifest beside the ISO is read bounded and
typed (N2's reader), and not through a link.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile.hostile_boottest import fake_iso, faked, one_error_line
from hostile.test_hostile_paths import BAD_OUT, _read_only_fs

from buildiso.cli import main

BAD_ARTIFACTS: dict[str, Callable[[Path], Path]] = dict(BAD_OUT)


def _boot_test(iso: Path, *args: str) -> int:
    return main(["boot-test", str(iso), "--accel", "tcg", *args])


@pytest.mark.parametrize("case", sorted(BAD_ARTIFACTS))
def test_bad_artifacts_is_one_line_before_any_vm(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    artifacts = BAD_ARTIFACTS[case](tmp_path)
    with faked(monkeypatch) as factory:
        code = _boot_test(fake_iso(tmp_path / "in"), "--artifacts", str(artifacts))
    assert code == 2
    one_error_line(capsys.readouterr().err, names=f"--artifacts {artifacts}")
    assert factory.started == []


def test_read_only_artifacts_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with _read_only_fs(tmp_path / "ro") as ro, faked(monkeypatch) as factory:
        code = _boot_test(fake_iso(tmp_path / "in"), "--artifacts", str(ro / "art"))
        assert code == 2
        one_error_line(capsys.readouterr().err, names="read-only file system")
    assert factory.started == []


def _a_folder(tmp: Path) -> Path:
    (tmp / "junit-dir").mkdir()
    return tmp / "junit-dir"


BAD_JUNIT: dict[str, Callable[[Path], Path]] = {
    "a folder": _a_folder,
    "under a file": lambda tmp: BAD_OUT["a file"](tmp) / "junit.xml",
    "/dev/null": lambda tmp: Path("/dev/null"),
    "/proc/x/junit.xml": lambda tmp: Path("/proc/buildiso-hostile-x/junit.xml"),
}


@pytest.mark.parametrize("case", sorted(BAD_JUNIT))
def test_bad_junit_is_refused_before_the_run_not_after(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    junit = BAD_JUNIT[case](tmp_path)
    artifacts = tmp_path / "art"
    with faked(monkeypatch) as factory:
        code = _boot_test(fake_iso(tmp_path / "in"), "--artifacts", str(artifacts),
                          "--junit", str(junit))  # fmt: skip
    assert code == 2
    one_error_line(capsys.readouterr().err, names=f"--junit {junit}")
    assert factory.started == [] and not artifacts.exists()
    assert Path("/dev/null").is_char_device()  # never replaced by a file


def _deep(path: Path) -> None:
    path.write_text('{"install_set": ' + "[" * 100_000 + "]" * 100_000 + "}")


def _huge(path: Path) -> None:
    with path.open("wb") as fh:  # sparse: costs no disk
        fh.truncate(65 * 2**20)


def _linked(path: Path) -> None:
    elsewhere = path.parent.parent / "elsewhere.json"
    elsewhere.write_text(json.dumps({"install_set": []}))
    path.symlink_to(elsewhere)


DAMAGED_MANIFEST: dict[str, tuple[Callable[[Path], None], str]] = {
    "truncated": (lambda p: p.write_text('{"install_set": ['), "not JSON"),
    "a list": (lambda p: p.write_text("[1, 2]"), "a list, expected a table"),
    "install_set a number": (lambda p: p.write_text('{"install_set": 5}'), "install_set"),
    "an entry without evr": (lambda p: p.write_text(
        '{"install_set": [{"name": "bash", "arch": "x86_64"}]}'), "install_set[0].evr"),
    "100,000 deep": (_deep, "nested"),
    "a lone surrogate": (lambda p: p.write_text(
        '{"install_set": [{"name": "\\udcff", "arch": "x", "evr": "1"}]}'), "lone surrogate"),
    "65 MiB": (_huge, "larger than"),
    "not UTF-8": (lambda p: p.write_bytes(b'{"install_set": ["\xff"]}'), "not UTF-8"),
    "a link to elsewhere": (_linked, "symbolic link"),
    "a FIFO": (lambda p: os.mkfifo(p), "not a regular file"),
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(DAMAGED_MANIFEST))
def test_a_damaged_manifest_beside_the_iso_is_one_line(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    iso = fake_iso(tmp_path / "in")
    manifest = iso.with_name("EMAIL_490_190.manifest.json")
    damage, words = DAMAGED_MANIFEST[case]
    damage(manifest)
    with faked(monkeypatch) as factory:
        code = _boot_test(iso, "--artifacts", str(tmp_path / "art"))
    assert code == 2
    line = one_error_line(capsys.readouterr().err, names=str(manifest))
    assert words in line
    assert factory.started == [] and not (tmp_path / "art").exists()


def test_timings_from_is_read_before_any_work_and_not_through_a_link(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    previous = tmp_path / "previous"
    previous.mkdir()
    (tmp_path / "elsewhere.json").write_text("{}")
    (previous / "summary.json").symlink_to(tmp_path / "elsewhere.json")
    with faked(monkeypatch) as factory:
        code = _boot_test(fake_iso(tmp_path / "in"), "--artifacts", str(tmp_path / "art"),
                          "--timings-from", str(previous))  # fmt: skip
        assert code == 2
        one_error_line(capsys.readouterr().err, names="symbolic link")
        (previous / "summary.json").unlink()
        (previous / "summary.json").write_text('{"schema": 1, "cells": 5}')
        assert _boot_test(fake_iso(tmp_path / "in"), "--timings-from", str(previous),
                          "--artifacts", str(tmp_path / "art")) == 2  # fmt: skip
        one_error_line(capsys.readouterr().err, names="summary.json")
    assert factory.started == [] and not (tmp_path / "art").exists()
