"""Reading boot-test results: one folder per shard, as ``buildiso boot-test`` writes it.

A shard folder holds ``summary.json`` (the run: the ISOs tested, accel, shard, the matrix's
cell names and each cell's result), ``junit.xml`` and one folder per cell (serial logs,
screenshots, ``filmstrip/``). Every file is read through the types that wrote it
(``boottest/results.py``: bounded and typed), so a damaged or hostile shard is one line
naming the file and key; it is shown as a broken shard and the report goes on with the
others. A cell of the matrix that no shard ran is reported as missing, never dropped.

Nothing below a shard folder is read through a link (``report/cellfiles.py``): a linked
summary.json makes its shard unreadable, a linked cell folder or filmstrip index is a
broken artifact of its cell (``CellRecord.problems``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.artifacts import SUMMARY
from buildiso.boottest.filmstrip import FOLDER, INDEX
from buildiso.boottest.results import (
    MAX_INDEX_BYTES,
    MAX_SUMMARY_BYTES,
    CellResult,
    Check,
    Frame,
    IsoUnderTest,
    StageTiming,
    Summary,
    parse_frames,
)
from buildiso.errors import InputError
from buildiso.report.cellfiles import LINK, Refused, ResultsFolder

_HINT = "give the --artifacts folders of `buildiso boot-test` runs (each has summary.json)"
NOT_RUN = "no shard's results have this cell (a shard job failed or was not given)"


@dataclass(frozen=True)
class CellRecord:
    """A cell of the report: its result (None when no shard ran it) and its files."""

    name: str
    shard: str  # "1/2", or "-" for an unsharded run, or "" when missing
    status: str  # passed, failed, missing
    result: CellResult | None
    files: ResultsFolder | None  # the cell's artifacts folder (None: missing, or refused)
    frames: tuple[Frame, ...] = ()
    frames_problem: str | None = None  # why the filmstrip's index could not be parsed
    problems: tuple[str, ...] = ()  # broken artifacts: links, oversized or odd files

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
    if not given.is_dir():  # summary.json itself, named by the user
        return given.parent, Summary.load(given)
    try:
        data = ResultsFolder(given).read(SUMMARY, max_bytes=MAX_SUMMARY_BYTES)
    except FileNotFoundError:
        raise InputError(f"{given}: no {SUMMARY} here", hint=_HINT) from None
    except Refused as exc:
        raise InputError(f"{given}: {exc}", hint=_HINT) from None
    except OSError as exc:
        raise InputError(f"{given / SUMMARY}: cannot read ({exc.strerror})", hint=_HINT) from None
    return given, Summary.parse(data, source=str(given / SUMMARY))


def _cell_files(
    shard: Path, name: str
) -> tuple[ResultsFolder | None, tuple[Frame, ...], str | None, tuple[str, ...]]:
    """A cell's folder in ``shard`` (never through a link), its filmstrip's frames, why
    they could not be parsed, and its broken artifacts so far."""
    kind = ResultsFolder(shard).kind(name)
    if kind == "link":
        return None, (), None, (f"{name}: {LINK}",)
    if kind != "dir":
        return None, (), None, (() if kind == "missing" else (f"{name}: not a folder",))
    files = ResultsFolder(shard, (name,))
    try:
        data = files.read(FOLDER, INDEX, max_bytes=MAX_INDEX_BYTES)
    except FileNotFoundError:
        return files, (), None, ()  # no filmstrip: no frames, no problem
    except Refused as exc:
        return files, (), None, (str(exc),)
    except OSError as exc:
        return files, (), f"{files.shown((FOLDER, INDEX))}: {exc.strerror}", ()
    frames, problem = parse_frames(data, source=str(shard / name / FOLDER / INDEX))
    return files, frames, problem, ()


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
            files, frames, problem, broken = _cell_files(folder, result.name)
            cells[result.name] = CellRecord(
                name=result.name, shard=shard, status="passed" if result.passed else "failed",
                result=result, files=files, frames=frames, frames_problem=problem,
                problems=broken,
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
        or CellRecord(name=name, shard="", status="missing", result=None, files=None)
        for name in order
    ]
    return Results(shards=shards, cells=records)
