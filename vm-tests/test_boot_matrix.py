"""``buildiso boot-test`` for real: QEMU, the shipped ISO, the sample installer, every cell
run by the scenario runner (``boottest/command.py``, the ``install`` scenario file).

1. The full matrix (BIOS/UEFI × DVD/USB) against ``EMAIL_490_190.iso`` built from the sample
   base (``built_iso``), run once per session as CI runs it, in two shards: every cell
   installs, boots its disk and passes the report checks; the menu screenshot is a real PNG
   of the boot loader's screen size. ``report`` merges the two shards and Chromium reads
   the pages and their filmstrips.
2. Broken inputs, each built by the real build pipeline into ``tmp_path`` and run on one
   cell, must fail in their own class: a ``%post`` that fails (post), a gateway package
   with a missing dependency forced in with ``build --allow-unresolved`` (packages), a wrong
   volume label in the menu (media-not-found), media the firmware cannot boot (firmware).

Measured figures (wall time, per-stage seconds, accel) are printed: ``pytest -s``.
"""

from __future__ import annotations

import dataclasses
import io
import json
import re
import shutil
import subprocess
import textwrap
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path

import pytest

from buildiso import build, paths
from buildiso.boottest import vm
from buildiso.boottest.accel import AccelChoice, choose_accel
from buildiso.boottest.command import BootTestRequest, boot_test_command, format_table
from buildiso.boottest.filmstrip import FRAME_WIDTH, read_index
from buildiso.boottest.results import CellResult, Summary
from buildiso.boottest.scenario import Cell
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.boottest.screendump import png_size
from buildiso.boottest.shard import Shard
from buildiso.build import SigningKey, build_iso
from buildiso.config import Accel, EfiFlavour, Firmware, IsolinuxFlavour, Media
from buildiso.errors import BuildError
from buildiso.render.profile import Profile
from buildiso.render.templates import KS_PATH, render_efi_menu, render_isolinux
from buildiso.report.command import report_command
from conftest import guest_slots

pytestmark = pytest.mark.vm

BIOS_DVD = Cell(Firmware.BIOS, Media.DVD)
ISOLINUX_BIN = Path("/usr/lib/ISOLINUX/isolinux.bin")
SYSLINUX_MODULES = Path("/usr/lib/syslinux/modules/bios")
# The boot loaders' screens: vesamenu's 640x480 (SeaBIOS); GRUB's graphical menu (gfxterm,
# gfxmode auto) under OVMF: 1280x800 (GOP mode).
MENU_SIZES = {Firmware.BIOS: (640, 480), Firmware.UEFI: (1280, 800)}  # UEFI: OVMF's GOP mode
ALL_CELLS = load_scenario("install").matrix
# Broken cases fail fast; these limits (over install.toml's) only bound a harness bug.
FAIL_FAST = {"kernel": 90.0, "media": 90.0}


@pytest.fixture(scope="module")
def accel() -> AccelChoice:
    choice = choose_accel(Accel.AUTO)
    print(f"\naccelerator: {choice.accel.value} ({choice.reason})")
    return choice


def _report(results: list[CellResult], wall: float) -> None:
    print(f"\n{format_table(results)}\nwall time {wall:.1f} s")


def run_cells(
    iso: Path, profile: Profile, accel: AccelChoice, art: Path, cells: list[Cell],
    limits: dict[str, float] | None = None,
) -> list[CellResult]:  # fmt: skip
    """The install scenario on ``cells`` through the boot-test command (failures included)."""
    names = tuple(c.name for c in cells)
    started = time.monotonic()
    try:
        boot_test_command(
            BootTestRequest(iso=iso, matrix=True, cell_names=names, jobs=2, accel=accel.accel,
                            artifacts=art),
            profile=profile, limits=limits, out=io.StringIO(),
        )  # fmt: skip
    except BuildError:
        pass  # the cells' results say why
    results = list(Summary.load(art / "summary.json").cells)
    _report(results, time.monotonic() - started)
    assert [r.cell for r in results] == list(names)
    assert not vm._LIVE  # no QEMU survives
    return results


SHARDS = (1, 2)


@dataclasses.dataclass(frozen=True)
class ShippedMatrix:
    root: Path
    failures: tuple[BuildError | None, ...]  # by shard

    @property
    def folders(self) -> tuple[Path, ...]:  # each shard's --artifacts
        return tuple(self.root / f"shard{k}" for k in SHARDS)

    @property
    def junits(self) -> tuple[Path, ...]:
        return tuple(self.root / f"shard{k}.xml" for k in SHARDS)


