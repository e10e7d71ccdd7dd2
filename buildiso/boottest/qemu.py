"""The QEMU command line for one guest: what to boot (``VmSpec``), where its files go (``VmFiles``).

``VmSpec`` (frozen) says what to boot: firmware (SeaBIOS or OVMF), how the ISO is attached
(CD-ROM on q35's AHCI, or the same bytes as a raw USB stick on xHCI), the target disk,
the accelerator and memory. ``build_command`` turns it into a command line (pure, tested).
The running guest is ``buildiso.boottest.vm.Vm``; the KVM probe is ``buildiso.boottest.accel``.

Serial ports: ttyS0 is the guest console, ttyS1 carries the installer's protocol lines
(docs/design.md). Both are QEMU ``file`` chardevs read incrementally by
``buildiso.boottest.seriallog.SerialLog``, so the whole log is an artifact and the harness reads it
as it grows.
"""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest import reporelay
from buildiso.config import Accel, Firmware, Media
from buildiso.run import run

QEMU = "qemu-system-x86_64"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
# A test install needs / >= 20 GB and /var >= 60 GB; qcow2 is sparse, so size costs nothing.
MIN_DISK_MB = 80 * 1024

# Where a guest reaches the scenario's repository server (VmSpec.forward_port): an address
# of QEMU's user network (10.0.2.0/24) that no other service of it uses.
REPO_SERVER_ADDR = "10.0.2.100"
REPO_SERVER_PORT = 80
RELAY = Path(reporelay.__file__)

# Bus names of the chardevs: also the artifact file names.
CONSOLE_LOG = "console.log"  # ttyS0
PROTOCOL_LOG = "protocol.log"  # ttyS1
FIRMWARE_LOG = "firmware.log"  # isa-debugcon port 0x402 (SeaBIOS writes its log there)
EVENTS_LOG = "qmp-events.jsonl"
QEMU_STDERR = "qemu.stderr.log"
QEMU_CMDLINE = "qemu.cmdline"


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
    # More target disks (a raid1 layout's second disk), on the same bus, not bootable by
    # the firmware's order: the boot loader on each of them must find its own way.
    extra_disks: tuple[Path, ...] = ()
    # Steps other than boot-media (boottest/serversteps.py): the media attached
    # without a boot index (the installed disk boots), further CD-ROMs, a kernel booted
    # directly (as PXE would), and ttyS0 writable through a socket (a shell on it).
    boot_media: bool = True
    extra_cdroms: tuple[Path, ...] = ()
    kernel: Path | None = None
    initrd: Path | None = None
    append: str = ""
    console_input: bool = False
    # The one place the NIC reaches (0: nowhere): a guest connection to
    # REPO_SERVER_ADDR:REPO_SERVER_PORT goes to this port of the host's 127.0.0.1.
    forward_port: int = 0

    def __post_init__(self) -> None:
        if self.accel is Accel.AUTO:
            raise ValueError("VmSpec.accel must be kvm or tcg (resolve auto with detect_accel)")
        if self.disk_bus not in ("virtio", "sata"):
            raise ValueError(f"disk_bus must be virtio or sata, not {self.disk_bus!r}")
        if not 0 <= self.forward_port < 65536:
            raise ValueError(f"forward_port must be a TCP port, not {self.forward_port}")


@dataclass(frozen=True)
class VmFiles:
    """Where one guest's files go: ``artifacts`` keeps logs, ``private`` the socket + vars."""

    artifacts: Path
    private: Path

    @property
    def qmp_socket(self) -> Path:
        return self.private / "qmp.sock"

    @property
    def console_socket(self) -> Path:
        return self.private / "console.sock"

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

    @property
    def cmdline(self) -> Path:
        return self.artifacts / QEMU_CMDLINE


