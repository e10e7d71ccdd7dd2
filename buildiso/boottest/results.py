"""A boot test's results as typed values, written and read by the same types.

``CellResult`` (one cell: verdict, failure class, stage timings, checks), ``Summary`` (one
run or shard: the ISOs tested, accelerator, the matrix, every cell) and ``Frame`` (one
filmstrip frame) each have ``to_json`` and ``from_json`` side by side. ``buildiso
boot-test`` writes them (result.json, timings.json, summary.json), JUnit is made from them
(``boottest/junit.py``) and ``buildiso report`` reads them back through ``from_json``:
bounded and typed (``buildiso.boundedjson``), so a hand-edited or hostile summary is one
line naming the file and key, never a traceback or a check shown as passed because its
``ok`` was the string "false".

``SCHEMA`` is written into summary.json and result.json; a reader refuses any other.
"""

from __future__ import annotations

import enum
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from buildiso.boottest import cellfailure
from buildiso.boundedjson import Fields, load_json, parse_json
from buildiso.errors import InputError

SCHEMA = 1
HINT = "give the --artifacts folders of `buildiso boot-test` runs, unmodified"
MAX_SUMMARY_BYTES = 16 * 2**20
MAX_INDEX_BYTES = 4 * 2**20
MAX_CELLS = 1000
MAX_STAGES = 200
MAX_CHECKS = 1000
MAX_FRAMES = 20000
MAX_SECONDS = 30 * 86400.0
MAX_MESSAGE = 64 * 1024
# A cell's name becomes a folder name here and in the report: nothing that climbs out.
CELL_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.+-]{0,99}")
STAGE_NAME = cellfailure.STAGE_NAME
CHECK_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9 _./+-]{0,99}")
FRAME_FILE = re.compile(r"[0-9]{4}-[A-Za-z0-9_.-]{1,40}\.png")
# the full-size frame beside it (filmstrip.FULL); absent in results from before full frames
FULL_FRAME_FILE = re.compile(r"full/[0-9]{4}-[A-Za-z0-9_.-]{1,40}\.png")
SHA256 = re.compile(r"[0-9a-f]{64}")
DISK_KEY = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\.[a-z0-9-]{1,40}\.[0-9a-f]{64}")
MADE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
DISK_ACTIONS = ("started-from", "published")


class StageStatus(enum.StrEnum):
    RUNNING = "running"
    OK = "ok"
    FAILED = "failed"
    TIMEOUT = "timeout"


@dataclass(frozen=True)
class StageTiming:
    """One stage of a cell: host seconds (None while it runs), status, guest seconds."""

    name: str
    status: StageStatus
    seconds: float | None
    guest_seconds: float | None = None

    @property
    def bad(self) -> bool:
        return self.status in (StageStatus.FAILED, StageStatus.TIMEOUT)

    def to_json(self) -> dict[str, Any]:
        return {"seconds": self.seconds, "status": self.status.value,
                "guest_seconds": self.guest_seconds}  # fmt: skip

    @classmethod
    def from_json(cls, name: str, data: object, key: str, f: Fields) -> StageTiming:
        table = f.table(data, key)
        status = f.text(table, key, "status", max_len=20)
        if status not in set(StageStatus):
            raise f.fail(f"{key}.status", f"{status!r} is not one of {', '.join(StageStatus)}")
        return cls(
            name=name,
            status=StageStatus(status),
            seconds=f.maybe_number(table, key, "seconds", lo=0, hi=MAX_SECONDS),
            guest_seconds=f.maybe_number(table, key, "guest_seconds", lo=-MAX_SECONDS,
                                         hi=MAX_SECONDS),  # fmt: skip
        )


def stages_to_json(stages: tuple[StageTiming, ...]) -> dict[str, Any]:
    return {s.name: s.to_json() for s in stages}