@pytest.fixture(scope="module")
def shipped_matrix(
    built_iso: Path, accel: AccelChoice, tmp_path_factory: pytest.TempPathFactory
) -> ShippedMatrix:
    """The shipped ISO's whole matrix, once per session, as CI runs it: two shards (each
    cell exactly once), two cells at a time, a filmstrip frame every 5 s. The matrix test
    and the shard/report test read the same results."""
    root = tmp_path_factory.mktemp("shipped-matrix")
    with guest_slots(2):  # a module fixture: set up before the test's own slots
        failures = tuple(_run_shard(built_iso, accel, root, k) for k in SHARDS)
    return ShippedMatrix(root, failures)


def _run_shard(built_iso: Path, accel: AccelChoice, root: Path, k: int) -> BuildError | None:
    """Shard ``k`` of the matrix into ``root/shard{k}`` (JUnit beside it); its failure."""
    failure = None
    started = time.monotonic()
    with (root / f"table{k}.txt").open("w") as stream:
        try:
            boot_test_command(
                BootTestRequest(iso=built_iso, matrix=True, jobs=2, accel=accel.accel,
                                artifacts=root / f"shard{k}", junit=root / f"shard{k}.xml",
                                shard=Shard(k, len(SHARDS)), frame_every_s=5.0),
                out=stream,
            )  # fmt: skip
        except BuildError as exc:
            failure = exc
    print(f"\nshard {k}/{len(SHARDS)} ({accel.accel.value}): "
          f"{time.monotonic() - started:.1f} s\n" + (root / f"table{k}.txt").read_text())
    return failure


def test_full_matrix_on_the_shipped_iso(built_iso: Path, shipped_matrix: ShippedMatrix) -> None:
    # the results name the bytes they tested: the build manifest's sha256 of the ISO
    manifest = json.loads(built_iso.with_name(built_iso.stem + ".manifest.json").read_text())
    cells = {}
    for folder in shipped_matrix.folders:
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["isos"][0]["sha256"] == manifest["iso"]["sha256"]
        cells.update({c["cell"]: dict(c, folder=folder) for c in summary["cells"]})
    figures = {name: round(c["seconds"]) for name, c in cells.items()}
    print(f"measured per cell (install.toml expected_s): {figures}")
    assert shipped_matrix.failures == (None,) * len(SHARDS), "\n".join(
        f"{name}: [{c['failure_class']}] {c['message']}"
        for name, c in cells.items()
        if not c["passed"]
    )
    assert sorted(cells) == sorted(c.name for c in ALL_CELLS)
    for cell in ALL_CELLS:
        result = cells[cell.name]
        assert result["passed"] and all(check["ok"] for check in result["checks"])
        assert len(result["checks"]) == 12  # the profile's 10 + installed-packages + storage-layout
        png = result["folder"] / cell.name / "menu.png"
        assert png_size(png) == MENU_SIZES[cell.firmware], cell.name
        assert result["menu_screenshot"]["colours"] > 1  # not a blank screen
        if cell.firmware is Firmware.UEFI:
            # The firstboot frames show what the installed kernel draws: the frame buffer
            # it was handed is the screen QEMU shows (GRUB's native bochs driver once set
            # another mode behind GOP's back, and the UEFI firstboot frames were noise).
            art = result["folder"] / cell.name
            log = (art / "console.log").read_text(errors="replace")  # a guest writes any byte
            modes = re.findall(r"efifb: mode is (\d+)x(\d+)x", log)
            frames = [f for f in read_index(art) if f["stage"] == "firstboot"]
            assert modes and frames, cell.name
            shown = png_size(art / "filmstrip" / frames[-1]["full"])
            assert shown == (int(modes[-1][0]), int(modes[-1][1])), (cell.name, modes)
        # the install really ran through every stage, in order
        for stage in (
            "firmware",
            "menu",
            "kernel",
            "media",
            "kickstart",
            "partitioning",
            "packages",
            "bootloader",
            "post",
            "reboot",
            "local-boot",
            "firstboot",
        ):
            assert result["stages"][stage]["status"] == "ok", (cell.name, stage)
    cases = [case for junit in shipped_matrix.junits
             for case in ET.parse(junit).getroot().iter("testcase")]  # fmt: skip
    assert not [c for c in cases if c.find("failure") is not None]
    assert len(cases) == len(ALL_CELLS) * 13
    # no QEMU survives
    assert not vm._LIVE


