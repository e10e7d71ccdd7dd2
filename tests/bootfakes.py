"""A scripted stand-in for a QEMU guest, and a fake clock, for the boot-test unit tests.

The guest writes its serial output into real files read by the real ``SerialLog``; what it
writes and when is a script of (trigger, delay, channel, text): trigger ``start`` is the
guest's start, ``keyN`` the N-th ``send_keys`` call (a person choosing a menu entry).
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import shutil
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from buildiso.boottest.bootcell import Cell, CellResult, run_cell
from buildiso.boottest.celldriver import CellConfig
from buildiso.boottest.filmstrip import FOLDER as FILMSTRIP
from buildiso.boottest.isomenu import parse_isolinux
from buildiso.boottest.qemu import VmSpec
from buildiso.boottest.screendump import Screenshot, png_size
from buildiso.boottest.seriallog import SerialLog
from buildiso.boottest.vm import QemuStartError
from buildiso.config import Accel, Firmware, Media
from buildiso.render.profile import Profile

DATA = Path(__file__).parent / "data"
ISOLINUX_CFG = """\
serial 0 115200
default vesamenu.c32
timeout 600
menu title Welcome to Clearswift Email Solutions
label linux
  menu label ^Install Secure Email Gateway
label serial
  menu label Install Secure Email Gateway (^serial console)
label local
  menu label Boot from ^local drive
  menu default
  localboot 0xffff
"""
MENU = parse_isolinux(ISOLINUX_CFG, source="isolinux/isolinux.cfg")
MENU_SERIAL = (DATA / "isolinux-serial-menu.txt").read_text(errors="replace")


def good_report(profile: Profile) -> dict[str, Any]:
    return {
        "schema": 1,
        "product": profile.product,
        "version": profile.version,
        "build": profile.build,
        "rpms": ["cs-email-4.9.0-190.x86_64", "bash-4.1.2-48.el6.x86_64"],
        "forbidden_present": [],
        "filesystems": {
            "/": {"size_mb": 20160, "device": "/dev/vda1"},
            "/var": {"size_mb": 60480, "device": "/dev/vda2"},
        },
        "arrays": {},
        "users": {"cs-admin": {"exists": True, "password_expired": True}},
        "firewall": {"tcp": list(profile.firewall.tcp), "udp": list(profile.firewall.udp)},
        "repos_enabled": [],
        "tls10": False,
    }


def b64(report: dict[str, Any]) -> str:
    return base64.b64encode(json.dumps(report).encode()).decode()


Script = list[tuple[str, float, str, str]]


def install_script(*, report: dict[str, Any], stages: tuple[str, ...] | None = None) -> Script:
    """A complete, successful boot → install → reboot → first boot."""
    names = stages or (
        "kernel",
        "media",
        "kickstart",
        "partitioning",
        "packages",
        "bootloader",
        "post",
    )
    script: Script = [("start", 0.5, "console", "\r\n" + MENU_SERIAL)]
    t = 1.0
    for name in names:
        script.append(("key1", t, "protocol", f"BUILDISO-STAGE name={name} status=start t={t}\n"))
        script.append(
            ("key1", t + 1, "protocol", f"BUILDISO-STAGE name={name} status=ok t={t + 1}\n")
        )
        t += 2
    script += [
        ("key1", t, "protocol", "INSTALL-RESULT status=ok\n"),
        ("key1", t + 0.2, "protocol", f"BUILDISO-STAGE name=reboot status=start t={t}\n"),
        ("key1", t + 1, "event", "RESET"),
        ("key1", t + 1.5, "console", "\r\n" + MENU_SERIAL),
        ("key2", 2.0, "console", "Linux version 6.1.0\r\n"),
        ("key2", 4.0, "protocol", f"FIRSTBOOT-RESULT status=ok report={b64(report)}\n"),
    ]
    return script


class FakeClock:
    """Time that passes only when the code under test sleeps."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@functools.cache
def _default_screen() -> bytes:
    """A 640x480 screen (isolinux's size): black with one white box."""
    image = Image.new("RGB", (640, 480))
    image.paste((255, 255, 255), (100, 100, 540, 140))
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


