"""buildiso.boottest.vm: a real QEMU's lifecycle, QMP, keys, screendumps, clean stops."""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import time
from pathlib import Path
from typing import Any

import pytest

from buildiso.boottest import qemu
from buildiso.boottest.qemu import VmSpec, create_disk
from buildiso.boottest.screendump import png_size
from buildiso.boottest.vm import _LIVE, QemuStartError, Vm
from buildiso.config import Accel, Firmware, Media


def _no_qemu_left(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie counts as gone only if it is not ours; ours are reaped by wait()
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


def _bios_dvd_spec(iso: Path, **extra: Any) -> VmSpec:
    """A diskless BIOS guest with ``iso`` as its DVD: enough to start, talk QMP and stop."""
    return VmSpec(
        firmware=Firmware.BIOS, media=Media.DVD, iso=iso, disk=None, accel=Accel.TCG, **extra
    )


@pytest.fixture
def blank_iso(tmp_path: Path) -> Path:
    # Not bootable: the firmware finds nothing; enough for lifecycle tests.
    iso = tmp_path / "blank.iso"
    iso.write_bytes(bytes(2048 * 32))
    return iso


@pytest.mark.integration
@pytest.mark.parametrize("firmware", list(Firmware))
def test_vm_starts_talks_qmp_and_stops_cleanly(
    tmp_path: Path, blank_iso: Path, firmware: Firmware
) -> None:
    disk = create_disk(tmp_path / "disk.qcow2", size_mb=1024)
    info = json.loads(
        subprocess.run(
            ["qemu-img", "info", "--output=json", str(disk)],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    )
    assert info["virtual-size"] >= 80 * 1024**3  # raised to the 80 GB minimum
    assert disk.stat().st_blocks * 512 < 10 * 1024**2  # sparse
    spec = VmSpec(
        firmware=firmware, media=Media.USB, iso=blank_iso, disk=disk, accel=Accel.TCG, memory_mb=256
    )
    art = tmp_path / "art"
    with Vm(spec, artifacts=art) as vm:
        assert vm.running
        assert vm.qmp("query-status")["status"] in ("running", "prelaunch")
        private = vm.files.private
        if firmware is Firmware.UEFI:
            vars_copy = vm.files.efi_vars
            assert vars_copy.read_bytes() == qemu.OVMF_VARS.read_bytes()
        vm.send_keys(["down", "ret"], gap=0)
        shot = vm.screendump(art / "screen.png")
        assert png_size(shot.path) == (shot.width, shot.height)
        assert shot.width >= 320 and shot.height >= 200
        pid = vm.proc.pid if vm.proc else -1
    assert _no_qemu_left(pid)
    assert not private.exists()
    assert (art / "qemu.cmdline").read_text().startswith("/")
    assert vm not in _LIVE


@pytest.mark.integration
def test_vm_stopped_on_error_and_keyboard_interrupt(tmp_path: Path, blank_iso: Path) -> None:
    spec = _bios_dvd_spec(blank_iso, memory_mb=128)
    for exc in (RuntimeError("test failed"), KeyboardInterrupt()):
        pids = []
        with pytest.raises(type(exc)):
            with Vm(spec, artifacts=tmp_path / "art") as vm:
                assert vm.proc is not None
                pids.append(vm.proc.pid)
                raise exc
        assert _no_qemu_left(pids[0])


@pytest.mark.integration
def test_vm_stop_kills_a_qemu_that_ignores_quit(tmp_path: Path, blank_iso: Path) -> None:
    spec = _bios_dvd_spec(blank_iso, memory_mb=128)
    vm = Vm(spec, artifacts=tmp_path / "art")
    vm.start()
    assert vm.proc is not None
    pid = vm.proc.pid
    os.kill(pid, 19)  # SIGSTOP: it can answer neither QMP nor SIGTERM
    started = time.monotonic()
    vm.stop(grace=1.0)
    assert _no_qemu_left(pid)
    assert time.monotonic() - started < 20


def test_qemu_that_dies_at_start_is_an_infrastructure_error(
    tmp_path: Path, blank_iso: Path
) -> None:
    fake = tmp_path / "bad-qemu"
    fake.write_text(
        textwrap.dedent("""\
        #!/bin/sh
        echo "qemu-system-x86_64: -device foo: 'foo' is not a valid device model name" >&2
        exit 1
        """)
    )
    fake.chmod(0o755)
    spec = _bios_dvd_spec(blank_iso)
    with pytest.raises(QemuStartError, match="not a valid device model"):
        with Vm(spec, artifacts=tmp_path / "art", qemu=str(fake)):
            pass
    assert not _LIVE


def test_qmp_that_never_answers_times_out(tmp_path: Path, blank_iso: Path) -> None:
    fake = tmp_path / "mute-qemu"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    spec = _bios_dvd_spec(blank_iso)
    vm = Vm(spec, artifacts=tmp_path / "art", qemu=str(fake), start_timeout=1.0)
    with pytest.raises(QemuStartError, match="QMP did not answer"):
        with vm:
            pass
    assert vm.proc is not None and vm.proc.poll() is not None
