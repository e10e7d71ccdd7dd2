"""secretenv.py: the password handed over through a pipe, read bounded, the fd closed."""

from __future__ import annotations

import os

import pytest

from buildiso import secretenv


def _pipe(data: bytes) -> int:
    read_end, write_end = os.pipe()
    os.write(write_end, data)
    os.close(write_end)
    return read_end


def test_received_password_is_read_once_bounded_and_closed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secretenv, "_received", None)
    fd = _pipe(b"x" * (secretenv.MAX_BYTES + 500))
    monkeypatch.setenv(secretenv.FD_VAR, str(fd))
    monkeypatch.setenv(secretenv.ENV_VAR, "ignored once handed over")
    secretenv.reexec_without_password([])  # the re-executed side: receives, no exec
    assert secretenv.FD_VAR not in os.environ
    with pytest.raises(OSError):
        os.fstat(fd)  # closed
    got = secretenv.environment_password()
    assert got is not None and len(got) == secretenv.MAX_BYTES + 1


@pytest.mark.parametrize("value", ["0", "2", "x", "-1"])
def test_a_descriptor_that_is_not_ours_is_ignored(
    value: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(secretenv, "_received", None)
    monkeypatch.setenv(secretenv.FD_VAR, value)
    secretenv.reexec_without_password([])
    assert secretenv._received is None


def test_without_re_execution_the_variable_is_read_and_removed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(secretenv, "_received", None)
    monkeypatch.setenv(secretenv.ENV_VAR, "Xk9#mRq2vL-Tz7w")
    assert secretenv.environment_password() == b"Xk9#mRq2vL-Tz7w"
    assert secretenv.ENV_VAR not in os.environ
    assert secretenv.environment_password({secretenv.ENV_VAR: "a"}) == b"a"