def stages_from_json(data: object, key: str, f: Fields) -> tuple[StageTiming, ...]:
    table = f.table(data, key)
    if len(table) > MAX_STAGES:
        raise f.fail(key, f"{len(table)} stages (at most {MAX_STAGES})")
    for name in table:
        if STAGE_NAME.fullmatch(name) is None:
            raise f.fail(key, f"{name[:60]!r} is not a stage name")
    return tuple(StageTiming.from_json(n, v, f"{key}.{n}", f) for n, v in table.items())


@dataclass(frozen=True)
class Check:
    """One named check of the installed system, passed or not."""

    name: str
    ok: bool
    message: str

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "ok": self.ok, "message": self.message}

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> Check:
        table = f.table(data, key)
        return cls(
            name=f.text(table, key, "name", pattern=CHECK_NAME),
            ok=f.flag(table, key, "ok"),
            message=f.text(table, key, "message", max_len=MAX_MESSAGE),
        )


@dataclass(frozen=True)
class Screen:
    """A screenshot a cell took: where, its size, how many colours (1: a blank screen)."""

    path: str
    width: int
    height: int
    colours: int

    def to_json(self) -> dict[str, Any]:
        return {"path": self.path, "width": self.width, "height": self.height,
                "colours": self.colours}  # fmt: skip

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> Screen:
        table = f.table(data, key)
        return cls(
            path=f.text(table, key, "path"),
            width=f.integer(table, key, "width", lo=0, hi=100000),
            height=f.integer(table, key, "height", lo=0, hi=100000),
            colours=f.integer(table, key, "colours", lo=0, hi=2**24),
        )


@dataclass(frozen=True)
class IsoUnderTest:
    """An ISO a run tested (``role``: its input name, e.g. iso, old) and what it claims to be."""

    role: str
    path: str
    sha256: str
    size: int
    product: str
    version: str
    build: int

    @property
    def identity(self) -> str:
        return f"{self.product} {self.version} build {self.build}"

    def to_json(self) -> dict[str, Any]:
        return {"role": self.role, "path": self.path, "sha256": self.sha256, "size": self.size,
                "product": self.product, "version": self.version, "build": self.build}  # fmt: skip

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> IsoUnderTest:
        table = f.table(data, key)
        return cls(
            role=f.text(table, key, "role", pattern=CELL_NAME),
            path=f.text(table, key, "path"),
            sha256=f.text(table, key, "sha256", pattern=SHA256),
            size=f.integer(table, key, "size", lo=0, hi=2**50),
            product=f.text(table, key, "product", max_len=100),
            version=f.text(table, key, "version", max_len=40),
            build=f.integer(table, key, "build", lo=0, hi=10**9),
        )


@dataclass(frozen=True)
class DiskUse:
    """The published disk a cell started from (its making steps skipped) or published
    (``boottest/disksteps.py``): its key and when it was made."""

    key: str
    made: str
    action: str  # started-from | published

    def to_json(self) -> dict[str, Any]:
        return {"key": self.key, "made": self.made, "action": self.action}

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> DiskUse:
        table = f.table(data, key)
        action = f.text(table, key, "action", max_len=20)
        if action not in DISK_ACTIONS:
            raise f.fail(f"{key}.action", f"{action!r} is not one of {', '.join(DISK_ACTIONS)}")
        return cls(key=f.text(table, key, "key", pattern=DISK_KEY),
                   made=f.text(table, key, "made", pattern=MADE), action=action)  # fmt: skip