# --- the same run as CI's shards, then one report ------------------------------------------

# Stages whose start the filmstrip must show for a passing cell.
SEEN = ["firmware", "menu", "kernel", "packages", "post", "reboot", "local-boot", "firstboot"]


def test_two_shards_then_one_report(built_iso: Path, shipped_matrix: ShippedMatrix) -> None:
    """Each shard ran its own cells (each cell exactly once over the two) and wrote its own
    summary, JUnit and real filmstrips; ``report`` merges them, Chromium reads the pages."""
    cell_names = sorted(c.name for c in ALL_CELLS)
    ran: list[tuple[int, str]] = []
    for k, folder in enumerate(shipped_matrix.folders, start=1):
        summary = json.loads((folder / "summary.json").read_text())
        assert summary["shard"] == f"{k}/2"
        assert len(summary["cells"]) == len(cell_names) // 2
        for cell in summary["cells"]:
            assert cell["passed"], cell["cell"]
            ran.append((k, cell["cell"]))
            frames = read_index(folder / cell["cell"])
            stages = [f["stage"] for f in frames]
            assert [s for s in SEEN if s in stages] == SEEN, stages
            for frame in frames:
                width, height = png_size(folder / cell["cell"] / "filmstrip" / frame["file"])
                assert (width, height) == (frame["width"], frame["height"])
                assert FRAME_WIDTH // 2 <= width <= FRAME_WIDTH
                full = folder / cell["cell"] / "filmstrip" / frame["full"]
                assert png_size(full)[0] >= width  # the guest's screen, linked from the report
    assert sorted(name for _, name in ran) == cell_names  # each cell exactly once

    out = built_iso.parent / "report-vm.work"
    shutil.rmtree(out, ignore_errors=True)
    manifest = built_iso.with_name(built_iso.stem + ".manifest.json")
    results = report_command(results=list(shipped_matrix.folders), out=out, manifest=manifest,
                             previous=manifest)  # fmt: skip
    assert results.counts == {"passed": len(cell_names), "failed": 0, "missing": 0}
    root = ET.parse(out / "junit.xml").getroot()
    main_cases = [c for c in root.iter("testcase") if c.get("name") == "install-and-first-boot"]
    assert sorted(c.get("classname") for c in main_cases) == [f"boot-test.{c}" for c in cell_names]
    assert not list(root.iter("failure"))

    chromium = shutil.which("chromium")
    assert chromium, "chromium is not installed: run ./setup.sh"

    def browse(*args: str) -> str:
        base = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
        done = subprocess.run([*base, *args], capture_output=True, text=True, timeout=180)
        assert done.returncode == 0, done.stderr[-2000:]
        return done.stdout

    dom = browse("--dump-dom", (out / "index.html").as_uri())
    assert sorted(re.findall(r'<tr class="passed" id="cell-([^"]+)"', dom)) == cell_names
    assert "ISO: identical (same sha256)" in dom
    keep = paths.DEFAULT_OUT / "report-vm"
    shutil.rmtree(keep, ignore_errors=True)
    out.rename(keep)
    for k, name in ran:
        page_url = (keep / "cells" / name / "index.html").as_uri()
        shown = re.findall(r'<img src="filmstrip/([^"]+)"', browse("--dump-dom", page_url))
        assert shown == [f["file"] for f in read_index(shipped_matrix.folders[k - 1] / name)]
        browse(f"--screenshot={keep / (name + '.png')}", "--window-size=1400,1800", page_url)
    print(f"report kept in {keep}")


# --- broken inputs -------------------------------------------------------------------------


