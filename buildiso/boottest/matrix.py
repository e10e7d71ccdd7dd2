"""``buildiso boot-test``: the boot-test matrix (BIOS/UEFI × DVD/USB), its table and JUnit.

Each cell (bootcell.py) gets its own QEMU and its own fresh sparse target disk; with
``--matrix`` the cells run in parallel threads, up to ``--jobs`` at a time (each thread
only waits on its QEMU, so threads are enough). Ctrl-C stops every QEMU before returning.
Exit status: 0 only when every cell passed (otherwise BuildError, exit 1).
"""

from __future__ import annotations

import logging
import shutil
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from contextlib import nullcontext
from functools import partial
from pathlib import Path
from typing import TextIO

from buildiso.atomicfile import open_atomic, write_json_atomic
from buildiso.boottest import bootproto, vm
from buildiso.boottest.accel import AccelChoice, choose_accel
from buildiso.boottest.bootcell import (
    ALL_CELLS,
    Cell,
    CellResult,
    GuestFactory,
    qemu_guest,
    run_cell,
)
from buildiso.boottest.celldriver import CellConfig
from buildiso.boottest.filmstrip import DEFAULT_INTERVAL_S
from buildiso.boottest.isomenu import BootMenu, NotAnIso, read_menu
from buildiso.boottest.postreport import check_report, install_set_beside
from buildiso.boottest.progress import Progress
from buildiso.boottest.shard import Shard, pick
from buildiso.config import Accel, Firmware, Media, Scenario, Variant
from buildiso.errors import BuildError, InputError
from buildiso.log import log as tree_log
from buildiso.log import step
from buildiso.render import layout
from buildiso.render.profile import Profile, load_profile
from buildiso.run import require_tools

log = logging.getLogger(__name__)

TABLE_STAGES = bootproto.ALL_STAGES


def run_boot_test(
    *,
    iso: Path,
    profile: Profile,
    cells: Sequence[Cell],
    jobs: int,
    accel: Accel,
    artifacts: Path,
    wait_local_timeout: bool = False,
    timeouts: Mapping[str, float] | None = None,
    guest_factory: GuestFactory | None = None,
    frame_every_s: float = DEFAULT_INTERVAL_S,
    progress: Progress | None = None,
    timeout_scale: float = 1.0,
) -> list[CellResult]:
    """Run ``cells`` (``accel`` already resolved to kvm/tcg); results in cell order."""
    artifacts.mkdir(parents=True, exist_ok=True)
    menus: dict[Firmware, BootMenu | InputError] = {}
    for fw in sorted({c.firmware for c in cells}):
        try:
            menus[fw] = read_menu(iso, fw)
        except NotAnIso:
            raise
        except InputError as exc:
            # The ISO lacks this firmware's menu: a product defect, reported by the cell.
            menus[fw] = exc
    factory = guest_factory or partial(qemu_guest, disk_mb=layout.disk_mb(profile))
    install_set = install_set_beside(iso)  # every cell: rpm -qa must be exactly this
    stick: Path | None = None
    if any(c.media is Media.USB_FILES for c in cells):
        from buildiso.boottest.usbfiles import make_usb_files_image

        stick = artifacts / "usb-files.img"
        label = make_usb_files_image(iso=iso, dest=stick)
        step(f"usb-files: {stick.name}, FAT32 labelled {label} (Rufus ISO Image mode)")
    cancel = threading.Event()

    def one(cell: Cell) -> CellResult:
        cell_dir = artifacts / cell.name
        # Only this cell's own folder is cleared, never the artifacts folder itself.
        shutil.rmtree(cell_dir, ignore_errors=True)
        menu = menus[cell.firmware]
        if isinstance(menu, InputError):
            cell_dir.mkdir(parents=True)
            return CellResult(
                cell=cell,
                passed=False,
                failure_class="menu-not-found",
                message=str(menu),
                stages={},
                checks=[],
                artifacts=cell_dir,
                accel=accel.value,
                seconds=0.0,
            )
        config = CellConfig(
            iso=iso,
            profile=profile,
            menu=menu,
            accel=accel,
            artifacts=cell_dir,
            timeouts=dict(timeouts or bootproto.DEFAULT_TIMEOUTS),
            wait_local_timeout=wait_local_timeout,
            install_set=install_set,
            frame_every_s=frame_every_s,
            on_stage=partial(progress.stage, cell.name) if progress else None,
            media_image=stick if cell.media is Media.USB_FILES else None,
            timeout_scale=timeout_scale,
        )
        step(f"{cell.name}: booting {iso.name} ({accel.value})")
        result = run_cell(cell, config, guest_factory=factory, cancelled=cancel.is_set)
        verdict = "passed" if result.passed else f"FAILED [{result.failure_class}] {result.message}"
        log.info("%s: %s in %.0f s", cell.name, verdict, result.seconds)
        if progress is not None:
            progress.done(
                cell.name,
                passed=result.passed,
                seconds=result.seconds,
                failure=result.failure_class,
            )
        if result.passed:
            for disk in cell_dir.glob("disk*.qcow2"):  # keep disks of failures only
                disk.unlink()
        return result

    results: dict[Cell, CellResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cell")
    futures: dict[Future[CellResult], Cell] = {pool.submit(one, c): c for c in longest_first(cells)}
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut]] = fut.result()
    except BaseException:
        # Ctrl-C (or a bug): stop every guest now, then let the threads unwind.
        cancel.set()
        for fut in futures:
            fut.cancel()
        vm.stop_all()
        pool.shutdown(wait=True, cancel_futures=True)
        raise
    pool.shutdown(wait=True)
    return [results[c] for c in cells]


