"""The one runner of every scenario: its cells, each cell's steps, and each cell's result.

For each cell the runner owns what every scenario shares: the cell's folder (cleared,
then filled), a ``Session`` (the machine, the stage clock with the limits merged and
scaled once, the filmstrip, the transcript), the steps dispatched in order, the failure
screenshot, one retry when QEMU did not start, the typed result and its files, and
dropping a passed cell's disks. Cells run in parallel threads, up to ``jobs`` at a time,
the longest expected first (each thread only waits on its QEMU, so threads are enough).

Ctrl-C, SIGTERM and SIGHUP (``buildiso/interrupts.py``) stop every QEMU, let each cell's
thread write what it has (its class ``interrupted``: the product was not judged), and
give every cell of the run a result, those never started included
(``RunInterrupted``), so the command can write partial results.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from buildiso import interrupts
from buildiso.atomicfile import replace_dir
from buildiso.boottest import vm
from buildiso.boottest.artifacts import (
    ATTEMPT,
    FAILURE_PNG,
    RunFolder,
    clear,
    fresh_dir,
    write_json,
)
from buildiso.boottest.bootproto import last_lines
from buildiso.boottest.cellfailure import INTERRUPTED, CellFailed
from buildiso.boottest.disksteps import DiskPlan
from buildiso.boottest.inputs import Inputs
from buildiso.boottest.progress import Progress
from buildiso.boottest.results import CellResult, Screen, stages_to_json
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.session import MachineFactory, RunOptions, Session
from buildiso.boottest.vm import QemuStartError
from buildiso.boottest.vocabulary import VOCABULARY, dispatch
from buildiso.log import step

log = logging.getLogger(__name__)

DEFAULT_CELL_S = 60.0  # a cell's weight when neither a previous run nor the scenario knows


def merged_limits(
    scenario: Scenario, *, overrides: Mapping[str, float] | None = None, scale: float = 1.0
) -> dict[str, float]:
    """Every stage's limit: the scenario's, then ``overrides``, times ``scale`` — once.

    The limits are set for TCG on an idle 2-core machine with room to spare; a runner that
    shares its cores asks for more with ``--timeout-scale`` rather than editing them.
    """
    merged = {**scenario.limits(), **(overrides or {})}
    return {stage: limit * scale for stage, limit in merged.items()}


def expected_checks(scenario: Scenario, inputs: Inputs | None) -> tuple[str, ...]:
    """Every check the scenario's steps run, in order."""
    names: list[str] = []
    booted: str | None = None
    for call in scenario.steps:
        kind = VOCABULARY[call.kind]
        if kind.boots:
            booted = call.text(kind.boots)
        names += kind.expects(call, inputs, booted)
    return tuple(dict.fromkeys(names))