@dataclass(frozen=True)
class CellResult:
    """One cell of a scenario. ``name`` is the cell's folder and key in a report: the cell
    (``bios-dvd``) for the fresh install, ``bios-dvd-<scenario>`` for the others."""

    name: str
    cell: str
    scenario: str
    passed: bool
    failure_class: str | None
    message: str
    accel: str
    seconds: float
    artifacts: str
    stages: tuple[StageTiming, ...] = ()
    checks: tuple[Check, ...] = ()
    expected_checks: tuple[str, ...] = ()  # every check the scenario runs (JUnit: skipped)
    attempts: int = 1
    menu_screenshot: Screen | None = None
    console_tail: tuple[str, ...] = field(default_factory=tuple)
    disk: DiskUse | None = None  # a published disk it started from or published

    def stage(self, name: str) -> StageTiming | None:
        """The stage called ``name`` (the last one: a stage seen twice is timed twice)."""
        found = [s for s in self.stages if s.name == name]
        return found[-1] if found else None

    @property
    def stage_map(self) -> Mapping[str, StageTiming]:
        return {s.name: s for s in self.stages}

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "cell": self.name,
            "machine": self.cell,
            "scenario": self.scenario,
            "passed": self.passed,
            "failure_class": self.failure_class,
            "message": self.message,
            "accel": self.accel,
            "seconds": round(self.seconds, 2),
            "attempts": self.attempts,
            "stages": stages_to_json(self.stages),
            "checks": [c.to_json() for c in self.checks],
            "expected_checks": list(self.expected_checks),
            "menu_screenshot": self.menu_screenshot.to_json() if self.menu_screenshot else None,
            "console_tail": list(self.console_tail),
            "artifacts": self.artifacts,
            "disk": self.disk.to_json() if self.disk else None,
        }

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> CellResult:
        table = f.table(data, key)
        _schema(table, key, f)
        klass = f.maybe_text(table, key, "failure_class", max_len=80)
        if klass is not None and not cellfailure.is_known(klass):
            raise f.fail(f"{key}.failure_class", f"{klass!r} is not a failure class")
        passed = f.flag(table, key, "passed")
        if passed == (klass is not None):
            raise f.fail(key, "passed and failure_class disagree")
        shot = table.get("menu_screenshot")
        disk = table.get("disk")  # absent in results from before published disks
        return cls(
            name=f.text(table, key, "cell", pattern=CELL_NAME),
            cell=f.text(table, key, "machine", pattern=CELL_NAME),
            scenario=f.text(table, key, "scenario", pattern=CELL_NAME),
            passed=passed,
            failure_class=klass,
            message=f.text(table, key, "message", max_len=MAX_MESSAGE),
            accel=f.text(table, key, "accel", max_len=20),
            seconds=f.number(table, key, "seconds", lo=0, hi=MAX_SECONDS),
            artifacts=f.text(table, key, "artifacts"),
            stages=stages_from_json(f.get(table, key, "stages"), f"{key}.stages", f),
            checks=f.each(table, key, "checks", lambda v, k: Check.from_json(v, k, f),
                          max_items=MAX_CHECKS),  # fmt: skip
            expected_checks=f.each(
                table, key, "expected_checks",
                lambda v, k: f.text_value(v, k, pattern=CHECK_NAME), max_items=MAX_CHECKS,
            ),  # fmt: skip
            attempts=f.integer(table, key, "attempts", lo=1, hi=100),
            menu_screenshot=None
            if shot is None
            else Screen.from_json(shot, f"{key}.menu_screenshot", f),
            console_tail=f.each(table, key, "console_tail",
                                lambda v, k: f.text_value(v, k, max_len=2000), max_items=50),
            disk=None if disk is None else DiskUse.from_json(disk, f"{key}.disk", f),
        )  # fmt: skip


def _schema(table: Mapping[str, object], key: str, f: Fields) -> None:
    schema = f.integer(table, key, "schema", lo=0, hi=10**6)
    if schema != SCHEMA:
        raise f.fail(f"{key}.schema".lstrip("."), f"schema {schema}, this buildiso reads {SCHEMA}")