def _build_variant(
    sample_base: object,
    out_dir: Path,
    monkeypatch: pytest.MonkeyPatch,
    *,
    profile: Profile,
    edit: Callable[[dict[str, str]], None] | None = None,
    gateway_rpms: Path | None = None,
    allow_unsigned: bool = False,
    allow_unresolved: bool = False,
) -> Path:
    """A product ISO from the sample base through the real build, with one thing broken."""
    if edit is not None:
        real_render = build.render_media_files

        def render(*args: object, **kwargs: object) -> dict[str, str]:
            files = real_render(*args, **kwargs)  # type: ignore[arg-type]
            edit(files)
            return files

        monkeypatch.setattr(build, "render_media_files", render)
    sb = sample_base
    result = build_iso(
        base_path=sb.tree,  # type: ignore[attr-defined]
        gateway_rpms=gateway_rpms or sb.gateway_rpms,  # type: ignore[attr-defined]
        profile=profile,
        password_file=None,
        out_dir=out_dir,
        key=SigningKey(key_id=sb.key_id, public_key=sb.gpg_public_key),  # type: ignore[attr-defined]
        allow_unsigned=allow_unsigned,
        allow_unresolved=allow_unresolved,
    )
    monkeypatch.undo()
    return result.iso


def test_failing_post_is_class_post(
    sample_base: object,
    profile: Profile,
    accel: AccelChoice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def failing_post(files: dict[str, str]) -> None:
        # A %post of its own, before the product's (scripts run in kickstart order).
        ks = files[KS_PATH]
        first = ks.index("\n%post") + 1
        bad = "%post --erroronfail\necho 'buildiso test: failing on purpose' >&2\nexit 3\n%end\n\n"
        files[KS_PATH] = ks[:first] + bad + ks[first:]

    iso = _build_variant(
        sample_base, tmp_path / "out", monkeypatch, profile=profile, edit=failing_post
    )
    (result,) = run_cells(iso, profile, accel, tmp_path / "art", [BIOS_DVD], FAIL_FAST)
    assert result.failure_class == "post", result.message
    assert "exited with code 3" in result.message  # our %post, not another one
    assert result.stage_map["post"].status == "failed"
    assert (tmp_path / "art" / BIOS_DVD.name / "failure.png").exists()


def _broken_rpm(dest: Path) -> Path:
    """An unsigned gateway add-on that needs a library nothing provides."""
    top = dest.parent / "rpmbuild"
    spec = top / "cs-email-broken.spec"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        textwrap.dedent("""\
        Name: cs-email-broken
        Version: 4.9.0
        Release: 190
        Summary: buildiso test package with a dependency nothing provides
        License: Proprietary
        BuildArch: x86_64
        Requires: libbuildiso-missing.so.9()(64bit)
        %description
        Test only.
        %files
        """)
    )
    subprocess.run(
        [
            "rpmbuild",
            "-bb",
            "--quiet",
            "--define",
            f"_topdir {top}",
            "--define",
            "_binary_payload w9.gzdio",
            "--define",
            f"_rpmdir {dest}",
            "--define",
            "_rpmfilename %{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
            str(spec),
        ],
        check=True,
        capture_output=True,
    )
    return dest / "cs-email-broken-4.9.0-190.x86_64.rpm"