@dataclass(frozen=True)
class Plan:
    """What every cell of one run shares."""

    scenario: Scenario
    inputs: Inputs
    limits: Mapping[str, float]  # merged and scaled (merged_limits)
    options: RunOptions
    folder: RunFolder
    machines: MachineFactory = vm.qemu_machine
    disks: DiskPlan | None = None  # --disk-cache: published disks

    def run_cell(
        self,
        cell: Cell,
        *,
        cancelled: Callable[[], bool] = lambda: False,
        on_stage: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        retries: int = 1,
    ) -> CellResult:
        """Run ``cell``; only infrastructure failures (QEMU did not start) are retried."""
        folder = self.folder.cell(self.scenario.run_name(cell))
        for old in folder.path.parent.glob(f"{folder.path.name}{ATTEMPT}*"):
            clear(old)  # an earlier run's
        attempts = 0
        while True:
            attempts += 1
            fresh_dir(folder.path)  # this cell's folder, nothing else; never through a link
            disk = self.disks.cell(cell) if self.disks is not None else None
            session = Session(cell=cell, folder=folder, inputs=self.inputs, limits=self.limits,
                              options=self.options, machines=self.machines, clock=clock,
                              sleep=sleep, cancelled=cancelled, on_stage=on_stage,
                              disk=disk)  # fmt: skip
            try:
                result = self._attempt(session, attempts)
            finally:
                if disk is not None:
                    disk.close()
            if result.failure_class != "infrastructure" or attempts > retries or cancelled():
                return result
            log.warning("%s: QEMU failed to start (%s); retrying once", cell.name,
                        result.message)  # fmt: skip
            with contextlib.suppress(OSError):
                target = folder.path.with_name(f"{folder.path.name}{ATTEMPT}{attempts}")
                replace_dir(folder.path, target)

    def not_started(self, cell: Cell) -> CellResult:
        """The result of a cell the run was interrupted before."""
        name = self.scenario.run_name(cell)
        return CellResult(
            name=name, cell=cell.name, scenario=self.scenario.name, passed=False,
            failure_class=INTERRUPTED, message="not started: the run was interrupted first",
            accel=self.options.accel.value, seconds=0.0,
            artifacts=str(self.folder.cell(name).path),
            expected_checks=expected_checks(self.scenario, self.inputs),
        )  # fmt: skip

    def _attempt(self, s: Session, attempts: int) -> CellResult:
        started = s.clock()
        failure: CellFailed | None = None
        try:
            try:
                steps = self.scenario.steps
                if s.disk is not None and s.disk.begin():
                    steps = steps[len(s.disk.skips) :]  # they made the published disk
                for call in steps:
                    dispatch(s, call)
                now = s.clock()
                if s.stages.current is not None:
                    s.stages.finish(s.stages.current.name, now)
                last = s.stages.records[-1].name if s.stages.records else "end"
                s.film.capture(last, now, reason="end")
            except CellFailed as exc:
                failure = exc
                s.stages.fail_current(s.clock())
                s.film.capture(_where(s), s.clock(), reason="failed")
                s.screenshot(s.folder.screenshot(FAILURE_PNG))
            finally:
                s.close()
        except QemuStartError as exc:
            failure = CellFailed("infrastructure", str(exc))
        except Exception as exc:  # noqa: BLE001 - re-raised unless the run was stopping
            if not s.cancelled():
                raise
            failure = CellFailed(INTERRUPTED, f"{type(exc).__name__}: {exc}")
        if failure is not None and s.cancelled():
            # The run stopped this machine (Ctrl-C, SIGTERM, SIGHUP): what failed then is
            # not the product's failure.
            then = ("" if failure.failure_class == INTERRUPTED
                    else f"; then {failure.failure_class}: {failure.message}")  # fmt: skip
            failure = CellFailed(INTERRUPTED, "the run was interrupted during stage "
                                 f"{_where(s)}{then}")  # fmt: skip
        return self._result(s, failure, seconds=s.clock() - started, attempts=attempts)

    def _result(
        self, s: Session, failure: CellFailed | None, *, seconds: float, attempts: int
    ) -> CellResult:
        scenario, shot = self.scenario, s.menu_screenshot
        tail = tuple(last_lines(s.console_text(), 15)) if failure else ()
        message = (failure.message if failure else
                   f"{scenario.name}: all {len(scenario.steps)} steps passed"
                   + (f"; all {len(s.checks)} checks passed" if s.checks else ""))  # fmt: skip
        if s.disk is not None and s.disk.note:
            message += f"; {s.disk.note}"
        if failure is not None and tail:
            message += " | last console lines: " + " / ".join(tail[-5:])
        result = CellResult(
            name=s.folder.path.name, cell=s.cell.name, scenario=scenario.name,
            passed=failure is None, failure_class=failure.failure_class if failure else None,
            message=message, accel=self.options.accel.value, seconds=seconds,
            artifacts=str(s.folder.path), stages=s.stages.typed(), checks=tuple(s.checks),
            expected_checks=expected_checks(scenario, self.inputs), attempts=attempts,
            menu_screenshot=Screen(str(shot.path), shot.width, shot.height, shot.colours)
            if shot else None,
            console_tail=tail, disk=s.disk.used() if s.disk is not None else None,
        )  # fmt: skip
        write_json(s.folder.timings, stages_to_json(result.stages))
        if s.transcript:
            write_json(s.folder.transcript, s.transcript)
        write_json(s.folder.result, result.to_json())
        if result.passed:
            for disk in s.folder.disks():  # kept for failed cells only (the post-mortem)
                disk.unlink()
        return result


