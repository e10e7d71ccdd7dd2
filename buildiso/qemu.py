"""QEMU as a context manager: one guest, its serial ports, its QMP socket, and a clean stop.

``VmSpec`` (frozen) says what to boot: firmware (SeaBIOS or OVMF), how the ISO is attached
(CD-ROM on q35's AHCI, or the same bytes as a raw USB stick on xHCI), the target disk,
the accelerator and memory. ``build_command`` turns it into a command line (pure, tested);
``Vm`` starts it, connects QMP (qemu.qmp's ``QMPClient`` on a private event-loop thread,
so any thread may drive the guest), writes every QMP event to a log file, and on exit
stops QEMU with quit → terminate → kill, even on Ctrl-C or a failed test.

Serial ports: ttyS0 is the guest console, ttyS1 carries the installer's protocol lines
(docs/design.md). Both are QEMU ``file`` chardevs read incrementally by ``SerialLog``,
so the whole log is an artifact and the harness reads it as it grows.

KVM is detected by trying it (``detect_accel``): on nested hosts ``/dev/kvm`` opens but
guests die with "KVM internal error", so a short OVMF boot must print to serial first.
"""

from __future__ import annotations

import asyncio
import atexit
import json
import logging
import os
import shlex
import shutil
import struct
import subprocess
import tempfile
import threading
import time
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from types import TracebackType
from typing import Any

from buildiso.config import Accel, Firmware, Media
from buildiso.errors import BuildError, InputError
from buildiso.run import run, tool_path

log = logging.getLogger("buildiso.qemu")

QEMU = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# A test install needs / >= 20 GB and /var >= 60 GB; qcow2 is sparse, so size costs nothing.
MIN_DISK_MB = 80 * 1024

# Bus names of the chardevs: also the artifact file names.
CONSOLE_LOG = "console.log"  # ttyS0
PROTOCOL_LOG = "protocol.log"  # ttyS1
FIRMWARE_LOG = "firmware.log"  # isa-debugcon port 0x402 (SeaBIOS writes its log there)
EVENTS_LOG = "qmp-events.jsonl"
QEMU_STDERR = "qemu.stderr.log"


class QemuStartError(BuildError):
    """QEMU did not come up (bad option, missing file, QMP never answered): infrastructure."""


@dataclass(frozen=True)
class VmSpec:
    """Everything that decides a guest's command line. Paths are used as given."""

    firmware: Firmware
    media: Media
    iso: Path
    disk: Path | None
    accel: Accel  # KVM or TCG; resolve AUTO with detect_accel() first
    memory_mb: int = 2048
    cpus: int = 1
    reboot: bool = True  # False adds -no-reboot: a guest reboot ends QEMU
    # The installer looks for virtio, SATA and USB disks; virtio keeps the target apart
    # from the USB stick (both would be sdX on SATA/USB) so a wrong disk can't be wiped.
    disk_bus: str = "virtio"

    def __post_init__(self) -> None:
        if self.accel is Accel.AUTO:
            raise ValueError("VmSpec.accel must be kvm or tcg (resolve auto with detect_accel)")
        if self.disk_bus not in ("virtio", "sata"):
            raise ValueError(f"disk_bus must be virtio or sata, not {self.disk_bus!r}")


@dataclass(frozen=True)
class VmFiles:
    """Where one guest's files go: ``artifacts`` keeps logs, ``private`` the socket + vars."""

    artifacts: Path
    private: Path

    @property
    def qmp_socket(self) -> Path:
        return self.private / "qmp.sock"

    @property
    def efi_vars(self) -> Path:
        return self.private / "efivars.fd"

    @property
    def console(self) -> Path:
        return self.artifacts / CONSOLE_LOG

    @property
    def protocol(self) -> Path:
        return self.artifacts / PROTOCOL_LOG

    @property
    def firmware(self) -> Path:
        return self.artifacts / FIRMWARE_LOG

    @property
    def events(self) -> Path:
        return self.artifacts / EVENTS_LOG

    @property
    def stderr(self) -> Path:
        return self.artifacts / QEMU_STDERR


