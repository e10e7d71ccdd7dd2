"""buildiso.qemu: command lines per cell, serial reading, PNG, lifecycle, KVM fallback."""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import textwrap
import time
import zlib
from pathlib import Path

import pytest

from buildiso import qemu
from buildiso.config import Accel, Firmware, Media
from buildiso.errors import BuildError
from buildiso.qemu import (
    QemuStartError,
    SerialLog,
    Vm,
    VmFiles,
    VmSpec,
    build_command,
    choose_accel,
    encode_png,
    png_size,
    read_ppm,
)


def _spec(firmware: Firmware, media: Media, tmp: Path, **kw: object) -> VmSpec:
    return VmSpec(
        firmware=firmware,
        media=media,
        iso=tmp / "x.iso",
        disk=tmp / "d.qcow2",
        accel=kw.pop("accel", Accel.TCG),
        **kw,
    )  # type: ignore[arg-type]


def _files(tmp: Path) -> VmFiles:
    return VmFiles(artifacts=tmp / "art", private=tmp / "priv")


def _option_values(cmd: list[str], option: str) -> list[str]:
    return [cmd[i + 1] for i, word in enumerate(cmd) if word == option]


@pytest.mark.parametrize("firmware", list(Firmware))
@pytest.mark.parametrize("media", list(Media))
def test_command_per_cell(tmp_path: Path, firmware: Firmware, media: Media) -> None:
    cmd = build_command(_spec(firmware, media, tmp_path), _files(tmp_path))
    drives = _option_values(cmd, "-drive")
    devices = _option_values(cmd, "-device")
    iso_drives = [d for d in drives if f"file={tmp_path / 'x.iso'}" in d]
    assert len(iso_drives) == 1 and "readonly=on" in iso_drives[0]
    if media is Media.DVD:
        assert "media=cdrom" in iso_drives[0]
        assert "ide-cd,drive=media,bus=ide.0,bootindex=0" in devices
        assert not any("usb-storage" in d for d in devices)
    else:
        assert "format=raw" in iso_drives[0] and "media=cdrom" not in iso_drives[0]
        assert "qemu-xhci,id=xhci" in devices
        assert any(
            d.startswith("usb-storage,") and "drive=stick" in d and "bootindex=0" in d
            for d in devices
        )
    pflash = [d for d in drives if "if=pflash" in d]
    if firmware is Firmware.UEFI:
        assert len(pflash) == 2
        assert f"file={qemu.OVMF_CODE}" in pflash[0] and "readonly=on" in pflash[0]
        # the writable variable store is the private copy, never the system template
        assert f"file={tmp_path / 'priv' / 'efivars.fd'}" in pflash[1]
        assert "readonly" not in pflash[1]
    else:
        assert pflash == []
    assert any("format=qcow2" in d and "d.qcow2" in d for d in drives)
    assert "virtio-blk-pci,drive=target,bootindex=1" in devices
    assert _option_values(cmd, "-nic") == ["none"]
    assert _option_values(cmd, "-cpu") == ["max"]
    assert "q35,accel=tcg" in _option_values(cmd, "-machine")
    assert _option_values(cmd, "-serial") == ["chardev:ttyS0", "chardev:ttyS1"]
    chardevs = _option_values(cmd, "-chardev")
    assert f"file,id=ttyS0,path={tmp_path / 'art' / 'console.log'}" in chardevs
    assert f"file,id=ttyS1,path={tmp_path / 'art' / 'protocol.log'}" in chardevs
    assert _option_values(cmd, "-qmp") == [
        f"unix:{tmp_path / 'priv' / 'qmp.sock'},server=on,wait=off"
    ]
    assert "-no-reboot" not in cmd


def test_command_kvm_no_reboot_sata_and_escaping(tmp_path: Path) -> None:
    odd = tmp_path / "a,b"
    spec = VmSpec(
        firmware=Firmware.BIOS,
        media=Media.DVD,
        iso=odd / "x.iso",
        disk=None,
        accel=Accel.KVM,
        reboot=False,
        memory_mb=1024,
        disk_bus="sata",
    )
    cmd = build_command(spec, _files(tmp_path))
    assert "-no-reboot" in cmd
    assert _option_values(cmd, "-cpu") == ["host"]
    assert "q35,accel=kvm" in _option_values(cmd, "-machine")
    assert _option_values(cmd, "-m") == ["1024"]
    # QEMU's option syntax: a comma inside a value is doubled
    assert any(f"file={tmp_path}/a,,b/x.iso" in d for d in _option_values(cmd, "-drive"))
    assert not any("target" in d for d in _option_values(cmd, "-drive"))