@dataclass
class FakeGuest:
    artifacts: Path
    clock: Callable[[], float]
    script: Script
    keys: list[list[str]] = field(default_factory=list)
    events: list[str] = field(default_factory=list)
    alive: bool = True
    screenshots: list[Path] = field(default_factory=list)
    frames: list[Path] = field(default_factory=list)  # the filmstrip's (full-size) grabs
    screen: Path | None = None  # a PNG every screendump returns; None: _default_screen()

    def __post_init__(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.files = {
            ch: self.artifacts / f"{ch}.log" for ch in ("console", "protocol", "firmware")
        }
        for path in self.files.values():
            path.write_text("")
        self.console = SerialLog(self.files["console"])
        self.protocol = SerialLog(self.files["protocol"])
        self.triggers = {"start": self.clock()}
        self.pending = list(self.script)
        self.tick()

    def tick(self) -> None:
        keep = []
        for item in self.pending:
            trigger, delay, channel, text = item
            at = self.triggers.get(trigger)
            if at is None or at + delay > self.clock():
                keep.append(item)
                continue
            if channel == "event":
                self.events.append(text)
            elif channel == "exit":
                self.alive = False
            else:
                with self.files[channel].open("a") as fh:
                    fh.write(text)
                if channel == "protocol" and "-RESULT" in text:
                    # the installer writes its result lines to the console too
                    with self.files["console"].open("a") as fh:
                        fh.write(text.replace("\n", "\r\n"))
        self.pending = keep

    # The harness asks these every poll round: the script advances then.
    @property
    def running(self) -> bool:
        self.tick()
        return self.alive

    def event_names(self) -> list[str]:
        self.tick()
        return list(self.events)

    def send_keys(self, keys: list[str]) -> None:
        self.keys.append(list(keys))
        self.triggers[f"key{len(self.keys)}"] = self.clock()

    def screendump(self, path: Path) -> Screenshot:
        if not self.alive:
            raise OSError("QMP: the guest is gone")
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.screen is not None:
            shutil.copyfile(self.screen, path)
        else:
            path.write_bytes(_default_screen())
        (self.frames if FILMSTRIP in path.parts else self.screenshots).append(path)
        width, height = png_size(path)
        return Screenshot(path=path, width=width, height=height, colours=2)

    def stderr_tail(self, lines: int = 5) -> str:
        return ""


class FakeFactory:
    """A guest factory: scripts per cell name; optionally fails to start N times first."""

    def __init__(
        self,
        clock: Callable[[], float],
        scripts: dict[str, Script],
        *,
        start_failures: int = 0,
        screen: Path | None = None,
    ) -> None:
        self.clock = clock
        self.scripts = scripts
        self.start_failures = start_failures
        self.screen = screen
        self.started: list[FakeGuest] = []
        self.specs: list[VmSpec] = []
        self.active = 0
        self.max_active = 0  # most guests running at once (matrix parallelism)
        self._lock = threading.Lock()

    @contextlib.contextmanager
    def __call__(self, spec: VmSpec, artifacts: Path) -> Iterator[FakeGuest]:
        self.specs.append(spec)
        if self.start_failures > 0:
            self.start_failures -= 1
            raise QemuStartError("QEMU exited with code 1 at start: Could not allocate memory")
        name = f"{spec.firmware.value}-{spec.media.value}"
        guest = FakeGuest(artifacts, self.clock, self.scripts[name], screen=self.screen)
        with self._lock:
            self.started.append(guest)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            yield guest
        finally:
            guest.alive = False
            with self._lock:
                self.active -= 1


CELL = Cell(Firmware.BIOS, Media.DVD)
TIMEOUTS = {
    "firmware": 20,
    "menu": 10,
    "kernel": 30,
    "media": 30,
    "kickstart": 30,
    "partitioning": 30,
    "packages": 60,
    "bootloader": 30,
    "post": 60,
    "reboot": 30,
    "local-boot": 30,
    "firstboot": 30,
}


def run_scripted_cell(
    tmp_path: Path, prof: Profile, script: Script, **kw: Any
) -> tuple[CellResult, FakeFactory]:
    """Run ``CELL`` against ``script`` with a fake clock; CellConfig fields via ``kw``."""
    clock = FakeClock()
    factory = FakeFactory(clock, {CELL.name: script}, start_failures=kw.pop("start_failures", 0))
    config = CellConfig(
        iso=tmp_path / "x.iso",
        profile=kw.pop("profile", prof),
        menu=kw.pop("menu", MENU),
        accel=Accel.TCG,
        artifacts=tmp_path / CELL.name,
        timeouts=TIMEOUTS,
        **kw,
    )
    result = run_cell(CELL, config, guest_factory=factory, clock=clock, sleep=clock.sleep)
    return result, factory


def cut_after(script: Script, text: str) -> Script:
    """``script`` up to and including the first event whose text contains ``text``."""
    index = next(i for i, item in enumerate(script) if text in item[3])
    return script[: index + 1]


def quick(script: Script, factor: float = 20) -> Script:
    """``script`` played ``factor`` times faster (for tests that run in real time)."""
    return [(trigger, delay / factor, channel, text) for trigger, delay, channel, text in script]


def run_shard(
    tmp_path: Path,
    *,
    artifacts: Path,
    scripts: dict[str, Script],
    screen: Path | None = None,
    **kw: Any,
) -> Exception | None:
    """``boot_test_command --matrix`` against scripted guests (real time, real writers).

    ``screen``: the PNG every guest's screendump returns. Extra keywords go to
    boot_test_command (``shard``, ``cell_names``, ...). Returns the BuildError of failed
    cells (results are written all the same), or None.
    """
    import time

    import pytest

    from buildiso import paths
    from buildiso.boottest import matrix
    from buildiso.boottest.accel import AccelChoice
    from buildiso.boottest.bootproto import ALL_STAGES
    from buildiso.config import Variant
    from buildiso.errors import BuildError

    iso = tmp_path / "EMAIL_490_190.iso"
    if not iso.exists():
        iso.write_bytes(b"\0")
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(matrix, "read_menu", lambda iso, firmware: MENU)
        try:
            matrix.boot_test_command(
                iso=iso,
                firmware=Firmware.BIOS,
                media=Media.DVD,
                matrix=True,
                jobs=2,
                accel=Accel.TCG,
                artifacts=artifacts,
                junit=None,
                wait_local_timeout=False,
                profile_path=paths.DEFAULT_PROFILE,
                variant=Variant.TEST,
                out=io.StringIO(),
                accel_chooser=lambda a: AccelChoice(Accel.TCG, "asked for tcg"),
                timeouts=dict.fromkeys(ALL_STAGES, 10.0),
                guest_factory=FakeFactory(time.monotonic, scripts, screen=screen),
                **kw,
            )
        except BuildError as exc:
            return exc
    return None
