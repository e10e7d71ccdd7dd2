"""buildiso.log: progress lines, and timed steps that say how long they took."""

from __future__ import annotations

import logging
import re

import pytest

from buildiso.log import setup_logging, step


def test_a_timed_step_reports_its_duration(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    with step("mastering X.iso") as timed:
        pass
    err = capsys.readouterr().err.splitlines()
    assert err[0] == "==> mastering X.iso"
    assert re.fullmatch(r"<== mastering X\.iso \([0-9]+\.[0-9] s\)", err[1])
    assert timed.seconds is not None and timed.seconds >= 0


def test_a_failed_step_reports_no_duration(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    with pytest.raises(RuntimeError), step("signatures"):
        raise RuntimeError("bad package")
    assert capsys.readouterr().err.splitlines() == ["==> signatures"]


def test_a_plain_step_only_announces(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging()
    step("base: RHEL-6.10")
    assert capsys.readouterr().err.splitlines() == ["==> base: RHEL-6.10"]


def test_quiet_hides_steps(capsys: pytest.CaptureFixture[str]) -> None:
    setup_logging(quiet=True)
    with step("hidden"):
        pass
    assert capsys.readouterr().err == ""
    logging.getLogger("buildiso").setLevel(logging.INFO)
