"""``buildiso boot-test``: a scenario (``--scenario NAME|FILE.toml``) on its cells, its table,
summary.json and JUnit.

Everything is checked before anything boots: the options and every path option
(``--artifacts``, ``--junit``, ``--timings-from``: one line, exit 2, before any work), the
scenario file, the cells (``--matrix``, ``--cells``, ``--shard``), the inputs
(``boottest/inputs.py``); only then is ``--artifacts`` created and locked (a second run
into the same folder is refused in one line, ``outdir.locked``), a link where the run
will write refused, the accelerator probed (a short KVM boot) and the cells run
(``boottest/runner.py``).

Ctrl-C, SIGTERM and SIGHUP (``buildiso/interrupts.py``) stop every QEMU and child, remove
the private folders, and write partial results: summary.json and JUnit with each cell not
finished marked ``interrupted``; the exit status is then 128 + the signal's number.
Otherwise it is 0 only when every cell passed (otherwise BuildError, exit 1).
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TextIO

from buildiso import interrupts, outdir, paths
from buildiso.boottest import bootproto, vm
from buildiso.boottest.accel import AccelChoice, choose_accel
from buildiso.boottest.artifacts import SUMMARY, RunFolder, write_json
from buildiso.boottest.cellfailure import INTERRUPTED
from buildiso.boottest.diskcache import DiskCache
from buildiso.boottest.diskkey import environment
from buildiso.boottest.disksteps import DiskPlan
from buildiso.boottest.filmstrip import DEFAULT_INTERVAL_S
from buildiso.boottest.inputs import Sources, check_sources, resolve
from buildiso.boottest.junit import write_junit
from buildiso.boottest.progress import Progress
from buildiso.boottest.results import MAX_SUMMARY_BYTES, CellResult, Summary
from buildiso.boottest.runner import (
    DEFAULT_CELL_S,
    Plan,
    RunInterrupted,
    merged_limits,
    run_cells,
)
from buildiso.boottest.scenario import DEFAULT_SCENARIO, Cell, Scenario
from buildiso.boottest.scenarioreader import load_scenario, shipped
from buildiso.boottest.session import MachineFactory, RunOptions
from buildiso.boottest.shard import Shard, pick
from buildiso.boottest.vocabulary import VOCABULARY, needs
from buildiso.boundedjson import read_bytes
from buildiso.config import Accel, Firmware, Media, Variant
from buildiso.errors import BuildError, InputError, Interrupted
from buildiso.log import log as tree_log
from buildiso.log import step
from buildiso.render import layout
from buildiso.render.profile import Profile, load_profile
from buildiso.run import require_tools
from buildiso.tmpdirs import private_dir

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class BootTestRequest:
    """``buildiso boot-test``'s options, parsed."""

    iso: Path
    scenario: str = DEFAULT_SCENARIO  # a shipped scenario's name, or a file
    firmware: Firmware = Firmware.BIOS
    media: Media = Media.DVD
    matrix: bool = False
    cell_names: tuple[str, ...] = ()
    shard: Shard | None = None
    jobs: int = 2
    accel: Accel = Accel.AUTO
    artifacts: Path = paths.DEFAULT_OUT / "boot-test"
    junit: Path | None = None
    wait_local_timeout: bool = False
    profile_path: Path = paths.DEFAULT_PROFILE
    variant: Variant = Variant.TEST
    frame_every_s: float = DEFAULT_INTERVAL_S
    timeout_scale: float = 1.0
    server_base: Path | None = None
    from_iso: Path | None = None
    from_profile: Path | None = None
    password_file: Path | None = None
    timings_from: Path | None = None  # a previous run's summary.json (or its folder)
    online_tree: Path | None = None  # appendix-b: the online tree (default: beside the ISO)
    disk_cache: Path | None = None  # published disks kept between runs (docs/boot-test.md)


def choose_cells(scenario: Scenario, request: BootTestRequest) -> list[Cell]:
    """The cells asked for, refused in one line when the scenario does not run on them."""
    allowed = ", ".join(c.name for c in scenario.cells)
    hint = scenario.note or f"choose among {allowed}"
    if request.matrix:
        if not scenario.matrix:
            raise InputError(f"--scenario {scenario.name} runs on {allowed} only: it has no "
                             "--matrix", hint=f"drop --matrix: {hint}")  # fmt: skip
        return list(scenario.matrix)
    cell = Cell(request.firmware, request.media)
    if cell not in scenario.cells:
        raise InputError(f"--scenario {scenario.name} runs on {allowed} only, not {cell.name}",
                         hint=f"drop --firmware/--media: {hint}")  # fmt: skip
    return [cell]


def cell_seconds(scenario: Scenario, previous: Path | None) -> Callable[[Cell], float]:
    """How long each cell is expected to run: a previous run's passed cells when given,
    else the figures the scenario file carries, else DEFAULT_CELL_S."""
    measured: dict[str, float] = {}
    if previous is not None:
        summary = _previous_summary(previous)
        measured = {r.cell: r.seconds for r in summary.cells
                    if r.passed and r.scenario == scenario.name}  # fmt: skip
    known = {**scenario.expected_s, **measured}

    def seconds(cell: Cell) -> float:
        return known.get(cell.name, DEFAULT_CELL_S)

    return seconds


