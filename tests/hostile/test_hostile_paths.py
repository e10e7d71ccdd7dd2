"""Hostile audit #4 and #6: a bad output/input path is one line and exit 2; ``--debug``
adds the traceback but keeps the exit code."""

from __future__ import annotations

import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from buildiso.cli import main


@contextmanager
def _read_only_fs(path: Path) -> Iterator[Path]:
    path.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", str(path)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a read-only tmpfs here: {mounted.stderr.decode().strip()}")
    try:
        yield path
    finally:
        subprocess.run(["umount", str(path)], check=True)


def _a_file(tmp: Path) -> Path:
    path = tmp / "a-file"
    path.write_text("not a folder\n")
    return path


BAD_OUT: dict[str, Callable[[Path], Path]] = {
    "a file": _a_file,
    "under a file": lambda tmp: _a_file(tmp) / "sub",
    "/proc/x": lambda tmp: Path("/proc/buildiso-hostile-x"),
    "/dev/null": lambda tmp: Path("/dev/null"),
}


def _one_line_error(err: str, *, names: str) -> None:
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("buildiso: error:")]
    assert len(errors) == 1 and names in errors[0], err


@pytest.mark.parametrize("verb", ["build", "render"])
@pytest.mark.parametrize("case", sorted(BAD_OUT))
def test_bad_out_is_one_line_exit_2(
    verb: str, case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = BAD_OUT[case](tmp_path)
    assert main([verb, "--out", str(out)]) == 2
    _one_line_error(capsys.readouterr().err, names=str(out))


@pytest.mark.parametrize("verb", ["build", "render"])
def test_out_on_a_read_only_file_system(
    verb: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with _read_only_fs(tmp_path / "ro") as ro:
        assert main([verb, "--out", str(ro / "new")]) == 2
        _one_line_error(capsys.readouterr().err, names="read-only")


def test_inspect_a_folder(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path)]) == 2
    _one_line_error(capsys.readouterr().err, names=str(tmp_path))


def test_debug_keeps_the_exit_code(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--debug", "build", "--base", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "--base and --gateway-rpms go together" in err


@pytest.mark.parametrize("option", ["--profile", "--password-file"])
def test_a_folder_where_a_file_is_expected(
    option: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["render", option, str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and "is a directory" in err
    assert not (tmp_path / "o").exists()
