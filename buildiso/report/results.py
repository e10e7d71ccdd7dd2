"""Reading boot-test results: one folder per shard, as ``buildiso boot-test`` writes it.

A shard folder holds ``summary.json`` (the run: accel, shard, the matrix's cell names and
each cell's result), ``junit.xml`` and one folder per cell (``result.json``, serial logs,
screenshots, ``filmstrip/``). Everything is keyed on the cell's name, whatever kind of cell
it is. A cell of the matrix that no shard ran is reported as missing, never dropped.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildiso.boottest.filmstrip import read_index
from buildiso.errors import InputError

SUMMARY = "summary.json"
JUNIT = "junit.xml"
# A cell's name becomes a folder name here and in the report: nothing that climbs out.
SAFE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
_HINT = "give the --artifacts folders of `buildiso boot-test` runs (each has summary.json)"


@dataclass(frozen=True)
class CellRecord:
    name: str
    shard: str  # "1/2", or "-" for an unsharded run, or "" when missing
    status: str  # passed, failed, missing
    failure_class: str | None
    message: str
    stages: dict[str, dict[str, Any]]
    seconds: float
    accel: str
    folder: Path | None  # the cell's artifacts folder (None when missing)
    frames: list[dict[str, Any]] = field(default_factory=list)
    checks: list[dict[str, Any]] = field(default_factory=list)


@dataclass(frozen=True)
class ShardRun:
    folder: Path
    shard: str
    accel: str
    accel_reason: str
    wall_seconds: float
    iso: str
    cell_names: list[str]


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


def _load_summary(folder: Path) -> dict[str, Any]:
    path = folder / SUMMARY if folder.is_dir() else folder
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{folder}: no {SUMMARY} here", hint=_HINT) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", hint=_HINT) from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not JSON ({exc})", hint=_HINT) from None
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise InputError(f"{path}: not a boot-test summary (no cells list)", hint=_HINT)
    return data


def _text(value: object, default: str = "") -> str:
    return value if isinstance(value, str) else default


def _number(value: object) -> float:
    return float(value) if isinstance(value, int | float) else 0.0


def load_results(folders: list[Path]) -> Results:
    """All shards' cells, in matrix order; InputError when a cell ran in two shards."""
    shards: list[ShardRun] = []
    cells: dict[str, CellRecord] = {}
    where: dict[str, Path] = {}
    order: list[str] = []
    for given in folders:
        data = _load_summary(given)
        folder = given if given.is_dir() else given.parent
        shard = _text(data.get("shard"), "-") or "-"
        names = [
            n
            for n in data.get("matrix_cells") or []
            if isinstance(n, str) and SAFE_NAME.fullmatch(n) and ".." not in n
        ]
        ran: list[str] = []
        for entry in data["cells"]:
            if not isinstance(entry, dict) or not isinstance(entry.get("cell"), str):
                raise InputError(f"{folder / SUMMARY}: a cell entry has no name", hint=_HINT)
            name = entry["cell"]
            if not SAFE_NAME.fullmatch(name) or ".." in name:
                raise InputError(f"{folder / SUMMARY}: bad cell name {name!r}", hint=_HINT)
            if name in cells:
                raise InputError(
                    f"cell {name} is in two results: {where[name]} and {folder}",
                    hint="give each shard's folder once; shards of one run never share a cell",
                )
            cell_dir = folder / name
            cells[name] = CellRecord(
                name=name,
                shard=shard,
                status="passed" if entry.get("passed") is True else "failed",
                failure_class=entry.get("failure_class")
                if isinstance(entry.get("failure_class"), str)
                else None,
                message=_text(entry.get("message")),
                stages={
                    k: v for k, v in (entry.get("stages") or {}).items() if isinstance(v, dict)
                },
                seconds=_number(entry.get("seconds")),
                accel=_text(entry.get("accel")),
                folder=cell_dir if cell_dir.is_dir() else None,
                frames=read_index(cell_dir),
                checks=[c for c in entry.get("checks") or [] if isinstance(c, dict)],
            )
            where[name] = folder
            ran.append(name)
        for name in [*names, *ran]:
            if name not in order:
                order.append(name)
        shards.append(
            ShardRun(
                folder=folder,
                shard=shard,
                accel=_text(data.get("accel")),
                accel_reason=_text(data.get("accel_reason")),
                wall_seconds=_number(data.get("wall_seconds")),
                iso=_text(data.get("iso")),
                cell_names=ran,
            )
        )
    records = [
        cells.get(name)
        or CellRecord(
            name=name,
            shard="",
            status="missing",
            failure_class="not-run",
            message="no shard's results have this cell (a shard job failed or was not given)",
            stages={},
            seconds=0.0,
            accel="",
            folder=None,
        )
        for name in order
    ]
    return Results(shards=shards, cells=records)