def _opts(kind: str | None = None, **opts: str | Path) -> str:
    """``kind,key=value,...`` with "," in values doubled (QEMU's escape); ``if_`` → ``if``."""
    parts = [kind] if kind else []
    parts += [f"{k.rstrip('_')}={str(v).replace(',', ',,')}" for k, v in opts.items()]
    return ",".join(parts)


def netdev(spec: VmSpec) -> str:
    """The user network: restricted (the guest reaches neither the host nor the outside),
    with at most the one forward to the repository server. QEMU starts the relay for each
    guest connection (``guestfwd=...-cmd:``); a ``tcp:`` target would carry one
    connection only (boottest/reporelay.py)."""
    options = "user,id=net0,restrict=on"
    if spec.forward_port:
        relay = shlex.join([sys.executable, "-I", "-S", str(RELAY), str(spec.forward_port)])
        target = f"tcp:{REPO_SERVER_ADDR}:{REPO_SERVER_PORT}-cmd:{relay}"
        options += ",guestfwd=" + target.replace(",", ",,")
    return options


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
    # A network device that reaches nothing (restrict=on) but, with forward_port, the
    # scenario's repository server; the installer expects one (a kickstart "network" line
    # without --device fails on a machine without any). No PXE ROM (romfile=) and no boot
    # index: the firmware never tries to boot from it.
    cmd += ["-netdev", netdev(spec), "-device", "e1000,netdev=net0,romfile="]
    if not spec.reboot:
        cmd.append("-no-reboot")
    if spec.firmware is Firmware.UEFI:
        cmd += [
            "-drive",
            _opts(if_="pflash", format="raw", unit="0", readonly="on", file=OVMF_CODE),
            "-drive",
            _opts(if_="pflash", format="raw", unit="1", file=files.efi_vars),
        ]
    if spec.kernel is not None:
        cmd += ["-kernel", str(spec.kernel), "-append", spec.append]
        if spec.initrd is not None:
            cmd += ["-initrd", str(spec.initrd)]
    # The ISO is attached unmodified and read-only: a CD-ROM, or the same bytes as a stick
    # (usb-files: ``iso`` is the FAT stick image boottest/usbfiles.py made from the ISO).
    boot = ",bootindex=0" if spec.boot_media else ""
    if spec.media is Media.DVD:
        cmd += [
            "-drive",
            _opts(
                if_="none", id="media", media="cdrom", format="raw", readonly="on", file=spec.iso
            ),
            "-device",
            f"ide-cd,drive=media,bus=ide.0{boot}",
        ]
    else:
        cmd += [
            "-drive",
            _opts(if_="none", id="stick", format="raw", readonly="on", file=spec.iso),
            "-device",
            "qemu-xhci,id=xhci",
            "-device",
            f"usb-storage,bus=xhci.0,drive=stick,removable=on{boot}",
        ]
    for index, extra in enumerate(spec.extra_cdroms, start=1):
        cmd += [
            "-drive",
            _opts(
                if_="none", id=f"cd{index}", media="cdrom", format="raw", readonly="on", file=extra
            ),
            "-device",
            f"ide-cd,drive=cd{index},bus=ide.{index + 1}",
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
    for index, extra in enumerate(spec.extra_disks, start=2):
        drive = f"target{index}"
        cmd += ["-drive", _opts(if_="none", id=drive, format="qcow2", cache="unsafe", file=extra)]
        if spec.disk_bus == "virtio":
            cmd += ["-device", f"virtio-blk-pci,drive={drive}"]
        else:
            cmd += ["-device", f"ide-hd,drive={drive},bus=ide.{index}"]
    if spec.console_input:
        # The console log is QEMU's own copy of the output (logfile); input goes in through
        # the socket (boottest/console.py).
        console = _opts(
            "socket",
            id="ttyS0",
            path=files.console_socket,
            server="on",
            wait="off",
            logfile=files.console,
            logappend="on",
        )
    else:
        console = _opts("file", id="ttyS0", path=files.console)
    cmd += [
        "-chardev",
        console,
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