# Measured cell lengths (TCG, 2 cores): UEFI-USB ~100 s, UEFI-DVD ~60 s, BIOS cells ~35 s.
# The pool starts cells in submission order, so the longest goes first and the short
# ones fill in after it instead of delaying it (matrix wall ~ the longest cell).
_EXPECTED_ORDER = {Firmware.UEFI: 0, Firmware.BIOS: 1}, {Media.USB: 0, Media.DVD: 1}


def longest_first(cells: Sequence[Cell]) -> list[Cell]:
    """``cells`` in the order to start them: the longest expected first."""
    by_firmware, by_media = _EXPECTED_ORDER
    return sorted(cells, key=lambda c: (by_firmware.get(c.firmware, 2), by_media.get(c.media, 2)))


def _fmt_seconds(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "-"


def format_table(results: Sequence[CellResult]) -> str:
    """One row per cell: result, failure class, seconds per stage ("!" where it failed), total."""
    stages = [s for s in TABLE_STAGES if any(s in r.stages for r in results)]
    # a scenario's own stages (boottest/scenarios.py: server-boot, step-1 ...), in order
    stages += list(dict.fromkeys(s for r in results for s in r.stages if s not in TABLE_STAGES))
    header = ["cell", "result", *stages, "total"]
    rows = []
    for r in results:
        cells = [r.cell.name, "pass" if r.passed else f"FAIL:{r.failure_class}"]
        for s in stages:
            info = r.stages.get(s)
            if info is None:
                cells.append("-")
                continue
            # "!" marks the stage where the cell failed or timed out.
            mark = "!" if info["status"] in ("failed", "timeout") else ""
            cells.append(_fmt_seconds(info.get("seconds")) + mark)
        cells.append(_fmt_seconds(r.seconds))
        rows.append(cells)
    widths = [max(len(str(x)) for x in col) for col in zip(header, *rows, strict=True)]
    lines = [
        "  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
        for row in [header, *rows]
    ]
    return "\n".join(lines)


def write_junit(results: Sequence[CellResult], path: Path, *, profile: Profile) -> None:
    """JUnit XML: a test case per cell and per post-install check of each cell."""
    check_names = [c.name for c in check_report({}, profile, install_set=())]
    suite = ET.Element("testsuite", name="buildiso.boot-test")
    counts = {"tests": 0, "failures": 0, "skipped": 0}
    total = 0.0
    for r in results:
        total += r.seconds
        case = ET.SubElement(
            suite,
            "testcase",
            classname=f"boot-test.{r.cell.name}",
            name="install-and-first-boot",
            time=f"{r.seconds:.2f}",
        )
        counts["tests"] += 1
        arts = f"artifacts: {r.artifacts}"
        if not r.passed:
            counts["failures"] += 1
            fail = ET.SubElement(
                case,
                "failure",
                message=f"{r.failure_class}: {r.message}",
                type=str(r.failure_class),
            )
            fail.text = "\n".join([f"{r.failure_class}: {r.message}", arts, *r.console_tail])
        ET.SubElement(case, "system-out").text = "\n".join(
            [arts, f"accel: {r.accel}", f"attempts: {r.attempts}"]
            + [f"stage {k}: {v.get('seconds')} s ({v.get('status')})" for k, v in r.stages.items()]
        )
        by_name = {c.name: c for c in r.checks}
        # a scenario reports its own checks; the fresh install's are the report's
        own = r.checks and not any(c.name in check_names for c in r.checks)
        for name in list(by_name) if own else check_names:
            counts["tests"] += 1
            check_case = ET.SubElement(
                suite,
                "testcase",
                classname=f"boot-test.{r.cell.name}.post-install",
                name=name,
                time="0",
            )
            check = by_name.get(name)
            if check is None:
                counts["skipped"] += 1
                ET.SubElement(
                    check_case, "skipped", message=f"no post-install report ({r.failure_class})"
                )
            elif check.ok:
                ET.SubElement(check_case, "system-out").text = check.message
            else:
                counts["failures"] += 1
                ET.SubElement(
                    check_case, "failure", message=check.message, type="post-install-check"
                ).text = f"{check.message}\n{arts}"
    for key, value in counts.items():
        suite.set(key, str(value))
    suite.set("errors", "0")
    suite.set("time", f"{total:.2f}")
    write_suite(suite, path)


def write_suite(suite: ET.Element, path: Path) -> None:
    """One <testsuite> as a JUnit file, written to a temporary name and renamed."""
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_atomic(path) as handle:
        tree.write(handle, encoding="utf-8", xml_declaration=True)


def _is_tty(stream: TextIO | None) -> bool:
    # A terminal gets the redrawn block; CI logs and files get plain lines.
    target = stream or sys.stderr
    try:
        return target.isatty()
    except (AttributeError, ValueError):
        return False


def _cell_name(cell: Cell) -> str:
    return cell.name


def boot_test_command(
    *,
    iso: Path,
    firmware: Firmware,
    media: Media,
    matrix: bool,
    jobs: int,
    accel: Accel,
    artifacts: Path,
    junit: Path | None,
    wait_local_timeout: bool,
    profile_path: Path,
    variant: Variant,
    out: TextIO | None = None,
    accel_chooser: Callable[[Accel], AccelChoice] = choose_accel,
    guest_factory: GuestFactory | None = None,
    timeouts: Mapping[str, float] | None = None,
    shard: Shard | None = None,
    cell_names: Sequence[str] = (),
    frame_every_s: float = DEFAULT_INTERVAL_S,
    progress_stream: TextIO | None = None,
    scenario: Scenario = Scenario.INSTALL,
    server_base: Path | None = None,
    from_iso: Path | None = None,
    from_profile: Path | None = None,
    password_file: Path | None = None,
    timeout_scale: float = 1.0,
) -> None:
    """Boot-test ``iso``; print the table; BuildError unless every cell passed.

    ``cell_names`` reduces the matrix, ``shard`` runs only its share (shard.py); the
    artifacts folder then holds this shard's cells, summary.json and junit.xml.
    """
    if (shard is not None or cell_names) and not matrix:
        raise InputError(
            "--shard and --cells select from the matrix", hint="add --matrix to the command"
        )
    require_tools("qemu-system-x86_64", "qemu-img")
    if not iso.is_file():
        raise InputError(f"{iso}: not a file", hint="pass the ISO built by buildiso build")
    profile = load_profile(profile_path, variant)
    all_cells = ALL_CELLS if matrix else (Cell(firmware, media),)
    matrix_cells = pick(all_cells, names=cell_names, shard=None, name=_cell_name)
    cells = pick(matrix_cells, names=(), shard=shard, name=_cell_name)
    if shard is not None:
        step(f"shard {shard}: {', '.join(c.name for c in cells) or 'no cells'}")
    from buildiso.boottest.upgrade import check_upgrade_args

    check_upgrade_args(scenario_is_upgrade=scenario is Scenario.UPGRADE, from_iso=from_iso)
    if scenario is not Scenario.INSTALL:
        from buildiso.boottest.scenarios import refuse_unsupported

        refuse_unsupported(scenario, list(cells))  # before the KVM probe boots anything
    choice = accel_chooser(accel)
    step(f"accelerator: {choice.accel.value} ({choice.reason})")
    started = time.monotonic()
    tree = tree_log  # the "buildiso" tree: its level (--quiet) and handlers
    progress = (
        Progress(
            [c.name for c in cells],
            stream=progress_stream or sys.stderr,
            tty=_is_tty(progress_stream),
        )
        if tree.isEnabledFor(logging.INFO)  # not with --quiet
        else None
    )
    if scenario is Scenario.UPGRADE:
        from buildiso.boottest.upgrade import upgrade_results

        assert from_iso is not None  # check_upgrade_args
        results = upgrade_results(
            new_iso=iso,
            old_iso=from_iso,
            old_profile_path=from_profile,
            variant=variant,
            password_file=password_file,
            accel=choice.accel,
            artifacts=artifacts,
            timeouts=timeouts,
            timeout_scale=timeout_scale,
        )
    elif scenario is not Scenario.INSTALL:
        from buildiso.boottest.scenarios import scenario_results

        results = scenario_results(
            scenario=scenario,
            iso=iso,
            profile=profile,
            cells=list(cells),
            accel=choice.accel,
            artifacts=artifacts,
            server_base=server_base,
            timeouts=timeouts,
            timeout_scale=timeout_scale,
        )
    else:
        with progress.shown(tree) if progress else nullcontext():
            results = run_boot_test(
                iso=iso,
                profile=profile,
                cells=cells,
                jobs=jobs,
                accel=choice.accel,
                artifacts=artifacts,
                wait_local_timeout=wait_local_timeout,
                guest_factory=guest_factory,
                timeouts=timeouts,
                frame_every_s=frame_every_s,
                progress=progress,
                timeout_scale=timeout_scale,
            )
    wall = time.monotonic() - started
    stream = out or sys.stdout
    stream.write(format_table(results) + "\n")
    stream.write(
        f"accel {choice.accel.value}; wall time {wall:.1f} s for {len(results)} cell(s); "
        f"artifacts in {artifacts}\n"
    )
    summary = {
        "iso": str(iso),
        "accel": choice.accel.value,
        "accel_reason": choice.reason,
        "jobs": jobs,
        "wall_seconds": round(wall, 1),
        "shard": str(shard) if shard else None,
        "matrix_cells": [c.name for c in matrix_cells],
        "cells": [r.to_json() for r in results],
    }
    artifacts.mkdir(parents=True, exist_ok=True)
    write_json_atomic(artifacts / "summary.json", summary)
    # Always beside the summary, so `buildiso report` finds every shard's JUnit.
    write_junit(results, artifacts / "junit.xml", profile=profile)
    if junit is not None:
        write_junit(results, junit, profile=profile)
    failed = [r for r in results if not r.passed]
    if failed:
        first = failed[0]
        raise BuildError(
            f"boot test failed in {len(failed)} of {len(results)} cell(s); "
            f"{first.cell.name}: [{first.failure_class}] {first.message}",
            hint=f"see {first.artifacts} (console.log, protocol.log, result.json, *.png)",
        )
