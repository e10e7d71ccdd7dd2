"""A scripted stand-in for a QEMU guest, and a fake clock, for the boot-test unit tests.

The guest writes its serial output into real files read by the real ``SerialLog``; what it
writes and when is a script of (trigger, delay, channel, text): trigger ``start`` is the
guest's start, ``keyN`` the N-th ``send_keys`` call (a person choosing a menu entry).
``run_scripted_cell`` runs one cell of a scenario (the shipped install by default) through
the real runner, steps and session against such a guest.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import io
import json
import shutil
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PIL import Image

from buildiso.boottest.artifacts import RunFolder
from buildiso.boottest.filmstrip import FOLDER as FILMSTRIP
from buildiso.boottest.inputs import Inputs, IsoMedia
from buildiso.boottest.isomenu import BootMenu, parse_isolinux
from buildiso.boottest.qemu import VmSpec, create_disk
from buildiso.boottest.results import CellResult
from buildiso.boottest.runner import Plan, merged_limits
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.boottest.screendump import Screenshot, png_size
from buildiso.boottest.seriallog import SerialLog
from buildiso.boottest.session import RunOptions
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
        "users": {"cs-admin": {"exists": True, "password_expired": False}},
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


def clean_shutdown(key: str) -> Script:
    """A machine's answer to Ctrl-Alt-Delete pressed as its ``key`` (``keyN``): init stops
    it in order, the kernel restarts, and (its reboot made a power-off) QEMU exits."""
    return [
        (key, 0.5, "console", "\r\nThe system is going down NOW!\r\n"),
        (key, 1.0, "console", "[   99.1] reboot: Restarting system\r\n"),
        (key, 1.1, "exit", ""),
    ]


def disk_boot(*, firstboot: bool = True) -> Script:
    """An installed system booting its disk to the login prompt (the sample's reports at
    every boot)."""
    script: Script = [("start", 1.0, "console", "Linux version 6.1.0\r\n")]
    if firstboot:
        script.append(("start", 2.0, "console", "FIRSTBOOT-RESULT status=ok report=e30=\r\n"))
    return [*script, ("start", 2.5, "console", "\r\nlocalhost login: ")]


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
    inserted: list[Path] = field(default_factory=list)  # change_media
    reboot_ends: bool = False  # reboot_powers_off was called

    def __post_init__(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        self.files = {
            ch: self.artifacts / f"{ch}.log" for ch in ("console", "protocol", "firmware")
        }
        for path in self.files.values():
            path.write_text("")
        self.console = SerialLog(self.files["console"])
        # a unix socket's path must stay under 108 bytes: not in the (long) artifacts path
        self.socket_dir = Path(tempfile.mkdtemp(prefix="bootfakes-"))
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

    @property
    def console_socket(self) -> Path:
        return self.socket_dir / "ttyS0.sock"

    def change_media(self, iso: Path) -> None:
        self.inserted.append(iso)

    def reboot_powers_off(self) -> None:
        self.reboot_ends = True


class FakeFactory:
    """A machine factory (session.MachineFactory): scripts per cell name (the N-th machine
    a cell starts after its first plays ``"<cell>#N"``); optionally fails to start N times
    first. ``guest_type`` makes the guests (a subclass answers a console, say)."""

    def __init__(
        self,
        clock: Callable[[], float],
        scripts: dict[str, Script],
        *,
        start_failures: int = 0,
        screen: Path | None = None,
        guest_type: type[FakeGuest] | None = None,
        make_disks: bool = False,
        real_disks: bool = False,
    ) -> None:
        self.clock = clock
        self.make_disks = make_disks  # write the new disks (as qemu-img would make them)
        self.real_disks = real_disks  # make them with qemu-img (sparse qcow2)
        self.scripts = scripts
        self.start_failures = start_failures
        self.screen = screen
        self.guest_type = guest_type or FakeGuest
        self.started: list[FakeGuest] = []
        self.specs: list[VmSpec] = []
        self.new_disks: list[tuple[Path, ...]] = []
        self.active = 0
        self.max_active = 0  # most guests running at once (matrix parallelism)
        self._lock = threading.Lock()
        self._count: dict[str, int] = {}

    @contextlib.contextmanager
    def __call__(
        self, spec: VmSpec, artifacts: Path, *, new_disks: Sequence[Path] = (), disk_mb: int = 0
    ) -> Iterator[FakeGuest]:
        self.specs.append(spec)
        self.new_disks.append(tuple(new_disks))
        for disk in new_disks if self.make_disks else ():
            disk.write_bytes(b"QFI\xfb")
        for disk in new_disks if self.real_disks else ():
            create_disk(disk, size_mb=disk_mb)
        if self.start_failures > 0:
            self.start_failures -= 1
            raise QemuStartError("QEMU exited with code 1 at start: Could not allocate memory")
        name = f"{spec.firmware.value}-{spec.media.value}"
        with self._lock:
            self._count[name] = self._count.get(name, 0) + 1
            nth = self._count[name]
        script = self.scripts[name if nth == 1 else f"{name}#{nth}"]
        guest = self.guest_type(artifacts, self.clock, script, screen=self.screen)
        with self._lock:
            self.started.append(guest)
            self.active += 1
            self.max_active = max(self.max_active, self.active)
        try:
            yield guest
        finally:
            guest.alive = False
            shutil.rmtree(guest.socket_dir, ignore_errors=True)
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


def iso_media(
    tmp_path: Path,
    prof: Profile,
    *,
    name: str = "iso",
    menu: BootMenu | str = MENU,
    install_set: frozenset[str] | None = None,
    **fields: Any,
) -> IsoMedia:
    """A resolved ISO input without an ISO: the menus, profile and install set given."""
    return IsoMedia(
        name=name, path=tmp_path / f"{name}.iso", profile=prof, sha256="0" * 64, size=0,
        menus={f: menu for f in Firmware}, install_set=install_set, **fields,
    )  # fmt: skip


def plan_for(
    tmp_path: Path,
    prof: Profile,
    factory: FakeFactory,
    *,
    scenario: Scenario | None = None,
    inputs: Mapping[str, Any] | None = None,
    limits: Mapping[str, float] = TIMEOUTS,
    timeout_scale: float = 1.0,
    wait_local_timeout: bool = False,
    **media: Any,
) -> Plan:
    scenario = scenario or load_scenario("install")
    items = dict(inputs) if inputs is not None else {"iso": iso_media(tmp_path, prof, **media)}
    types = scenario.name != "install"
    return Plan(
        scenario=scenario, inputs=Inputs(items),
        limits=merged_limits(scenario, overrides=limits, scale=timeout_scale),
        options=RunOptions(accel=Accel.TCG, wait_local_timeout=wait_local_timeout,
                           console_input=types),
        folder=RunFolder(tmp_path), machines=factory,
    )  # fmt: skip


def run_scripted_cell(
    tmp_path: Path, prof: Profile, script: Script, **kw: Any
) -> tuple[CellResult, FakeFactory]:
    """Run ``CELL`` of the install scenario against ``script`` with a fake clock; the
    plan's parts via ``kw`` (plan_for: profile, menu, install_set, timeout_scale, ...)."""
    clock = FakeClock()
    factory = FakeFactory(clock, {CELL.name: script}, start_failures=kw.pop("start_failures", 0))
    profile = kw.pop("profile", prof)
    plan = plan_for(tmp_path, profile, factory, **kw)
    return plan.run_cell(CELL, clock=clock, sleep=clock.sleep), factory


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
    """``buildiso boot-test --matrix`` against scripted guests (real time, real writers).

    ``screen``: the PNG every guest's screendump returns. Extra keywords go to
    BootTestRequest (``shard``, ``cell_names``, ...), but ``progress_stream`` to the
    command. Returns the BuildError of failed cells (results are written all the same), or
    None.
    """
    import time

    import pytest

    from buildiso.boottest import inputs
    from buildiso.boottest.accel import AccelChoice
    from buildiso.boottest.command import BootTestRequest, boot_test_command
    from buildiso.errors import BuildError

    iso = tmp_path / "EMAIL_490_190.iso"
    if not iso.exists():
        iso.write_bytes(b"\0")
    stream = kw.pop("progress_stream", None)
    if "cell_names" in kw:
        kw["cell_names"] = tuple(kw["cell_names"])
    request = BootTestRequest(iso=iso, matrix=True, jobs=2, accel=Accel.TCG,
                              artifacts=artifacts, **kw)  # fmt: skip
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(inputs, "read_menu", lambda iso, firmware: MENU)
        try:
            boot_test_command(
                request,
                out=io.StringIO(),
                progress_stream=stream,
                accel_chooser=lambda a: AccelChoice(Accel.TCG, "asked for tcg"),
                limits=dict.fromkeys(TIMEOUTS, 10.0),
                machines=FakeFactory(time.monotonic, scripts, screen=screen),
            )
        except BuildError as exc:
            return exc
    return None