def _disk_cache(path: Path | None, scenario: Scenario) -> DiskCache | None:
    """``--disk-cache``'s folder (checked even when the scenario publishes nothing, so a CI
    template may pass it to every run)."""
    if path is None:
        return None
    cache = DiskCache.open(path)
    if not any(c.kind == "publish-disk" for c in scenario.steps):
        step(f"--disk-cache: the {scenario.name} scenario publishes no disk")
        return None
    return cache


def _previous_summary(given: Path) -> Summary:
    """``--timings-from``: a summary.json the user named, or the one in a folder they
    named (not read through a link inside it)."""
    if not given.is_dir():
        return Summary.load(given)
    path = given / SUMMARY
    hint = "give --timings-from a previous run's --artifacts folder or its summary.json"
    try:
        data = read_bytes(path, max_bytes=MAX_SUMMARY_BYTES)
    except FileNotFoundError:
        raise InputError(f"--timings-from {given}: no {SUMMARY} here", hint=hint) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", hint=hint) from None
    return Summary.parse(data, source=str(path))


def check_paths(request: BootTestRequest) -> None:
    """Every path option, before any work (one line, exit 2): the folders and files this
    run writes, created nothing yet."""
    outdir.check(request.artifacts, option="--artifacts")
    if request.junit is not None:
        outdir.check_file(request.junit, option="--junit")
    if not request.iso.is_file():
        raise InputError(f"{request.iso}: not a file", hint="pass the ISO built by buildiso build")
    if request.server_base is not None and not request.server_base.is_file():  # --from: sources
        raise InputError(f"--server-base {request.server_base}: not a file",
                         hint="give --server-base the RHEL 6.10 DVD's ISO file")  # fmt: skip


def _users() -> dict[str, list[str]]:
    """Which shipped scenarios use each input kind (for hints)."""
    found: dict[str, list[str]] = {}
    for name in shipped():
        for kind in set(load_scenario(name).inputs.values()):
            found.setdefault(kind, []).append(name)
    return found


def format_table(results: Sequence[CellResult]) -> str:
    """One row per cell: result, failure class, seconds per stage ("!" where it failed), total."""
    seen = [s.name for r in results for s in r.stages]
    stages = [s for s in bootproto.ALL_STAGES if s in seen]
    stages += [s for s in dict.fromkeys(seen) if s not in stages]  # a scenario's own, in order
    header = ["cell", "result", *stages, "total"]
    rows = []
    for r in results:
        row = [r.name, "pass" if r.passed else f"FAIL:{r.failure_class}"]
        for name in stages:
            timing = r.stage(name)
            mark = "!" if timing is not None and timing.bad else ""  # where it failed
            row.append("-" if timing is None else _secs(timing.seconds) + mark)
        rows.append([*row, _secs(r.seconds)])
    widths = [max(len(x) for x in col) for col in zip(header, *rows, strict=True)]
    return "\n".join("  ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)).rstrip()
                     for row in [header, *rows])  # fmt: skip