@pytest.mark.skipif(shutil.which("rpmbuild") is None, reason="rpmbuild not installed")
def test_missing_dependency_is_class_packages(
    sample_base: object,
    profile: Profile,
    accel: AccelChoice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rpms = tmp_path / "gateway-rpms"
    shutil.copytree(sample_base.gateway_rpms, rpms)  # type: ignore[attr-defined]
    _broken_rpm(rpms)
    broken = dataclasses.replace(
        profile,
        packages=dataclasses.replace(
            profile.packages, install=(*profile.packages.install, "cs-email-broken")
        ),
    )
    iso = _build_variant(
        sample_base,
        tmp_path / "out",
        monkeypatch,
        profile=broken,
        gateway_rpms=rpms,
        allow_unsigned=True,
        allow_unresolved=True,  # the development flag: ship the unresolved Requires
    )
    (result,) = run_cells(iso, broken, accel, tmp_path / "art", [BIOS_DVD], FAIL_FAST)
    assert result.failure_class == "packages", result.message
    assert "cs-email-broken" in result.message or "libbuildiso-missing" in result.message


def test_wrong_volume_label_in_menu_is_media_not_found(
    sample_base: object,
    profile: Profile,
    accel: AccelChoice,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    wrong = "EMAIL_490_999"

    def wrong_label(files: dict[str, str]) -> None:
        for rel, text in files.items():
            if rel != KS_PATH:
                files[rel] = text.replace(f"LABEL={profile.volume_label}", f"LABEL={wrong}")

    iso = _build_variant(
        sample_base, tmp_path / "out", monkeypatch, profile=profile, edit=wrong_label
    )
    (result,) = run_cells(iso, profile, accel, tmp_path / "art", [BIOS_DVD], FAIL_FAST)
    assert result.failure_class == "media-not-found", result.message
    assert wrong in result.message


@pytest.mark.parametrize("firmware", list(Firmware))
def test_unbootable_media_is_class_firmware(
    profile: Profile,
    accel: AccelChoice,
    tmp_path: Path,
    firmware: Firmware,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # An ISO 9660 image with the product's menus as files but no boot record at all.
    tree = tmp_path / "tree"
    for rel in ("isolinux/isolinux.cfg", "EFI/BOOT/grub.cfg"):
        (tree / rel).parent.mkdir(parents=True, exist_ok=True)
    (tree / "isolinux/isolinux.cfg").write_text(
        render_isolinux(profile, flavour=IsolinuxFlavour.SYSLINUX6)
    )
    (tree / "EFI/BOOT/grub.cfg").write_text(render_efi_menu(profile, flavour=EfiFlavour.GRUB2))
    iso = tmp_path / "unbootable.iso"
    subprocess.run(
        [
            "xorriso",
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-V",
            profile.volume_label,
            "-o",
            str(iso),
            str(tree),
        ],
        check=True,
        capture_output=True,
    )
    (result,) = run_cells(iso, profile, accel, tmp_path / "art", [Cell(firmware, Media.DVD)],
                          FAIL_FAST)  # fmt: skip
    assert result.failure_class == "firmware", result.message


def _isolinux_only_iso(tmp_path: Path, isolinux_cfg: str) -> Path:
    """A small BIOS-bootable ISO: Debian's isolinux with the given menu, nothing else."""
    tree = tmp_path / "tree"
    (tree / "isolinux").mkdir(parents=True)
    shutil.copy(ISOLINUX_BIN, tree / "isolinux")
    for module in ("ldlinux.c32", "libcom32.c32", "libutil.c32", "vesamenu.c32"):
        shutil.copy(SYSLINUX_MODULES / module, tree / "isolinux")
    (tree / "isolinux" / "isolinux.cfg").write_text(isolinux_cfg)
    iso = tmp_path / "menu-only.iso"
    subprocess.run(
        [
            "xorriso",
            "-as",
            "mkisofs",
            "-quiet",
            "-R",
            "-J",
            "-V",
            "MENU_ONLY",
            "-b",
            "isolinux/isolinux.bin",
            "-c",
            "isolinux/boot.cat",
            "-no-emul-boot",
            "-boot-load-size",
            "4",
            "-boot-info-table",
            "-o",
            str(iso),
            str(tree),
        ],
        check=True,
        capture_output=True,
    )
    return iso


@pytest.mark.skipif(not ISOLINUX_BIN.exists(), reason="isolinux not installed")
def test_foreign_menu_is_class_wrong_menu(
    profile: Profile, accel: AccelChoice, tmp_path: Path
) -> None:
    other = dataclasses.replace(
        profile, menu=dataclasses.replace(profile.menu, title="Welcome to Acme Mail")
    )
    iso = _isolinux_only_iso(tmp_path, render_isolinux(other, flavour=IsolinuxFlavour.SYSLINUX6))
    (result,) = run_cells(iso, profile, accel, tmp_path / "art", [BIOS_DVD], FAIL_FAST)
    assert result.failure_class == "wrong-menu", result.message
    assert "'Welcome to Acme Mail'" in result.message
    assert png_size(tmp_path / "art" / BIOS_DVD.name / "menu.png") == (640, 480)


@pytest.mark.skipif(not ISOLINUX_BIN.exists(), reason="isolinux not installed")
def test_menu_that_never_shows_is_class_menu_not_found(
    profile: Profile, accel: AccelChoice, tmp_path: Path
) -> None:
    # The boot loader runs (banner on serial) but boots straight away: no menu is ever drawn.
    cfg = render_isolinux(profile, flavour=IsolinuxFlavour.SYSLINUX6)
    cfg = cfg.replace("ui vesamenu.c32", "default install\nprompt 0").replace(
        "timeout 600", "timeout 1"
    )
    iso = _isolinux_only_iso(tmp_path, cfg)
    (result,) = run_cells(iso, profile, accel, tmp_path / "art", [BIOS_DVD],
                          {**FAIL_FAST, "menu": 15.0})  # fmt: skip
    assert result.failure_class == "menu-not-found", result.message
    assert "is not on the console" in result.message or "without showing the menu" in result.message