def _where(s: Session) -> str:
    """The stage a cell failed in: the last one unless it ended well, else the next."""
    last = s.stages.records[-1] if s.stages.records else None
    return last.name if last and last.status != "ok" else s.stages.waiting_for()


def longest_first(cells: Sequence[Cell], seconds: Callable[[Cell], float]) -> list[Cell]:
    """``cells`` in the order to start them: the longest expected first, so the short ones
    fill in after it instead of delaying it (the run's wall time ~ the longest cell)."""
    return sorted(cells, key=lambda c: (-seconds(c), cells.index(c)))


class RunInterrupted(Exception):
    """Ctrl-C, SIGTERM or SIGHUP stopped the run: every cell's result (finished ones as
    they were, the others ``interrupted``, in cell order) and the interrupt itself."""

    def __init__(self, results: list[CellResult], cause: KeyboardInterrupt) -> None:
        super().__init__(f"interrupted by {interrupts.signal_of(cause).name}")
        self.results = results
        self.cause = cause


def run_cells(
    plan: Plan,
    cells: Sequence[Cell],
    *,
    jobs: int,
    seconds: Callable[[Cell], float] = lambda cell: DEFAULT_CELL_S,
    progress: Progress | None = None,
) -> list[CellResult]:
    """Every cell of ``cells`` (results in cell order), up to ``jobs`` at a time;
    ``RunInterrupted`` (with every cell's result) when the run is interrupted."""
    cancel = threading.Event()
    isos = ", ".join(Path(i.path).name for i in plan.inputs.tested())

    def one(cell: Cell) -> CellResult:
        name = plan.scenario.run_name(cell)
        if cancel.is_set():  # started between the interrupt and the pool's shutdown
            return plan.not_started(cell)
        step(f"{name}: {plan.scenario.name} with {isos} ({plan.options.accel.value})")
        result = plan.run_cell(cell, cancelled=cancel.is_set,
                               on_stage=partial(progress.stage, name) if progress else None)
        verdict = "passed" if result.passed else f"FAILED [{result.failure_class}] {result.message}"
        log.info("%s: %s in %.0f s", name, verdict, result.seconds)
        if progress is not None:
            progress.done(name, passed=result.passed, seconds=result.seconds,
                          failure=result.failure_class)  # fmt: skip
        return result

    results: dict[Cell, CellResult] = {}
    pool = ThreadPoolExecutor(max_workers=max(1, jobs), thread_name_prefix="cell")
    futures: dict[Future[CellResult], Cell] = {
        pool.submit(one, c): c for c in longest_first(cells, seconds)
    }
    try:
        pending = set(futures)
        while pending:
            done, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
            for fut in done:
                results[futures[fut]] = fut.result()
    except KeyboardInterrupt as exc:  # Ctrl-C, SIGTERM, SIGHUP (interrupts.Terminated)
        # Stopping takes seconds (QMP quit, then TERM, then KILL): a second signal must
        # not cut it short and orphan a guest.
        with interrupts.signals_held(deliver=False):
            log.warning("interrupted (%s): stopping every guest; results so far are written",
                        interrupts.signal_of(exc).name)  # fmt: skip
            _stop(cancel, futures, pool)
            for fut, cell in futures.items():
                if cell not in results:
                    results[cell] = _outcome(fut) or plan.not_started(cell)
        raise RunInterrupted([results[c] for c in cells], exc) from exc
    except BaseException:
        _stop(cancel, futures, pool)  # a bug: stop every guest now, then let it show
        raise
    pool.shutdown(wait=True)
    return [results[c] for c in cells]


def _stop(
    cancel: threading.Event, futures: Mapping[Future[CellResult], Cell], pool: ThreadPoolExecutor
) -> None:
    """Stop every guest now, then let the cells' threads unwind (each writes its result)."""
    cancel.set()
    for fut in futures:
        fut.cancel()  # those not started yet
    vm.stop_all()
    pool.shutdown(wait=True, cancel_futures=True)


def _outcome(fut: Future[CellResult]) -> CellResult | None:
    """A finished cell's result; None for one that never ran or did not end in a result."""
    if fut.cancelled() or fut.exception() is not None:
        if not fut.cancelled():
            log.debug("a cell stopped by the interrupt: %r", fut.exception())
        return None
    return fut.result()