@dataclass(frozen=True)
class Summary:
    """One ``buildiso boot-test`` run (or shard): summary.json."""

    scenario: str
    isos: tuple[IsoUnderTest, ...]
    accel: str
    accel_reason: str
    jobs: int
    wall_seconds: float
    shard: str | None
    matrix_cells: tuple[str, ...]
    cells: tuple[CellResult, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "schema": SCHEMA,
            "scenario": self.scenario,
            "isos": [i.to_json() for i in self.isos],
            "accel": self.accel,
            "accel_reason": self.accel_reason,
            "jobs": self.jobs,
            "wall_seconds": round(self.wall_seconds, 1),
            "shard": self.shard,
            "matrix_cells": list(self.matrix_cells),
            "cells": [c.to_json() for c in self.cells],
        }

    @classmethod
    def from_json(cls, data: object, f: Fields) -> Summary:
        table = f.table(data, "(top)")
        _schema(table, "", f)
        return cls(
            scenario=f.text(table, "", "scenario", pattern=CELL_NAME),
            isos=f.each(table, "", "isos", lambda v, k: IsoUnderTest.from_json(v, k, f),
                        max_items=16),  # fmt: skip
            accel=f.text(table, "", "accel", max_len=20),
            accel_reason=f.text(table, "", "accel_reason", max_len=1000),
            jobs=f.integer(table, "", "jobs", lo=1, hi=1000),
            wall_seconds=f.number(table, "", "wall_seconds", lo=0, hi=MAX_SECONDS),
            shard=f.maybe_text(table, "", "shard", max_len=20),
            matrix_cells=f.each(table, "", "matrix_cells",
                                lambda v, k: f.text_value(v, k, pattern=CELL_NAME),
                                max_items=MAX_CELLS),  # fmt: skip
            cells=f.each(table, "", "cells", lambda v, k: CellResult.from_json(v, k, f),
                         max_items=MAX_CELLS),  # fmt: skip
        )

    @classmethod
    def load(cls, path: Path) -> Summary:
        """summary.json at ``path`` (a file the user named: a link is followed); InputError
        (one line, file and key) if it is not one."""
        data = load_json(path, max_bytes=MAX_SUMMARY_BYTES, hint=HINT)
        return cls.from_json(data, Fields(str(path), hint=HINT))

    @classmethod
    def parse(cls, data: bytes, *, source: str) -> Summary:
        """summary.json's bytes (read by the caller, at most ``MAX_SUMMARY_BYTES``)."""
        return cls.from_json(parse_json(data, source=source, hint=HINT), Fields(source, hint=HINT))


@dataclass(frozen=True)
class Frame:
    """One filmstrip frame (``boottest/filmstrip.py`` writes ``filmstrip/index.json``)."""

    file: str
    stage: str
    t: float
    reason: str
    width: int
    height: int
    full: str = ""  # "full/NAME": the frame at full size ("": none recorded)

    @classmethod
    def from_json(cls, data: object, key: str, f: Fields) -> Frame:
        table = f.table(data, key)
        return cls(
            file=f.text(table, key, "file", pattern=FRAME_FILE),
            stage=f.text(table, key, "stage", max_len=80),
            t=f.number(table, key, "t", lo=0, hi=MAX_SECONDS),
            reason=f.text(table, key, "reason", max_len=40),
            width=f.integer(table, key, "width", lo=0, hi=100000),
            height=f.integer(table, key, "height", lo=0, hi=100000),
            full=f.text(table, key, "full", pattern=FULL_FRAME_FILE, optional=True),
        )


def read_frames(index: Path) -> tuple[tuple[Frame, ...], str | None]:
    """The frames listed in a filmstrip's ``index.json`` and, if it is unreadable, why
    (then no frames). A cell without a filmstrip has no index: no frames, no problem."""
    if not index.exists():
        return (), None
    try:
        data = load_json(index, max_bytes=MAX_INDEX_BYTES, hint=HINT)
    except InputError as exc:
        return (), exc.message
    return frames_from(data, source=str(index))


def parse_frames(data: bytes, *, source: str) -> tuple[tuple[Frame, ...], str | None]:
    """``read_frames`` of an index's bytes (read by the caller, at most ``MAX_INDEX_BYTES``)."""
    try:
        parsed = parse_json(data, source=source, hint=HINT)
    except InputError as exc:
        return (), exc.message
    return frames_from(parsed, source=source)


def frames_from(data: object, *, source: str) -> tuple[tuple[Frame, ...], str | None]:
    try:
        f = Fields(source, hint=HINT)
        table = f.table(data, "(top)")
        frames = f.each(table, "", "frames", lambda v, k: Frame.from_json(v, k, f),
                        max_items=MAX_FRAMES)  # fmt: skip
    except InputError as exc:
        return (), exc.message
    return frames, None
