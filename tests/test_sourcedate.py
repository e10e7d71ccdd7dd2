"""sourcedate: SOURCE_DATE_EPOCH read in one place, bad values refused in one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.cli import main
from buildiso.errors import InputError
from buildiso.sourcedate import epoch_from_env


def test_unset_or_empty_means_derive(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    assert epoch_from_env() is None
    monkeypatch.setenv("SOURCE_DATE_EPOCH", " ")
    assert epoch_from_env() is None


def test_seconds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1529366400")
    assert epoch_from_env() == 1529366400


@pytest.mark.parametrize("value", ["yesterday", "-1", "1.5", "1e9"])
def test_not_seconds_refused(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("SOURCE_DATE_EPOCH", value)
    with pytest.raises(InputError, match="not a number of seconds") as err:
        epoch_from_env()
    assert err.value.hint


def test_sample_base_refuses_a_bad_value_in_one_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # It used to end in a ValueError traceback before anything was checked.
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "abc")
    assert main(["sample-base", "--out", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip()
    assert "SOURCE_DATE_EPOCH='abc'" in err and "Traceback" not in err and "\n" not in err
