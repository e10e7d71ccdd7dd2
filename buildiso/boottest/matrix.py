"""``buildiso boot-test``: the boot-test matrix (BIOS/UEFI × DVD/USB), its table and JUnit.

Each cell (bootcell.py) gets its own QEMU and its own fresh sparse target disk; with
``--matrix`` the cells run in parallel threads, up to ``--jobs`` at a time (each thread
only waits on its QEMU, so threads are enough). Ctrl-C stops every QEMU before returning.
Exit status: 0 only when every cell passed (otherwise BuildError, exit 1).
"""

from __future__ import annotations

import json
import logging
import shutil
import sys
import threading
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from functools import partial
from pathlib import Path
from typing import TextIO

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
from buildiso.boottest.isomenu import BootMenu, NotAnIso, read_menu
from buildiso.boottest.postreport import check_report
from buildiso.config import Accel, Firmware, Media, Scenario, Variant
from buildiso.errors import BuildError, InputError
from buildiso.log import step
from buildiso.render.profile import Profile, load_profile
from buildiso.run import require_tools

log = logging.getLogger("buildiso.boottest.matrix")

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
    factory = guest_factory or partial(qemu_guest, disk_mb=profile.min_disk_mb)
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
            media_image=stick if cell.media is Media.USB_FILES else None,
        )
        step(f"{cell.name}: booting {iso.name} ({accel.value})")
        result = run_cell(cell, config, guest_factory=factory, cancelled=cancel.is_set)
        verdict = "passed" if result.passed else f"FAILED [{result.failure_class}] {result.message}"
        log.info("%s: %s in %.0f s", cell.name, verdict, result.seconds)
        if result.passed:
            (cell_dir / "disk.qcow2").unlink(missing_ok=True)  # keep disks of failures only
        return result

    results: dict[Cell, CellResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cell")
    futures: dict[Future[CellResult], Cell] = {pool.submit(one, c): c for c in cells}
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
    check_names = [c.name for c in check_report({}, profile)]
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
    root = ET.Element("testsuites")
    root.append(suite)
    tree = ET.ElementTree(root)
    ET.indent(tree)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tree.write(tmp, encoding="utf-8", xml_declaration=True)
    tmp.replace(path)


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
    scenario: Scenario = Scenario.INSTALL,
    server_base: Path | None = None,
) -> None:
    """Boot-test ``iso``; print the table; BuildError unless every cell passed."""
    require_tools("qemu-system-x86_64", "qemu-img")
    if not iso.is_file():
        raise InputError(f"{iso}: not a file", hint="pass the ISO built by buildiso build")
    profile = load_profile(profile_path, variant)
    cells = ALL_CELLS if matrix else (Cell(firmware, media),)
    if scenario is not Scenario.INSTALL:
        from buildiso.boottest.scenarios import refuse_unsupported

        refuse_unsupported(scenario, list(cells))  # before the KVM probe boots anything
    choice = accel_chooser(accel)
    step(f"accelerator: {choice.accel.value} ({choice.reason})")
    started = time.monotonic()
    if scenario is not Scenario.INSTALL:
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
        )
    else:
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
        "cells": [r.to_json() for r in results],
    }
    (artifacts / "summary.json").write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
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
