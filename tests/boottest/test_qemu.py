"""buildiso.boottest.qemu: the command line per cell, VmSpec validation."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.boottest import qemu
from buildiso.boottest.qemu import VmFiles, VmSpec, build_command
from buildiso.config import Accel, Firmware, Media


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
    # a NIC that reaches nothing, never a boot device (no ROM, no boot index)
    assert _option_values(cmd, "-netdev") == ["user,id=net0,restrict=on"]
    nics = [d for d in devices if "netdev=net0" in d]
    assert nics == ["e1000,netdev=net0,romfile="] and "bootindex" not in nics[0]
    assert "-nic" not in cmd
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


def test_scenario_options_direct_kernel_extra_cd_console_socket(tmp_path: Path) -> None:
    spec = _spec(
        Firmware.BIOS,
        Media.DVD,
        tmp_path,
        boot_media=False,
        extra_cdroms=(tmp_path / "ks.iso",),
        kernel=tmp_path / "vmlinuz",
        initrd=tmp_path / "initrd.img",
        append="ks=cdrom:/ks.cfg repo=cdrom",
        console_input=True,
    )
    files = _files(tmp_path)
    cmd = build_command(spec, files)
    assert _option_values(cmd, "-kernel") == [str(tmp_path / "vmlinuz")]
    assert _option_values(cmd, "-initrd") == [str(tmp_path / "initrd.img")]
    assert _option_values(cmd, "-append") == ["ks=cdrom:/ks.cfg repo=cdrom"]
    devices = _option_values(cmd, "-device")
    assert "ide-cd,drive=media,bus=ide.0" in devices  # no boot index: the disk boots
    assert "ide-cd,drive=cd1,bus=ide.2" in devices
    assert any(f"file={tmp_path / 'ks.iso'}" in d for d in _option_values(cmd, "-drive"))
    console = _option_values(cmd, "-chardev")[0]
    assert console.startswith("socket,id=ttyS0,")
    assert f"path={files.console_socket}" in console
    assert f"logfile={files.console}" in console and "server=on" in console


def test_default_spec_keeps_the_media_first_and_a_file_console(tmp_path: Path) -> None:
    cmd = build_command(_spec(Firmware.BIOS, Media.USB, tmp_path), _files(tmp_path))
    assert "-kernel" not in cmd
    assert any(d.endswith("bootindex=0") and "usb-storage" in d
               for d in _option_values(cmd, "-device"))
    assert _option_values(cmd, "-chardev")[0].startswith("file,id=ttyS0,")


def test_the_nic_reaches_the_repository_server_only_through_a_relay(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # a Python in a folder with a space and a comma: quoted for QEMU's option parser
    # (",," escapes a comma) and for the shell-like split of the cmd: target
    monkeypatch.setattr(qemu.sys, "executable", "/opt/py thon,3/bin/python3")
    cmd = build_command(_spec(Firmware.BIOS, Media.DVD, tmp_path, forward_port=43210),
                        _files(tmp_path))  # fmt: skip
    (netdev,) = _option_values(cmd, "-netdev")
    relay = f"'/opt/py thon,,3/bin/python3' -I -S {qemu.RELAY} 43210"
    assert netdev == f"user,id=net0,restrict=on,guestfwd=tcp:10.0.2.100:80-cmd:{relay}"
    assert qemu.RELAY.name == "reporelay.py" and qemu.RELAY.is_file()


@pytest.mark.parametrize("port", [-1, 65536])
def test_a_forward_port_must_be_a_port(tmp_path: Path, port: int) -> None:
    with pytest.raises(ValueError, match="forward_port"):
        _spec(Firmware.BIOS, Media.DVD, tmp_path, forward_port=port)
