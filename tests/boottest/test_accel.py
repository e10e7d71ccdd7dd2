"""buildiso.boottest.accel: KVM probed by trying it, fallback to TCG."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from buildiso.boottest.accel import choose_accel, probe_kvm
from buildiso.config import Accel
from buildiso.errors import BuildError


def test_choose_accel_tcg_does_not_probe() -> None:
    def probe() -> tuple[bool, str]:
        raise AssertionError("probe must not run")

    assert choose_accel(Accel.TCG, probe=probe).accel is Accel.TCG


def test_choose_accel_auto_falls_back_to_tcg_and_says_why() -> None:
    choice = choose_accel(Accel.AUTO, probe=lambda: (False, "guest died with 'KVM internal error'"))
    assert choice.accel is Accel.TCG
    assert "KVM internal error" in choice.reason and "TCG" in choice.reason


def test_choose_accel_auto_uses_working_kvm() -> None:
    assert choose_accel(Accel.AUTO, probe=lambda: (True, "booted")).accel is Accel.KVM


def test_choose_accel_forced_kvm_that_is_broken_fails() -> None:
    with pytest.raises(BuildError, match="KVM was requested"):
        choose_accel(Accel.KVM, probe=lambda: (False, "no /dev/kvm"))


_FAKE_QEMU = """\
#!{python}
import sys, time
args = sys.argv[1:]
serial = [a.split("path=", 1)[1] for a in args if a.startswith("file,id=s0,")][0]
mode = {mode!r}
if mode == "broken":
    sys.stderr.write("KVM internal error. Suberror: 1\\n"); sys.stderr.flush()
elif mode == "works":
    open(serial, "w").write("BdsDxe: loading Boot0001\\n")
elif mode == "exits":
    sys.stderr.write("Could not access KVM kernel module\\n"); sys.exit(1)
time.sleep(30)
"""


@pytest.mark.parametrize(
    ("mode", "works", "reason"),
    [
        ("broken", False, "KVM internal error"),
        ("works", True, "booted its firmware"),
        ("exits", False, "exited with code 1"),
        ("silent", False, "printed nothing"),
    ],
)
def test_probe_kvm_by_trying(tmp_path: Path, mode: str, works: bool, reason: str) -> None:
    fake = tmp_path / "fake-qemu"
    fake.write_text(_FAKE_QEMU.format(python=sys.executable, mode=mode))
    fake.chmod(0o755)
    device = tmp_path / "kvm"
    device.write_bytes(b"")  # opens fine, like the broken nested /dev/kvm here
    ok, why = probe_kvm(qemu=str(fake), timeout=3.0, kvm_device=device)
    assert ok is works
    assert reason in why


def test_probe_kvm_without_device(tmp_path: Path) -> None:
    ok, why = probe_kvm(qemu="/nonexistent", kvm_device=tmp_path / "missing")
    assert not ok and "not available" in why