def _opts(kind: str | None = None, **opts: str | Path) -> str:
    """``kind,key=value,...`` with "," in values doubled (QEMU's escape); ``if_`` → ``if``."""
    parts = [kind] if kind else []
    parts += [f"{k.rstrip('_')}={str(v).replace(',', ',,')}" for k, v in opts.items()]
    return ",".join(parts)


def build_command(spec: VmSpec, files: VmFiles, *, qemu: str = QEMU) -> list[str]:
    """The QEMU command line for ``spec``. Pure: creates nothing."""
    cmd = [qemu, "-name", "buildiso", "-nodefaults", "-no-user-config"]
    if spec.accel is Accel.KVM:
        cmd += ["-machine", "q35,accel=kvm", "-cpu", "host"]
    else:
        # -cpu max: markedly faster TCG (ext4 ~5x) and crc32c_intel loads in the guest.
        cmd += ["-machine", "q35,accel=tcg", "-cpu", "max"]
    cmd += ["-m", str(spec.memory_mb), "-smp", str(spec.cpus)]
    cmd += ["-display", "none", "-device", "VGA"]
    # No network: OVMF would otherwise try PXE/HTTP boot before the disk.
    cmd += ["-nic", "none"]
    if not spec.reboot:
        cmd.append("-no-reboot")
    if spec.firmware is Firmware.UEFI:
        cmd += [
            "-drive",
            _opts(if_="pflash", format="raw", unit="0", readonly="on", file=OVMF_CODE),
            "-drive",
            _opts(if_="pflash", format="raw", unit="1", file=files.efi_vars),
        ]
    # The ISO is attached unmodified and read-only: a CD-ROM, or the same bytes as a stick.
    if spec.media is Media.DVD:
        cmd += [
            "-drive",
            _opts(
                if_="none", id="media", media="cdrom", format="raw", readonly="on", file=spec.iso
            ),
            "-device",
            "ide-cd,drive=media,bus=ide.0,bootindex=0",
        ]
    else:
        cmd += [
            "-drive",
            _opts(if_="none", id="stick", format="raw", readonly="on", file=spec.iso),
            "-device",
            "qemu-xhci,id=xhci",
            "-device",
            "usb-storage,bus=xhci.0,drive=stick,removable=on,bootindex=0",
        ]
    if spec.disk is not None:
        # cache=unsafe: a throwaway test disk; fsync to the host buys nothing here.
        cmd += [
            "-drive",
            _opts(if_="none", id="target", format="qcow2", cache="unsafe", file=spec.disk),
        ]
        if spec.disk_bus == "virtio":
            cmd += ["-device", "virtio-blk-pci,drive=target,bootindex=1"]
        else:
            cmd += ["-device", "ide-hd,drive=target,bus=ide.1,bootindex=1"]
    cmd += [
        "-chardev",
        _opts("file", id="ttyS0", path=files.console),
        "-serial",
        "chardev:ttyS0",
        "-chardev",
        _opts("file", id="ttyS1", path=files.protocol),
        "-serial",
        "chardev:ttyS1",
        "-chardev",
        _opts("file", id="debugcon", path=files.firmware),
        "-device",
        "isa-debugcon,iobase=0x402,chardev=debugcon",
        "-qmp",
        f"unix:{files.qmp_socket},server=on,wait=off",
    ]
    return cmd


def create_disk(path: Path, *, size_mb: int) -> Path:
    """A fresh sparse qcow2 disk of ``size_mb`` (at least 80 GB); replaces an old one."""
    size_mb = max(size_mb, MIN_DISK_MB)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", path, f"{size_mb}M"])
    return path


# ---------------------------------------------------------------------------------------
# Serial logs