def _secs(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"


def _is_tty(stream: TextIO | None) -> bool:
    # A terminal gets the redrawn block; CI logs and files get plain lines.
    try:
        return (stream or sys.stderr).isatty()
    except (AttributeError, ValueError):
        return False


def boot_test_command(
    request: BootTestRequest,
    *,
    out: TextIO | None = None,
    progress_stream: TextIO | None = None,
    accel_chooser: Callable[[Accel], AccelChoice] = choose_accel,
    machines: MachineFactory = vm.qemu_machine,
    limits: Mapping[str, float] | None = None,
    server_base_default: Callable[[], Path] | None = None,
    profile: Profile | None = None,
) -> Summary:
    """Run the scenario; print the table; BuildError unless every cell passed.

    ``limits`` overrides stage limits (before --timeout-scale); ``server_base_default`` is
    the DVD a server is installed from when --server-base is not given (the CLI's: the
    sample base ISO, which boottest may not build itself); ``profile`` is one built in
    code, instead of --profile's (a test's variant of the product).
    """
    if (request.shard is not None or request.cell_names) and not request.matrix:
        raise InputError("--shard and --cells select from the matrix",
                         hint="add --matrix to the command")  # fmt: skip
    check_paths(request)
    require_tools("qemu-system-x86_64", "qemu-img")
    profile = profile or load_profile(request.profile_path, request.variant)
    scenario = load_scenario(request.scenario)
    seconds = cell_seconds(scenario, request.timings_from)
    matrix_cells = pick(choose_cells(scenario, request), names=request.cell_names, shard=None,
                        name=lambda c: c.name, seconds=seconds)  # fmt: skip
    cells = pick(matrix_cells, names=(), shard=request.shard, name=lambda c: c.name,
                 seconds=seconds)  # fmt: skip
    if request.shard is not None:
        step(f"shard {request.shard}: {', '.join(c.name for c in cells) or 'no cells'}")
    sources = Sources(iso=request.iso, profile=profile, variant=request.variant,
                      from_iso=request.from_iso, from_profile=request.from_profile,
                      password_file=request.password_file, server_base=request.server_base,
                      server_base_default=server_base_default,
                      online_tree=request.online_tree)  # fmt: skip
    check_sources(scenario, sources, users=_users())
    cache = _disk_cache(request.disk_cache, scenario)
    if cache is not None:
        sources = replace(sources, server_password=cache.throwaway_password)
    folder = RunFolder(request.artifacts)
    with ExitStack() as stack:
        stack.enter_context(interrupts.terminate_as_interrupt())
        stack.enter_context(outdir.removed_if_left_empty(folder.path))
        stack.enter_context(outdir.locked(folder.path, option="--artifacts", verb="boot-test"))
        folder.refuse_links(scenario.run_name(c) for c in cells)
        work = Path(stack.enter_context(private_dir("boottest")))
        inputs = resolve(scenario, sources, cells=cells, needs=needs(scenario),
                         run_folder=folder, work=work)  # fmt: skip
        choice = accel_chooser(request.accel)  # after every check: the probe boots a guest
        step(f"accelerator: {choice.accel.value} ({choice.reason})")
        options = RunOptions(accel=choice.accel, frame_every_s=request.frame_every_s,
                             wait_local_timeout=request.wait_local_timeout,
                             disk_mb=layout.disk_mb(profile),
                             console_input=any(VOCABULARY[c.kind].types for c in scenario.steps))
        disks = (DiskPlan(cache=cache, env=environment(), scenario=scenario, inputs=inputs,
                          options=options, kinds=VOCABULARY) if cache else None)  # fmt: skip
        plan = Plan(scenario=scenario, inputs=inputs, options=options, folder=folder,
                    limits=merged_limits(scenario, overrides=limits, scale=request.timeout_scale),
                    machines=machines, disks=disks)  # fmt: skip
        started = time.monotonic()
        tree = tree_log  # the "buildiso" tree: its level (--quiet) and handlers
        progress = (
            Progress([scenario.run_name(c) for c in cells], stream=progress_stream or sys.stderr,
                     tty=_is_tty(progress_stream))
            if tree.isEnabledFor(logging.INFO)  # not with --quiet
            else None
        )  # fmt: skip
        interrupted: KeyboardInterrupt | None = None
        try:
            with progress.shown(tree) if progress else nullcontext():
                results = run_cells(plan, cells, jobs=request.jobs, seconds=seconds,
                                    progress=progress)  # fmt: skip
        except RunInterrupted as stop:
            results, interrupted = stop.results, stop.cause
        wall = time.monotonic() - started
        summary = Summary(
            scenario=scenario.name, isos=inputs.tested(), accel=choice.accel.value,
            accel_reason=choice.reason, jobs=request.jobs, wall_seconds=wall,
            shard=str(request.shard) if request.shard else None,
            matrix_cells=tuple(scenario.run_name(c) for c in matrix_cells), cells=tuple(results),
        )  # fmt: skip
        # summary.json and JUnit are written together: a signal now waits for them
        with interrupts.signals_held(deliver=interrupted is None):
            _write_results(summary, folder, request)
    _report(summary, folder, out or sys.stdout, interrupted=interrupted)
    return summary


def _write_results(summary: Summary, folder: RunFolder, request: BootTestRequest) -> None:
    write_json(folder.summary, summary.to_json())
    # Always beside the summary, so `buildiso report` finds every shard's JUnit.
    write_junit(list(summary.cells), folder.junit)
    if request.junit is not None:
        write_junit(list(summary.cells), request.junit)


def _report(
    summary: Summary, folder: RunFolder, out: TextIO, *, interrupted: KeyboardInterrupt | None
) -> None:
    results = summary.cells
    out.write(format_table(results) + "\n")
    out.write(f"accel {summary.accel}; wall time {summary.wall_seconds:.1f} s for "
              f"{len(results)} cell(s); artifacts in {folder.path}\n")  # fmt: skip
    if interrupted is not None:
        stopped = [r for r in results if r.failure_class == INTERRUPTED]
        raise Interrupted(
            f"interrupted by {interrupts.signal_of(interrupted).name}: "
            f"{len(results) - len(stopped)} of {len(results)} cell(s) finished; partial "
            f"results in {folder.summary}",
            exit_code=interrupts.exit_code(interrupted),
            hint=f"the {len(stopped)} cell(s) not finished are marked {INTERRUPTED} in "
            "summary.json and junit.xml",
        )
    failed = [r for r in results if not r.passed]
    if failed:
        first = failed[0]
        raise BuildError(
            f"boot test failed in {len(failed)} of {len(results)} cell(s); "
            f"{first.name}: [{first.failure_class}] {first.message}",
            hint=f"see {first.artifacts} (console.log, protocol.log, result.json, *.png)",
        )
