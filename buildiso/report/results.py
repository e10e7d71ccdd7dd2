"""Reading boot-test results: one folder per shard, as ``buildiso boot-test`` writes it.

A shard folder holds ``summary.json`` (the run: the ISOs tested, accel, shard, the matrix's
cell names and each cell's result), ``junit.xml`` and one folder per cell (serial logs,
screenshots, ``filmstrip/``). Every file is read through the types that wrote it
(``boottest/results.py``: bounded and typed), so a damaged or hostile shard is one line
naming the file and key; it is shown as a broken shard and the report goes on with the
others. A cell of the matrix that no shard ran is reported as missing, never dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.artifacts import SUMMARY
from buildiso.boottest.filmstrip import FOLDER, INDEX
from buildiso.boottest.results import (
    CellResult,
    Check,
    Frame,
    IsoUnderTest,
    StageTiming,
    Summary,
    read_frames,
)
from buildiso.errors import InputError

_HINT = "give the --artifacts folders of `buildiso boot-test` runs (each has summary.json)"
NOT_RUN = "no shard's results have this cell (a shard job failed or was not given)"


@dataclass(frozen=True)
class CellRecord:
    """A cell of the report: its result (None when no shard ran it) and its files."""

    name: str
    shard: str  # "1/2", or "-" for an unsharded run, or "" when missing
    status: str  # passed, failed, missing
    result: CellResult | None
    folder: Path | None  # the cell's artifacts folder (None when missing)
    frames: tuple[Frame, ...] = ()
    frames_problem: str | None = None  # why the filmstrip's index could not be read

    @property
    def failure_class(self) -> str | None:
        return self.result.failure_class if self.result else "not-run"

    @property
    def message(self) -> str:
        return self.result.message if self.result else NOT_RUN

    @property
    def seconds(self) -> float:
        return self.result.seconds if self.result else 0.0

    @property
    def accel(self) -> str:
        return self.result.accel if self.result else ""

    @property
    def stages(self) -> tuple[StageTiming, ...]:
        return self.result.stages if self.result else ()

    @property
    def checks(self) -> tuple[Check, ...]:
        return self.result.checks if self.result else ()


@dataclass(frozen=True)
class ShardRun:
    folder: Path
    summary: Summary | None  # None: the shard could not be read
    problem: str | None = None  # why not

    @property
    def shard(self) -> str:
        if self.summary is None:
            return "?"
        return self.summary.shard or "-"

    @property
    def cell_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.summary.cells) if self.summary else ()

    @property
    def isos(self) -> tuple[IsoUnderTest, ...]:
        return self.summary.isos if self.summary else ()


@dataclass(frozen=True)
class Results:
    shards: list[ShardRun]
    cells: list[CellRecord]  # matrix order; missing cells included

    @property
    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "missing": 0}
        for cell in self.cells:
            out[cell.status] += 1
        return out

    @property
    def broken(self) -> list[ShardRun]:
        return [s for s in self.shards if s.summary is None]

    def isos_differ(self) -> bool:
        """Whether the shards tested different bytes (a report should never mix them)."""
        shas = {(i.role, i.sha256) for s in self.shards for i in s.isos}
        return len(shas) != len({role for role, _ in shas})


def _read_shard(given: Path) -> tuple[Path, Summary]:
    folder = given if given.is_dir() else given.parent
    path = given / SUMMARY if given.is_dir() else given
    if given.is_dir() and not path.exists():
        raise InputError(f"{given}: no {SUMMARY} here", hint=_HINT)
    return folder, Summary.load(path)


def load_results(folders: list[Path]) -> Results:
    """All shards' cells, in matrix order; InputError when a cell ran in two shards or
    when no shard at all could be read."""
    shards: list[ShardRun] = []
    cells: dict[str, CellRecord] = {}
    where: dict[str, Path] = {}
    order: list[str] = []
    first_problem: InputError | None = None
    for given in folders:
        try:
            folder, summary = _read_shard(given)
        except InputError as exc:
            first_problem = first_problem or exc
            shards.append(ShardRun(folder=given, summary=None, problem=exc.message))
            continue
        shard = summary.shard or "-"
        for result in summary.cells:
            if result.name in cells:
                raise InputError(
                    f"cell {result.name} is in two results: {where[result.name]} and {folder}",
                    hint="give each shard's folder once; shards of one run never share a cell",
                )
            cell_dir = folder / result.name
            frames, problem = read_frames(cell_dir / FOLDER / INDEX)
            cells[result.name] = CellRecord(
                name=result.name, shard=shard, status="passed" if result.passed else "failed",
                result=result, folder=cell_dir if cell_dir.is_dir() else None, frames=frames,
                frames_problem=problem,
            )  # fmt: skip
            where[result.name] = folder
        for name in [*summary.matrix_cells, *(c.name for c in summary.cells)]:
            if name not in order:
                order.append(name)
        shards.append(ShardRun(folder=folder, summary=summary))
    if first_problem is not None and all(s.summary is None for s in shards):
        raise first_problem  # nothing to report
    records = [
        cells.get(name)
        or CellRecord(name=name, shard="", status="missing", result=None, folder=None)
        for name in order
    ]
    return Results(shards=shards, cells=records)
