"""One boot-test cell (firmware × media): its definition, its result, and running it.

``run_cell`` starts a guest (``qemu_guest``: a fresh disk, then QEMU), lets
``buildiso.boottest.celldriver.CellDriver`` follow it through its stages, retries only
infrastructure failures, and writes the cell's ``result.json``, ``timings.json`` and
failure screenshot.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildiso.atomicfile import replace_dir, write_json_atomic
from buildiso.boottest.bootproto import last_lines
from buildiso.boottest.celldriver import CellConfig, CellDriver
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.guest import Guest
from buildiso.boottest.postreport import CheckResult
from buildiso.boottest.qemu import VmSpec
from buildiso.boottest.vm import QemuStartError
from buildiso.config import Firmware, Media

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Cell:
    firmware: Firmware
    media: Media

    @property
    def name(self) -> str:
        return f"{self.firmware.value}-{self.media.value}"


# --matrix: the ISO itself as DVD and USB stick; the Rufus-style stick (usb-files) on demand.
ALL_CELLS = tuple(Cell(f, m) for f in Firmware for m in (Media.DVD, Media.USB))

GuestFactory = Callable[[VmSpec, Path], AbstractContextManager[Guest]]


@dataclass
class CellResult:
    cell: Cell
    passed: bool
    failure_class: str | None
    message: str
    stages: dict[str, dict[str, Any]]
    checks: list[CheckResult]
    artifacts: Path
    accel: str
    seconds: float
    attempts: int = 1
    menu_screenshot: dict[str, Any] | None = None
    console_tail: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {
            "cell": self.cell.name,
            "firmware": self.cell.firmware.value,
            "media": self.cell.media.value,
            "passed": self.passed,
            "failure_class": self.failure_class,
            "message": self.message,
            "accel": self.accel,
            "seconds": round(self.seconds, 2),
            "attempts": self.attempts,
            "stages": self.stages,
            "checks": [{"name": c.name, "ok": c.ok, "message": c.message} for c in self.checks],
            "menu_screenshot": self.menu_screenshot,
            "console_tail": self.console_tail,
            "artifacts": str(self.artifacts),
        }


def run_cell(
    cell: Cell,
    config: CellConfig,
    *,
    guest_factory: GuestFactory,
    cancelled: Callable[[], bool] = lambda: False,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
    retries: int = 1,
) -> CellResult:
    """Run ``cell``; only infrastructure failures (QEMU did not start) are retried."""
    attempts = 0
    while True:
        attempts += 1
        result = _attempt(
            cell, config, guest_factory=guest_factory, cancelled=cancelled, clock=clock, sleep=sleep
        )
        result.attempts = attempts
        if result.failure_class != "infrastructure" or attempts > retries:
            return result
        log.warning("%s: QEMU failed to start (%s); retrying once", cell.name, result.message)
        with contextlib.suppress(OSError):
            if config.artifacts.exists():
                target = config.artifacts.with_name(f"{config.artifacts.name}.attempt{attempts}")
                replace_dir(config.artifacts, target)


def _attempt(
    cell: Cell,
    config: CellConfig,
    *,
    guest_factory: GuestFactory,
    cancelled: Callable[[], bool],
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> CellResult:
    art = config.artifacts
    art.mkdir(parents=True, exist_ok=True)
    started = clock()
    spec = VmSpec(
        firmware=cell.firmware,
        media=cell.media,
        iso=config.media_image or config.iso,
        disk=art / "disk.qcow2",
        accel=config.accel,
        memory_mb=config.memory_mb,
        reboot=True,
        # the disks the profile's layout installs onto (raid1: two)
        extra_disks=tuple(
            art / f"disk{i}.qcow2" for i in range(2, config.profile.disk_layout.disks + 1)
        ),
    )
    failure: CellFailed | None = None
    driver: CellDriver | None = None
    console_text = ""
    try:
        with guest_factory(spec, art) as guest:
            driver = CellDriver(config, guest, clock=clock, sleep=sleep, cancelled=cancelled)
            try:
                driver.run()
            except CellFailed as exc:
                failure = exc
                driver.stages.fail_current(clock())
                _failure_screenshot(guest, art)
            console_text = guest.console.text
    except QemuStartError as exc:
        failure = CellFailed("infrastructure", str(exc))
    seconds = clock() - started
    stages = driver.stages.timings() if driver else {}
    shot = driver.menu_screenshot if driver else None
    result = CellResult(
        cell=cell,
        passed=failure is None,
        failure_class=failure.failure_class if failure else None,
        message=failure.message
        if failure
        else "installed; installed system reported; all checks passed",
        stages=stages,
        checks=driver.checks if driver else [],
        artifacts=art,
        accel=config.accel.value,
        seconds=seconds,
        menu_screenshot=(
            {
                "path": str(shot.path),
                "width": shot.width,
                "height": shot.height,
                "colours": shot.colours,
            }
            if shot
            else None
        ),
        console_tail=last_lines(console_text, 15) if failure else [],
    )
    if failure is not None and result.console_tail:
        result.message += " | last console lines: " + " / ".join(result.console_tail[-5:])
    _write_json(art / "timings.json", stages)
    _write_json(art / "result.json", result.to_json())
    return result


def _failure_screenshot(guest: Guest, art: Path) -> None:
    # The screen at the moment of failure; the guest may already be gone.
    try:
        if guest.running:
            guest.screendump(art / "failure.png")
    except Exception as exc:  # noqa: BLE001 - evidence is best effort, the failure is the point
        log.debug("failure screenshot: %s", exc)


def _write_json(path: Path, data: object) -> None:
    write_json_atomic(path, data, sort_keys=True)


@contextlib.contextmanager
def qemu_guest(spec: VmSpec, artifacts: Path, *, disk_mb: int) -> Iterator[Guest]:
    """The real guest: a fresh sparse disk, then QEMU (stopped on any exit)."""
    from buildiso.boottest.qemu import create_disk
    from buildiso.boottest.vm import Vm

    assert spec.disk is not None
    try:
        for disk in (spec.disk, *spec.extra_disks):
            create_disk(disk, size_mb=disk_mb)
    except Exception as exc:
        raise QemuStartError(f"could not create the target disk {spec.disk}: {exc}") from exc
    with Vm(spec, artifacts=artifacts) as vm:
        yield vm
