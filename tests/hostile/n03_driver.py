"""Run by ``test_hostile_n03_signals.py`` in a process of its own (it is sent signals):
``buildiso boot-test --matrix --cells bios-dvd,uefi-dvd --jobs 1`` through the real
command line, with scripted guests that reach the installer's packages stage and stay
there. Each guest is paired with a real child process (``sleep``, started through
``buildiso.run.spawn`` as QEMU is) whose PID is appended to PIDFILE once the guest runs:
the stand-in for the QEMU that a killed run must not orphan.

Usage: python n03_driver.py ARTIFACTS PIDFILE
"""

from __future__ import annotations

import contextlib
import sys
import time
from collections.abc import Iterator, Sequence
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests/: bootfakes

from bootfakes import MENU, TIMEOUTS, FakeFactory, cut_after, good_report, install_script  # noqa: E402

from buildiso import paths, run  # noqa: E402
from buildiso.boottest import command, inputs  # noqa: E402
from buildiso.boottest.accel import AccelChoice  # noqa: E402
from buildiso.boottest.qemu import VmSpec  # noqa: E402
from buildiso.cli import main  # noqa: E402
from buildiso.config import Accel, Variant  # noqa: E402
from buildiso.render.profile import load_profile  # noqa: E402


def _factory(pidfile: Path) -> object:
    profile = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
    stuck = cut_after(install_script(report=good_report(profile)), "name=packages status=start")
    fake = FakeFactory(time.monotonic, {"bios-dvd": stuck, "uefi-dvd": stuck})

    @contextlib.contextmanager
    def machines(
        spec: VmSpec, folder: Path, *, new_disks: Sequence[Path] = (), disk_mb: int = 0
    ) -> Iterator[object]:
        with run.spawn(["sleep", "600"]) as child, fake(spec, folder, new_disks=new_disks,
                                                        disk_mb=disk_mb) as guest:  # fmt: skip
            with pidfile.open("a") as fh:
                fh.write(f"{child.proc.pid}\n")
            yield guest

    return machines


def drive(artifacts: Path, pidfile: Path) -> int:
    iso = artifacts.parent / "in" / "EMAIL_490_190.iso"
    iso.parent.mkdir(parents=True, exist_ok=True)
    iso.write_bytes(b"\0" * 2048)
    inputs.read_menu = lambda iso, firmware: MENU  # type: ignore[assignment]
    defaults = command.boot_test_command.__kwdefaults__
    assert defaults is not None
    defaults.update(machines=_factory(pidfile), limits=dict.fromkeys(TIMEOUTS, 600.0),
                    accel_chooser=lambda a: AccelChoice(Accel.TCG, "scripted"))  # fmt: skip
    return main(["boot-test", str(iso), "--matrix", "--cells", "bios-dvd,uefi-dvd",
                 "--jobs", "1", "--accel", "tcg", "--artifacts", str(artifacts)])  # fmt: skip


if __name__ == "__main__":
    sys.exit(drive(Path(sys.argv[1]), Path(sys.argv[2])))
