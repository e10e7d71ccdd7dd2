"""Second hostile audit, N5 (security): ``boot-test`` wrote through links planted inside
``--artifacts`` (a ``summary.json.tmp`` link overwrote a file outside the folder).

Now: every file is written through ``buildiso/atomicfile.py`` (fresh ``O_EXCL|O_NOFOLLOW``
temporary names, a linked destination refused); a link where the run will write
(summary.json, junit.xml, the stick image, a cell folder or an earlier attempt's, the
``--junit`` file) is refused in one line before any VM starts; a cell folder is made
afresh and never written through (a link put there after the check is replaced); the log
files QEMU opens by name are created by us, in that fresh folder, never through a link.
"""

from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest
from bootfakes import CELL, good_report, install_script, quick, run_scripted_cell
from hostile.hostile_boottest import fake_iso, faked, one_error_line

from buildiso.boottest.qemu import (
    CONSOLE_LOG,
    EVENTS_LOG,
    FIRMWARE_LOG,
    PROTOCOL_LOG,
    QEMU_STDERR,
    VmSpec,
)
from buildiso.boottest.vm import QemuStartError, Vm
from buildiso.cli import main
from buildiso.config import Accel, Firmware, Media
from buildiso.render.profile import Profile

PRECIOUS = "precious: must survive the boot test\n"


def _victim(tmp: Path, name: str = "victim.txt") -> Path:
    victim = tmp / "outside" / name
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text(PRECIOUS)
    return victim


def _plant_file(name: str) -> Callable[[Path, Path], None]:
    def plant(artifacts: Path, victim: Path) -> None:
        (artifacts / name).symlink_to(victim)

    return plant


def _plant_dir(name: str) -> Callable[[Path, Path], None]:
    def plant(artifacts: Path, victim: Path) -> None:
        (artifacts / name).symlink_to(victim.parent, target_is_directory=True)

    return plant


PLANTED: dict[str, Callable[[Path, Path], None]] = {
    "summary.json": _plant_file("summary.json"),
    "junit.xml": _plant_file("junit.xml"),
    "usb-files.img": _plant_file("usb-files.img"),
    "the cell folder": _plant_dir("bios-dvd"),
    "an earlier attempt's folder": _plant_dir("bios-dvd.attempt1"),
}


@pytest.mark.parametrize("case", sorted(PLANTED))
def test_a_link_where_the_run_writes_is_refused_before_any_vm(
    case: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str], profile: Profile,
) -> None:  # fmt: skip
    artifacts = tmp_path / "art"
    artifacts.mkdir()
    victim = _victim(tmp_path)
    PLANTED[case](artifacts, victim)
    script = quick(install_script(report=good_report(profile)))
    with faked(monkeypatch, {"bios-dvd": script}) as factory:
        code = main(["boot-test", str(fake_iso(tmp_path / "in")), "--accel", "tcg",
                     "--artifacts", str(artifacts)])  # fmt: skip
    assert code == 2
    one_error_line(capsys.readouterr().err, names="a symbolic link")
    assert factory.started == []
    assert victim.read_text() == PRECIOUS and sorted(victim.parent.iterdir()) == [victim]


def test_junit_named_as_a_link_is_refused_before_the_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    profile: Profile,
) -> None:  # fmt: skip
    victim = _victim(tmp_path)
    junit = tmp_path / "junit.xml"
    junit.symlink_to(victim)
    with faked(monkeypatch, {"bios-dvd": quick(install_script(report=good_report(profile)))}
               ) as factory:  # fmt: skip
        code = main(["boot-test", str(fake_iso(tmp_path / "in")), "--accel", "tcg",
                     "--artifacts", str(tmp_path / "art"), "--junit", str(junit)])  # fmt: skip
    assert code == 2
    one_error_line(capsys.readouterr().err, names=f"--junit {junit}")
    assert factory.started == [] and victim.read_text() == PRECIOUS


def test_a_planted_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, profile: Profile
) -> None:
    """The audit's own case: ``summary.json.tmp`` (and the like) linked outside."""
    artifacts = tmp_path / "art"
    artifacts.mkdir()
    victim = _victim(tmp_path)
    for name in ("summary.json.tmp", ".summary.json.tmp", "junit.xml.tmp", "bios-dvd.tmp"):
        (artifacts / name).symlink_to(victim)
    with faked(monkeypatch, {"bios-dvd": quick(install_script(report=good_report(profile)))}):
        code = main(["boot-test", str(fake_iso(tmp_path / "in")), "--accel", "tcg",
                     "--artifacts", str(artifacts)])  # fmt: skip
    assert code == 0
    assert victim.read_text() == PRECIOUS
    assert (artifacts / "summary.json").is_file() and not (artifacts / "summary.json").is_symlink()


def test_a_cell_folder_linked_after_the_check_is_replaced_not_written_through(
    tmp_path: Path, profile: Profile
) -> None:
    """A link planted once the run has started (the runner, not the command's check)."""
    outside = tmp_path / "outside"
    outside.mkdir()
    run = tmp_path / "run"
    run.mkdir()
    (run / CELL.name).symlink_to(outside, target_is_directory=True)
    (run / f"{CELL.name}.attempt1").symlink_to(outside, target_is_directory=True)
    result, _ = run_scripted_cell(run, profile, install_script(report=good_report(profile)))
    assert result.passed, result.message
    assert list(outside.iterdir()) == []
    cell = run / CELL.name
    assert cell.is_dir() and not cell.is_symlink() and (cell / "result.json").is_file()
    assert not (run / f"{CELL.name}.attempt1").exists()


QEMU_FILES = (CONSOLE_LOG, PROTOCOL_LOG, FIRMWARE_LOG, EVENTS_LOG, QEMU_STDERR, "qemu.cmdline")


def test_qemus_log_files_are_ours_never_a_planted_link(tmp_path: Path) -> None:
    """QEMU opens its serial logs by name (following links): each must be a file this run
    made. The stand-in QEMU writes to every ``path=`` of its command line as QEMU would,
    then fails to start (no QMP)."""
    fake = tmp_path / "fake-qemu"
    fake.write_text(textwrap.dedent("""\
        #!/bin/sh
        for arg in "$@"; do
          case "$arg" in *path=*) p="${arg##*path=}"; echo "guest output" >> "${p%%,*}";; esac
        done
        echo "qemu-system-x86_64: stand-in, no QMP" >&2
        exit 1
        """))  # fmt: skip
    fake.chmod(0o755)
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0" * 2048)
    artifacts = tmp_path / "art"
    artifacts.mkdir()
    victims = {}
    for name in QEMU_FILES:
        victims[name] = _victim(tmp_path, f"{name}.victim")
        (artifacts / name).symlink_to(victims[name])
    spec = VmSpec(firmware=Firmware.BIOS, media=Media.DVD, iso=iso, disk=None, accel=Accel.TCG)
    with pytest.raises(QemuStartError), Vm(spec, artifacts=artifacts, qemu=str(fake)):
        pass
    for name, victim in victims.items():
        assert victim.read_text() == PRECIOUS, f"{name} was written through its link"
        assert (artifacts / name).is_file() and not (artifacts / name).is_symlink(), name
    assert "guest output" in (artifacts / CONSOLE_LOG).read_text()
    assert "stand-in" in (artifacts / QEMU_STDERR).read_text()
