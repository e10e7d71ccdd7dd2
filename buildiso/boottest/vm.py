"""QEMU as a context manager: one running guest, its serial ports, its QMP socket, a clean stop.

``Vm`` starts the command line from ``buildiso.boottest.qemu.build_command``, connects QMP
(qemu.qmp's ``QMPClient`` on a private event-loop thread, so any thread may drive the guest),
writes every QMP event to a log file, and on exit stops QEMU with quit → terminate → kill,
even on Ctrl-C or a failed test.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import json
import logging
import os
import shlex
import shutil
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any

from buildiso import run
from buildiso.atomicfile import write_text_atomic
from buildiso.boottest.qemu import (
    OVMF_CODE,
    OVMF_VARS,
    QEMU,
    VmFiles,
    VmSpec,
    build_command,
    create_disk,
)
from buildiso.boottest.screendump import Screenshot, ppm_to_png
from buildiso.boottest.seriallog import SerialLog, fresh_file, read_tail
from buildiso.config import Firmware
from buildiso.errors import BuildError, InputError
from buildiso.run import tool_path
from buildiso.tmpdirs import private_dir

log = logging.getLogger(__name__)


class QemuStartError(BuildError):
    """QEMU did not come up (bad option, missing file, QMP never answered): infrastructure."""


# ---------------------------------------------------------------------------------------
# QMP on a private event-loop thread


class _QmpThread:
    """A QMPClient living on its own asyncio loop thread; sync calls from any thread."""

    def __init__(self, events_path: Path) -> None:
        from qemu.qmp import QMPClient

        self._events_path = events_path
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="qmp", daemon=True)
        self._thread.start()
        self.client = QMPClient("buildiso")
        self.events: list[dict[str, Any]] = []
        self._events_lock = threading.Lock()
        self._listener: asyncio.Future[None] | None = None

    def call(self, coro: Any, timeout: float) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout)

    async def _connect(self, socket_path: Path) -> None:
        await self.client.connect(str(socket_path))
        self._listener = asyncio.ensure_future(self._record_events())

    async def _record_events(self) -> None:
        fd = os.open(self._events_path, os.O_WRONLY | os.O_APPEND | os.O_NOFOLLOW | os.O_CLOEXEC)
        with open(fd, "a", encoding="utf-8") as fh:
            async for event in self.client.events:
                entry = {"host_time": round(time.time(), 3), **dict(event)}
                fh.write(json.dumps(entry, sort_keys=True) + "\n")
                fh.flush()
                with self._events_lock:
                    self.events.append(entry)

    def connect(self, socket_path: Path, timeout: float) -> None:
        self.call(self._connect(socket_path), timeout)

    def event_names(self) -> list[str]:
        with self._events_lock:
            return [str(e.get("event")) for e in self.events]

    async def _close(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
        await self.client.disconnect()

    def close(self) -> None:
        try:
            self.call(self._close(), 5)
        except Exception as exc:  # noqa: BLE001 - closing must never mask the real error
            log.debug("QMP close: %s", exc)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)
        if not self._thread.is_alive():
            self._loop.close()


# Every running guest, so Ctrl-C in the main thread or interpreter exit can stop them all.
_LIVE: set[Vm] = set()
_LIVE_LOCK = threading.Lock()


def stop_all() -> None:
    """Stop every guest this process started (atexit and Ctrl-C handlers call this)."""
    with _LIVE_LOCK:
        vms = list(_LIVE)
    for vm in vms:
        vm.stop()


atexit.register(stop_all)


@dataclass
class Vm:
    """A running guest. Use as a context manager::

    with Vm(spec, artifacts=dir) as vm:
        vm.send_keys(["down", "ret"])
    """

    spec: VmSpec
    artifacts: Path
    qemu: str = QEMU
    start_timeout: float = 30.0
    proc: run.Process | None = field(default=None, init=False)
    files: VmFiles = field(init=False)
    console: SerialLog = field(init=False)
    protocol: SerialLog = field(init=False)
    started_at: float = field(default=0.0, init=False)
    _qmp: _QmpThread | None = field(default=None, init=False)
    _private: Path | None = field(default=None, init=False)
    _private_stack: ExitStack | None = field(default=None, init=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, init=False)
    _child: ExitStack | None = field(default=None, init=False)

    def __hash__(self) -> int:
        return id(self)

    def __eq__(self, other: object) -> bool:
        return self is other

    # -- lifecycle -----------------------------------------------------------------------

    def __enter__(self) -> Vm:
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def start(self) -> None:
        self.artifacts.mkdir(parents=True, exist_ok=True)
        # The QMP socket path must stay under 108 bytes: a private dir in /tmp, not artifacts.
        self._private_stack = ExitStack()
        self._private = self._private_stack.enter_context(private_dir("vm"))
        self.files = VmFiles(artifacts=self.artifacts, private=self._private)
        # QEMU opens its log files by name (and follows links): each is made afresh here,
        # whatever was at its name removed first, never written through a planted link.
        for path in (
            self.files.console,
            self.files.protocol,
            self.files.firmware,
            self.files.events,
            self.files.stderr,
            self.files.cmdline,
        ):
            fresh_file(path)
        self.console = SerialLog(self.files.console)
        self.protocol = SerialLog(self.files.protocol)
        if self.spec.firmware is Firmware.UEFI:
            if not OVMF_CODE.exists() or not OVMF_VARS.exists():
                raise BuildError(f"{OVMF_CODE} not found", hint="install the Debian package ovmf")
            # A private copy: the installer registers boot entries in it.
            shutil.copyfile(OVMF_VARS, self.files.efi_vars)
        if not self.spec.iso.is_file():
            raise InputError(
                f"{self.spec.iso}: ISO not found", hint="build it first: buildiso build"
            )
        qemu = self.qemu if os.sep in self.qemu else tool_path(self.qemu)
        cmd = build_command(self.spec, self.files, qemu=qemu)
        write_text_atomic(self.files.cmdline, shlex.join(cmd) + "\n")
        self._child = ExitStack()
        self.proc = self._child.enter_context(run.spawn(cmd, stderr=self.files.stderr)).proc
        self.started_at = time.monotonic()
        with _LIVE_LOCK:
            _LIVE.add(self)
        self._qmp = _QmpThread(self.files.events)
        self._wait_for_qmp()

    def _wait_for_qmp(self) -> None:
        assert self.proc is not None and self._qmp is not None
        deadline = time.monotonic() + self.start_timeout
        last_error: Exception | None = None
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise QemuStartError(
                    f"QEMU exited with code {self.proc.returncode} at start: {self.stderr_tail()}",
                    hint=f"command line in {self.files.cmdline}",
                )
            if self.files.qmp_socket.exists():
                try:
                    self._qmp.connect(
                        self.files.qmp_socket, timeout=max(0.5, deadline - time.monotonic())
                    )
                    return
                except Exception as exc:  # noqa: BLE001 - retried until the deadline
                    last_error = exc
            time.sleep(0.05)
        raise QemuStartError(
            f"QMP did not answer within {self.start_timeout:.0f} s ({last_error}): "
            f"{self.stderr_tail()}"
        )

    def stop(self, *, grace: float = 5.0) -> None:
        """quit via QMP → terminate → kill; idempotent, never raises for a dead guest."""
        with self._stop_lock:
            proc = self.proc
            quit_sent = False
            if proc is not None and proc.poll() is None and self._qmp is not None:
                try:
                    self._qmp.call(self._qmp.client.execute("quit"), 2)
                    quit_sent = True
                except Exception as exc:  # noqa: BLE001 - fall through to terminate
                    log.debug("QMP quit: %s", exc)
            if proc is not None and quit_sent:
                # A QEMU that took "quit" exits at once; one that did not gets SIGTERM now.
                try:
                    proc.wait(grace)
                except subprocess.TimeoutExpired:
                    pass
            if self._child is not None:
                self._child.close()  # run.spawn's stop: TERM, then KILL after its grace
                self._child = None
            if self._qmp is not None:
                self._qmp.close()
                self._qmp = None
            if self._private_stack is not None:
                self._private_stack.close()  # removes the folder, drops its lock
                self._private_stack = None
                self._private = None
            with _LIVE_LOCK:
                _LIVE.discard(self)

    # -- state ---------------------------------------------------------------------------

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def elapsed(self) -> float:
        return time.monotonic() - self.started_at

    def stderr_tail(self, lines: int = 5) -> str:
        try:
            text = read_tail(self.files.stderr, max_bytes=64 * 1024)
        except (OSError, AttributeError):
            return ""
        kept = [ln for ln in text.splitlines() if ln.strip()]
        return " | ".join(kept[-lines:])

    def event_names(self) -> list[str]:
        return self._qmp.event_names() if self._qmp is not None else []

    @property
    def console_socket(self) -> Path:
        return self.files.console_socket

    def qmp(self, command: str, timeout: float = 10.0, **arguments: object) -> Any:
        if self._qmp is None:
            raise BuildError("QMP is not connected")
        return self._qmp.call(self._qmp.client.execute(command, arguments or None), timeout)

    # -- driving the guest ---------------------------------------------------------------

    def change_media(self, iso: Path) -> None:
        """Put another disc into the DVD drive (the running guest sees a media change)."""
        self.qmp("blockdev-change-medium", device="media", filename=str(iso), format="raw")

    def reboot_powers_off(self) -> None:
        """The guest's next reboot ends QEMU (QMP set-action), as -no-reboot would."""
        self.qmp("set-action", reboot="shutdown")

    def send_keys(self, keys: Sequence[str], *, gap: float = 0.3) -> None:
        """Press each key in turn (QEMU qcodes: 'down', 'up', 'ret', 'esc', 'ctrl-alt-delete')."""
        for key in keys:
            codes = [{"type": "qcode", "data": part} for part in key.split("-")]
            self.qmp("send-key", keys=codes)
            time.sleep(gap)

    def screendump(self, path: Path) -> Screenshot:
        """Save the screen as PNG at ``path``; its size and colour count."""
        assert self._private is not None
        # One file per thread: the filmstrip and a failure screenshot may overlap.
        ppm = self._private / f"screen-{threading.get_ident()}.ppm"
        self.qmp("screendump", filename=str(ppm))
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return ppm_to_png(ppm, path)
        finally:
            ppm.unlink(missing_ok=True)


@contextlib.contextmanager
def qemu_machine(
    spec: VmSpec, folder: Path, *, new_disks: Sequence[Path], disk_mb: int
) -> Iterator[Vm]:
    """The real machine (session.MachineFactory): fresh sparse disks, then QEMU."""
    for disk in new_disks:
        try:
            create_disk(disk, size_mb=disk_mb)
        except Exception as exc:
            raise QemuStartError(f"could not create the target disk {disk}: {exc}") from exc
    with Vm(spec, artifacts=folder) as vm:
        yield vm
