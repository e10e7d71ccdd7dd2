"""Second hostile audit, N13: the custom password is read and checked in bounded time and
memory.

Before: ``--password-file /dev/zero`` read until MemoryError, and the policy check was
quadratic (16 KB took 14 s, 1 MB ran for minutes). Now the file is read up to a bound the
policy implies (a password of at most ``MAX_LENGTH`` characters) and a longer one is one
line, exit 2; the policy's costly checks (dictionary words with swaps, sequences) only ever
see a password of allowed length, so the check is linear in its input.
"""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.cli import main
from buildiso.render import password

# Children get 2 GiB of address space: the old unbounded read fails fast instead of
# taking the shared machine's memory.
_LIMIT = 2 * 2**30


def _limited() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (_LIMIT, _LIMIT))


def _render(*args: str, tmp: Path) -> subprocess.CompletedProcess[str]:
    argv = [sys.executable, "-m", "buildiso", "render", "--out", str(tmp / "r"), *args]
    return subprocess.run(argv, capture_output=True, text=True, timeout=300,
                          preexec_fn=_limited, cwd=paths.PROJECT_ROOT)  # fmt: skip


def test_password_file_dev_zero_is_one_line(tmp_path: Path) -> None:
    proc = _render("--password-file", "/dev/zero", tmp=tmp_path)
    assert proc.returncode == 2, proc.stderr[-2000:]
    (line,) = proc.stderr.splitlines()
    assert "/dev/zero: longer than" in line and "MemoryError" not in line
    assert not (tmp_path / "r").exists()


def test_long_password_file_is_refused_without_showing_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    secret = "Xk9#mRq2vL-Tz7w" * 70_000  # ~1 MB
    pw = tmp_path / "pw"
    pw.write_text(secret)
    code = main(["render", "--password-file", str(pw), "--out", str(tmp_path / "r")])
    assert code == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert "longer than" in line and secret[:15] not in line


def test_policy_check_never_scans_more_than_an_allowed_password(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    seen: list[int] = []
    for name in ("_dictionary_word", "_has_sequence", "_unleet"):
        real = getattr(password, name)

        def spy(text: str, real=real) -> object:  # type: ignore[no-untyped-def]
            seen.append(len(text))
            return real(text)

        monkeypatch.setattr(password, name, spy)
    # 16 KB of characters each read two ways (1 = i or l, ! = i or l, | = l or i): the
    # worst case of the swap check; 31 s of policy check before the fix (load ~4)
    long = "Qz1!Wx7|" * 2000
    failures = password.policy_failures(long)
    assert f"at most {password.MAX_LENGTH} characters" in failures
    assert all(n <= password.MAX_LENGTH for n in seen)
    # an acceptable length is still checked in full
    seen.clear()
    assert password.policy_failures("Xk9#mRq2vL-Tz7w") == []
    assert seen and max(seen) == len("Xk9#mRq2vL-Tz7w")


def test_env_password_of_a_megabyte_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(password.ENV_VAR, "Xk9#mRq2vL-Tz7w" * 70_000)
    assert main(["render", "--out", str(tmp_path / "r")]) == 2
    (line,) = capsys.readouterr().err.splitlines()
    assert f"longer than {password.MAX_LENGTH} characters" in line