def test_spec_rejects_unresolved_accel_and_bad_bus(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="detect_accel"):
        _spec(Firmware.BIOS, Media.DVD, tmp_path, accel=Accel.AUTO)
    with pytest.raises(ValueError, match="disk_bus"):
        _spec(Firmware.BIOS, Media.DVD, tmp_path, disk_bus="scsi")


def test_serial_log_reads_increments_and_split_utf8(tmp_path: Path) -> None:
    path = tmp_path / "s.log"
    log = SerialLog(path)
    assert log.poll() == ""  # not created yet
    path.write_bytes(b"hello\n")
    assert log.poll() == "hello\n"
    assert log.poll() == ""
    euro = "€".encode()
    with path.open("ab") as fh:
        fh.write(b"price " + euro[:1])
    assert log.poll() == "price "
    with path.open("ab") as fh:
        fh.write(euro[1:] + b"\n")
    assert log.poll() == "€\n"
    assert log.text == "hello\nprice €\n"


def test_png_encoder_round_trip(tmp_path: Path) -> None:
    width, height = 3, 2
    rgb = bytes(range(18))
    png = encode_png(width, height, rgb)
    path = tmp_path / "p.png"
    path.write_bytes(png)
    assert png_size(path) == (3, 2)
    # decode: IHDR then one IDAT of filter-0 rows
    idat_len = struct.unpack(">I", png[33:37])[0]
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + idat_len])
    assert raw == b"\x00" + rgb[:9] + b"\x00" + rgb[9:]
    assert png.endswith(b"IEND\xaeB`\x82")


def test_read_ppm_with_comment() -> None:
    data = b"P6\n# made by qemu\n2 1\n255\n" + bytes([1, 2, 3, 4, 5, 6])
    assert read_ppm(data) == (2, 1, bytes([1, 2, 3, 4, 5, 6]))
    with pytest.raises(BuildError, match="truncated"):
        read_ppm(b"P6 2 2 255\n" + bytes(3))


def test_png_size_rejects_non_png(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"P6 1 1 255\n" + bytes(30))
    with pytest.raises(BuildError, match="not a PNG"):
        png_size(path)


# --- KVM choice ---------------------------------------------------------------------------


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
    ok, why = qemu.probe_kvm(qemu=str(fake), timeout=3.0, kvm_device=device)
    assert ok is works
    assert reason in why


def test_probe_kvm_without_device(tmp_path: Path) -> None:
    ok, why = qemu.probe_kvm(qemu="/nonexistent", kvm_device=tmp_path / "missing")
    assert not ok and "not available" in why


# --- a real QEMU: lifecycle -----------------------------------------------------------------


def _no_qemu_left(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    # a zombie counts as gone only if it is not ours; ours are reaped by wait()
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


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
    disk = qemu.create_disk(tmp_path / "disk.qcow2", size_mb=1024)
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
    assert vm not in qemu._LIVE


@pytest.mark.integration
def test_vm_stopped_on_error_and_keyboard_interrupt(tmp_path: Path, blank_iso: Path) -> None:
    spec = VmSpec(
        firmware=Firmware.BIOS,
        media=Media.DVD,
        iso=blank_iso,
        disk=None,
        accel=Accel.TCG,
        memory_mb=128,
    )
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
    spec = VmSpec(
        firmware=Firmware.BIOS,
        media=Media.DVD,
        iso=blank_iso,
        disk=None,
        accel=Accel.TCG,
        memory_mb=128,
    )
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
    spec = VmSpec(
        firmware=Firmware.BIOS, media=Media.DVD, iso=blank_iso, disk=None, accel=Accel.TCG
    )
    with pytest.raises(QemuStartError, match="not a valid device model"):
        with Vm(spec, artifacts=tmp_path / "art", qemu=str(fake)):
            pass
    assert not qemu._LIVE


def test_qmp_that_never_answers_times_out(tmp_path: Path, blank_iso: Path) -> None:
    fake = tmp_path / "mute-qemu"
    fake.write_text("#!/bin/sh\nexec sleep 30\n")
    fake.chmod(0o755)
    spec = VmSpec(
        firmware=Firmware.BIOS, media=Media.DVD, iso=blank_iso, disk=None, accel=Accel.TCG
    )
    vm = Vm(spec, artifacts=tmp_path / "art", qemu=str(fake), start_timeout=1.0)
    with pytest.raises(QemuStartError, match="QMP did not answer"):
        with vm:
            pass
    assert vm.proc is not None and vm.proc.poll() is not None