class SerialLog:
    """A growing serial log file, read incrementally; ``text`` holds everything read so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._offset = 0
        self._chunks: list[str] = []
        self._partial = b""

    def poll(self) -> str:
        """Read what was appended since the last call; return it (decoded, may be '')."""
        try:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
        except FileNotFoundError:
            return ""
        if not data:
            return ""
        self._offset += len(data)
        data = self._partial + data
        # Keep an incomplete UTF-8 sequence for the next read.
        cut = len(data)
        for back in range(1, min(4, len(data)) + 1):
            byte = data[-back]
            if byte & 0xC0 == 0x80:
                continue
            if byte >= 0xC0:
                needed = 2 if byte < 0xE0 else 3 if byte < 0xF0 else 4
                if needed > back:
                    cut = len(data) - back
            break
        self._partial = data[cut:]
        text = data[:cut].decode("utf-8", "replace")
        self._chunks.append(text)
        return text

    @property
    def text(self) -> str:
        if len(self._chunks) > 1:
            self._chunks = ["".join(self._chunks)]
        return self._chunks[0] if self._chunks else ""


# ---------------------------------------------------------------------------------------
# Screenshots: QMP writes PPM (every QEMU has it); we encode PNG ourselves, no dependency.


@dataclass(frozen=True)
class Screenshot:
    path: Path
    width: int
    height: int
    colours: int  # distinct colours in a sample of pixels: 1 means a blank screen


def read_ppm(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary PPM (P6, maxval 255)."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise BuildError(f"unexpected screendump format {fields[0]!r} maxval {fields[3]!r}")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height * 3]
    if len(pixels) != width * height * 3:
        raise BuildError("truncated PPM screendump")
    return width, height, pixels


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """A PNG (8-bit RGB, no filter) of ``rgb``; deterministic for the same pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; BuildError if it is not a PNG."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise BuildError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def _colour_count(rgb: bytes) -> int:
    step = max(3, (len(rgb) // 3 // 4096) * 3)  # ~4096 sampled pixels
    return len({rgb[i : i + 3] for i in range(0, len(rgb) - 2, step)})


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
        with self._events_path.open("a", encoding="utf-8") as fh:
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
    proc: subprocess.Popen[bytes] | None = field(default=None, init=False)
    files: VmFiles = field(init=False)
    console: SerialLog = field(init=False)
    protocol: SerialLog = field(init=False)
    started_at: float = field(default=0.0, init=False)
    _qmp: _QmpThread | None = field(default=None, init=False)
    _private: Path | None = field(default=None, init=False)
    _stop_lock: threading.Lock = field(default_factory=threading.Lock, init=False)

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
        self._private = Path(tempfile.mkdtemp(prefix="buildiso-vm-"))
        self.files = VmFiles(artifacts=self.artifacts, private=self._private)
        for path in (
            self.files.console,
            self.files.protocol,
            self.files.firmware,
            self.files.events,
        ):
            path.write_bytes(b"")
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
        (self.artifacts / "qemu.cmdline").write_text(shlex.join(cmd) + "\n", encoding="utf-8")
        log.debug("starting: %s", shlex.join(cmd))
        with self.files.stderr.open("wb") as err:
            self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
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
                    hint=f"command line in {self.artifacts / 'qemu.cmdline'}",
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
            if proc is not None:
                # A QEMU that took "quit" exits at once; one that did not gets SIGTERM now.
                waits = (grace if quit_sent else 0.2, grace)
                for wait_s, action in zip(waits, (proc.terminate, proc.kill), strict=True):
                    try:
                        proc.wait(wait_s)
                        break
                    except subprocess.TimeoutExpired:
                        action()
                else:
                    proc.wait()
            if self._qmp is not None:
                self._qmp.close()
                self._qmp = None
            if self._private is not None:
                shutil.rmtree(self._private, ignore_errors=True)
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
            text = self.files.stderr.read_text(encoding="utf-8", errors="replace")
        except (OSError, AttributeError):
            return ""
        kept = [ln for ln in text.splitlines() if ln.strip()]
        return " | ".join(kept[-lines:])

    def event_names(self) -> list[str]:
        return self._qmp.event_names() if self._qmp is not None else []

    def qmp(self, command: str, timeout: float = 10.0, **arguments: object) -> Any:
        if self._qmp is None:
            raise BuildError("QMP is not connected")
        return self._qmp.call(self._qmp.client.execute(command, arguments or None), timeout)

    # -- driving the guest ---------------------------------------------------------------

    def send_keys(self, keys: Sequence[str], *, gap: float = 0.3) -> None:
        """Press each key in turn (QEMU qcodes: 'down', 'up', 'ret', 'esc', 'ctrl-alt-delete')."""
        for key in keys:
            codes = [{"type": "qcode", "data": part} for part in key.split("-")]
            self.qmp("send-key", keys=codes)
            time.sleep(gap)

    def screendump(self, path: Path) -> Screenshot:
        """Save the screen as PNG at ``path``; returns its size and colour count."""
        assert self._private is not None
        ppm = self._private / "screen.ppm"
        self.qmp("screendump", filename=str(ppm))
        width, height, rgb = read_ppm(ppm.read_bytes())
        ppm.unlink()
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_bytes(encode_png(width, height, rgb))
        tmp.replace(path)
        return Screenshot(path=path, width=width, height=height, colours=_colour_count(rgb))


# ---------------------------------------------------------------------------------------
# KVM: try it, don't trust /dev/kvm


@dataclass(frozen=True)
class AccelChoice:
    accel: Accel
    reason: str


def probe_kvm(
    *, qemu: str = QEMU, timeout: float = 10.0, kvm_device: Path = Path("/dev/kvm")
) -> tuple[bool, str]:
    """Boot OVMF (or SeaBIOS) under KVM briefly; KVM works if the firmware prints to serial.

    OVMF is the probe because it uses the FPU/SSE at once: on the broken nested KVM here
    SeaBIOS's banner still appears but OVMF dies with "KVM internal error".
    """
    if not os.access(kvm_device, os.R_OK | os.W_OK):
        return False, f"{kvm_device} is not available"
    with tempfile.TemporaryDirectory(prefix="buildiso-kvm-") as tmp:
        serial = Path(tmp) / "serial.log"
        stderr = Path(tmp) / "stderr.log"
        cmd = [
            qemu,
            "-nodefaults",
            "-no-user-config",
            "-machine",
            "q35,accel=kvm",
            "-cpu",
            "host",
            "-m",
            "256",
            "-display",
            "none",
            "-nic",
            "none",
            "-no-reboot",
            "-chardev",
            f"file,id=s0,path={serial}",
            "-serial",
            "chardev:s0",
        ]
        if OVMF_CODE.exists():
            vars_copy = Path(tmp) / "vars.fd"
            shutil.copyfile(OVMF_VARS, vars_copy)
            cmd += [
                "-drive",
                f"if=pflash,format=raw,unit=0,readonly=on,file={OVMF_CODE}",
                "-drive",
                f"if=pflash,format=raw,unit=1,file={vars_copy}",
            ]
        else:
            cmd += [
                "-chardev",
                f"file,id=dbg,path={serial}",
                "-device",
                "isa-debugcon,iobase=0x402,chardev=dbg",
            ]
        with stderr.open("wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=err, stderr=err)
        try:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                time.sleep(0.1)
                err_text = stderr.read_text(errors="replace")
                if "KVM internal error" in err_text:
                    return False, "guest died with 'KVM internal error' (nested/paravirtual KVM)"
                if serial.exists() and serial.stat().st_size > 0:
                    return True, "a KVM guest booted its firmware"
                if proc.poll() is not None:
                    tail = " | ".join(err_text.strip().splitlines()[-3:])
                    return False, f"QEMU with KVM exited with code {proc.returncode}: {tail}"
            return False, f"a KVM guest printed nothing within {timeout:.0f} s"
        finally:
            proc.kill()
            proc.wait()


@lru_cache(maxsize=4)
def _probe_cached(qemu: str) -> tuple[bool, str]:
    return probe_kvm(qemu=qemu)


def choose_accel(
    requested: Accel, *, probe: Callable[[], tuple[bool, str]] | None = None
) -> AccelChoice:
    """Resolve ``auto`` (KVM if it really works, else TCG); ``kvm`` fails loudly if broken."""
    if requested is Accel.TCG:
        return AccelChoice(Accel.TCG, "TCG requested")
    works, why = (probe or (lambda: _probe_cached(QEMU)))()
    if works:
        return AccelChoice(Accel.KVM, f"KVM works: {why}")
    if requested is Accel.KVM:
        raise BuildError(
            f"KVM was requested but does not work here: {why}", hint="use --accel tcg or auto"
        )
    return AccelChoice(Accel.TCG, f"KVM unusable ({why}); using TCG")
