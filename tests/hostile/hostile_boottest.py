"""Shared by the boot-test side of tests/hostile/ (N3-N6): ``buildiso boot-test`` through
the real command line (``cli.main``: its checks, error lines and exit codes) with scripted
guests (``tests/bootfakes.py``) in place of QEMU, and a guard that fails the test if a
real QEMU or qemu-img would start.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from bootfakes import MENU, TIMEOUTS, FakeFactory, Script, cut_after, good_report, install_script

from buildiso.boottest import command, inputs
from buildiso.boottest.accel import AccelChoice
from buildiso.config import Accel
from buildiso.render.profile import Profile

ISO_NAME = "EMAIL_490_190.iso"


def fake_iso(folder: Path) -> Path:
    """A file standing for the ISO (its menus are given by ``faked``, never read)."""
    folder.mkdir(parents=True, exist_ok=True)
    iso = folder / ISO_NAME
    iso.write_bytes(b"\0" * 2048)
    return iso


def hanging(profile: Profile) -> Script:
    """A guest that reaches the installer's packages stage and stays there."""
    return cut_after(install_script(report=good_report(profile)), "name=packages status=start")


def refuse_real_vms(monkeypatch: pytest.MonkeyPatch) -> None:
    """No QEMU (run.spawn) and no qemu-img (qemu.run) may start: a test that reaches them
    fails instead of booting a fake ISO."""
    from buildiso import run
    from buildiso.boottest import qemu

    def refused(*args: object, **kwargs: object) -> None:
        raise AssertionError(f"a real VM tool was started: {args[:1]}")

    monkeypatch.setattr(run, "spawn", refused)
    monkeypatch.setattr(qemu, "run", refused)


@contextlib.contextmanager
def faked(
    monkeypatch: pytest.MonkeyPatch,
    scripts: dict[str, Script] | None = None,
    *,
    limit_s: float = 10.0,
) -> Iterator[FakeFactory]:
    """``cli.main(["boot-test", ...])`` runs against scripted guests (real time) instead of
    QEMU: the command's defaults (machines, accelerator, stage limits) replaced, the ISO's
    menus given."""
    factory = FakeFactory(time.monotonic, scripts or {})
    defaults = command.boot_test_command.__kwdefaults__
    assert defaults is not None
    monkeypatch.setitem(defaults, "machines", factory)
    monkeypatch.setitem(defaults, "accel_chooser", lambda a: AccelChoice(Accel.TCG, "scripted"))
    monkeypatch.setitem(defaults, "limits", dict.fromkeys(TIMEOUTS, limit_s))
    monkeypatch.setattr(inputs, "read_menu", lambda iso, firmware: MENU)
    refuse_real_vms(monkeypatch)
    yield factory


def one_error_line(err: str, *, names: str) -> str:
    """The one ``buildiso: error:`` line of ``err`` (no traceback); it names ``names``."""
    assert "Traceback" not in err, err
    errors = [line for line in err.splitlines() if line.startswith("buildiso: error:")]
    assert len(errors) == 1 and names in errors[0], err
    return errors[0]
