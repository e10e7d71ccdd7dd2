"""Choosing the accelerator: KVM is detected by trying it, not by trusting ``/dev/kvm``.

On nested hosts ``/dev/kvm`` opens but guests die with "KVM internal error", so a short
OVMF boot must print to serial first (``probe_kvm``); ``choose_accel`` falls back to TCG.
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from buildiso import run
from buildiso.boottest.qemu import OVMF_CODE, OVMF_VARS, QEMU
from buildiso.config import Accel
from buildiso.errors import BuildError
from buildiso.tmpdirs import private_dir


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
    with private_dir("kvm") as tmp:
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
        with run.spawn(cmd, stderr=stderr, grace=1.0) as child:
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                time.sleep(0.1)
                err_text = stderr.read_text(errors="replace")
                if "KVM internal error" in err_text:
                    return False, "guest died with 'KVM internal error' (nested/paravirtual KVM)"
                if serial.exists() and serial.stat().st_size > 0:
                    return True, "a KVM guest booted its firmware"
                if (rc := child.poll()) is not None:
                    tail = " | ".join(err_text.strip().splitlines()[-3:])
                    return False, f"QEMU with KVM exited with code {rc}: {tail}"
            return False, f"a KVM guest printed nothing within {timeout:.0f} s"


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
