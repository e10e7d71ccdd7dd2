"""Reading and checking a scenario file, as profiles are read: every problem named at once.

``load_scenario(ref)`` takes a shipped scenario's name (``boottest/scenarios/NAME.toml``)
or a path to a user's own file. The file is bounded (``MAX_BYTES``; nesting it cannot
have is refused, not recursed into) and every value is typed: an unknown table, key or
step, a parameter of the wrong type or not among its choices, a step without its time
limit, a failure class the step does not allow, an input nobody declared, or steps in an
order that cannot run (a menu chosen before any machine booted) is a line naming the
file, the key and what is allowed. One problem is an InputError; several are listed.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from buildiso.boottest.cellfailure import STAGE_NAME
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.steps import INPUT_KINDS, NAME, FlowState, Param, ParamValue, StepCall
from buildiso.boottest.vocabulary import VOCABULARY
from buildiso.errors import InputError, ValidationFailed
from buildiso.render.profilefields import FieldReader

SHIPPED = Path(__file__).with_name("scenarios")
MAX_BYTES = 64 * 1024
MAX_STEPS = 200
MAX_LIMIT_S = 86400.0
TEXT = re.compile(r"[^\x00-\x1f\x7f]{1,400}")
HINT = "buildiso boot-test --list-steps shows every step, its parameters and limits"
_TOP = {"scenario", "cells", "inputs", "steps"}
_STEP_KEYS = {"do", "stage", "limit", "limits", "fails"}


def shipped() -> dict[str, Path]:
    return {p.stem: p for p in sorted(SHIPPED.glob("*.toml"))}


def load_scenario(ref: str) -> Scenario:
    """A shipped scenario by name, or a scenario file by path (``*.toml``)."""
    if ref.endswith(".toml") or "/" in ref:
        return read_scenario(Path(ref))
    found = shipped().get(ref)
    if found is None:
        raise InputError(
            f"--scenario {ref}: no such shipped scenario (shipped: {', '.join(shipped())})",
            hint="give a shipped scenario's name or a scenario file: --scenario FILE.toml",
        )
    return read_scenario(found)


def read_scenario(path: Path) -> Scenario:
    try:
        with path.open("rb") as fh:
            data = fh.read(MAX_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the scenario ({exc.strerror or exc})",
            hint="give a scenario file (TOML) or a shipped scenario's name",
        ) from None
    if len(data) > MAX_BYTES:
        raise InputError(f"{path}: larger than {MAX_BYTES} bytes", hint="a scenario is small")
    try:
        parsed = tomllib.loads(data.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 (byte {exc.start})", hint="save it as UTF-8") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: not valid TOML: {exc}", hint="fix the syntax") from None
    except RecursionError:
        raise InputError(f"{path}: nested too deeply", hint="a scenario is flat") from None
    reader = _Reader(path)
    scenario = reader.scenario(parsed)
    if reader.problems:
        if len(reader.problems) == 1:
            raise InputError(reader.problems[0], hint=HINT)
        raise ValidationFailed(reader.problems, what=f"{path}: invalid scenario")
    assert scenario is not None
    return scenario


class _Reader(FieldReader):
    """A scenario file's reader: the profile's typed-field reader plus scenario values."""

    def matched(self, data: Mapping[str, Any], key: str, name: str, pattern: re.Pattern[str],
                desc: str, *, optional: bool = False) -> str:  # fmt: skip
        value = data.get(name)
        if value is None and optional:
            return ""
        if not isinstance(value, str):
            self.problem(f"{key}.{name}", f"{_what(value)}, expected {desc}")
            return ""
        if pattern.fullmatch(value) is None:
            self.problem(f"{key}.{name}", f"{value[:60]!r} not allowed (allowed: {desc})")
            return ""
        return value

    def cells(self, data: Mapping[str, Any], key: str, name: str, *, optional: bool = False
              ) -> tuple[Cell, ...]:  # fmt: skip
        value = data.get(name)
        if value is None and optional:
            return ()
        if not isinstance(value, list) or not value:
            self.problem(f"{key}.{name}", f"{_what(value)}, expected a list of cell names")
            return ()
        cells = []
        for i, item in enumerate(value):
            cell = Cell.parse(item) if isinstance(item, str) else None
            if cell is None:
                self.problem(f"{key}.{name}[{i}]", f"{_what(item)} is no cell (e.g. bios-dvd, "
                             "uefi-usb, bios-usb-files)")  # fmt: skip
            elif cell in cells:
                self.problem(f"{key}.{name}[{i}]", f"{cell.name} twice")
            else:
                cells.append(cell)
        return tuple(cells)

    def seconds(self, value: object, key: str) -> float | None:
        if isinstance(value, bool) or not isinstance(value, int | float):
            self.problem(key, f"{_what(value)}, expected seconds (a number)")
            return None
        if not 1 <= value <= MAX_LIMIT_S:
            self.problem(key, f"{value:g} s out of range (allowed: 1..{MAX_LIMIT_S:g})")
            return None
        return float(value)

    # -- the file ------------------------------------------------------------------------

    def scenario(self, data: dict[str, Any]) -> Scenario | None:
        for unknown in sorted(set(data) - _TOP):
            self.problem(unknown, f"unknown key (allowed: {', '.join(sorted(_TOP))})")
        head = self.table(data, "scenario", {"name", "proves"})
        name = self.matched(head, "scenario", "name", NAME, "a-z 0-9 - (at most 40)")
        proves = self.matched(head, "scenario", "proves", TEXT, "one line of text")
        c = self.table(data, "cells", {"allowed", "matrix", "note", "expected_s"})
        allowed = self.cells(c, "cells", "allowed")
        matrix = self.cells(c, "cells", "matrix", optional=True)
        for cell in matrix:
            if cell not in allowed:
                self.problem("cells.matrix", f"{cell.name} is not in cells.allowed")
        note = self.matched(c, "cells", "note", TEXT, "one line of text", optional=True)
        expected: dict[str, float] = {}
        raw = c.get("expected_s", {})
        if not isinstance(raw, dict):
            self.problem("cells.expected_s", f"{_what(raw)}, expected a table of cell = seconds")
            raw = {}
        for cell_name, value in raw.items():
            if cell_name not in {x.name for x in allowed}:
                self.problem(f"cells.expected_s.{cell_name}", "not a cell in cells.allowed")
            elif (secs := self.seconds(value, f"cells.expected_s.{cell_name}")) is not None:
                expected[cell_name] = secs
        inputs = self.inputs(data)
        steps = self.steps(data, inputs)
        for call in steps:
            wanted = VOCABULARY[call.kind].firmwares
            for cell in allowed if wanted else ():
                if cell.firmware not in wanted:
                    self.problem("cells.allowed", f"{cell.name}: {call.where} runs on "
                                 f"{', '.join(f.value for f in wanted)} cells only")  # fmt: skip
        if self.problems:
            return None
        return Scenario(name=name, proves=proves, source=str(self.path), cells=allowed,
                        matrix=matrix, note=note, expected_s=expected, inputs=inputs,
                        steps=steps)  # fmt: skip

    def inputs(self, data: dict[str, Any]) -> dict[str, str]:
        raw = data.get("inputs")
        if not isinstance(raw, dict):
            self.problem("inputs", "missing or not a table (expected [inputs] NAME = KIND)")
            return {}
        inputs: dict[str, str] = {}
        for name, kind in raw.items():
            if NAME.fullmatch(name) is None:
                self.problem(f"inputs.{name}", "not a name (a-z 0-9 -)")
            elif not isinstance(kind, str) or kind not in INPUT_KINDS:
                self.problem(f"inputs.{name}",
                             f"{_what(kind)} is no input kind (allowed: {', '.join(INPUT_KINDS)})")
            else:
                inputs[name] = kind
        for kind, (lo, hi) in {"product-iso": (1, 1), "previous-release": (0, 1),
                               "server-dvd": (0, 1), "online-tree": (0, 1)}.items():  # fmt: skip
            count = sum(1 for k in inputs.values() if k == kind)
            if not lo <= count <= hi:
                self.problem("inputs", f"{count} inputs of kind {kind} (allowed: {lo}..{hi}: "
                             "boot-test takes one of each)")  # fmt: skip
        return inputs

    def steps(self, data: dict[str, Any], inputs: Mapping[str, str]) -> tuple[StepCall, ...]:
        raw = data.get("steps")
        if not isinstance(raw, list) or not raw or len(raw) > MAX_STEPS:
            self.problem("steps", f"{_what(raw)}, expected 1..{MAX_STEPS} [[steps]] tables")
            return ()
        calls, state, stages = [], FlowState(), dict[str, str]()
        for index, item in enumerate(raw):
            key = f"steps[{index}]"
            if not isinstance(item, dict):
                self.problem(key, f"{_what(item)}, expected a table")
                continue
            call = self.step(item, key, index + 1, inputs)
            if call is None:
                continue
            for stage in call.limits:
                if stage in stages:
                    self.problem(key, f"stage {stage!r} is timed by {stages[stage]} already")
                stages[stage] = key
            self.flow(call, key, state)
            calls.append(call)
        return tuple(calls)

    def step(self, item: Mapping[str, Any], key: str, index: int, inputs: Mapping[str, str]
             ) -> StepCall | None:  # fmt: skip
        do = item.get("do")
        kind = VOCABULARY.get(do) if isinstance(do, str) else None
        if kind is None:
            self.problem(f"{key}.do", f"{_what(do)} is no step (steps: {', '.join(VOCABULARY)})")
            return None
        where = f"{key} ({kind.name})"
        allowed = _STEP_KEYS | {p.name for p in kind.params}
        for unknown in sorted(set(item) - allowed):
            self.problem(f"{where}.{unknown}",
                         f"unknown key (allowed: {', '.join(sorted(allowed))})")  # fmt: skip
        stage, limits = self.timing(item, where, kind.stage, kind.stages)
        fails = None
        if kind.choosable:
            fails = self.matched(item, where, "fails", re.compile("|".join(kind.choosable)),
                              " | ".join(kind.choosable))  # fmt: skip
        elif "fails" in item:
            self.problem(f"{where}.fails", f"{kind.name} fails with its own classes: "
                         f"{', '.join(kind.classes) or 'only the runner’s'}")  # fmt: skip
        params = {p.name: v for p in kind.params
                  if (v := self.param(item, where, p, inputs)) is not None}  # fmt: skip
        if len(params) < len(kind.params):
            return None  # reported; its order cannot be judged without it
        return StepCall(index=index, kind=kind.name, stage=stage, limits=limits, fails=fails,
                        params=params)  # fmt: skip

    def timing(self, item: Mapping[str, Any], where: str, default: str | None,
               multi: tuple[str, ...]) -> tuple[str | None, dict[str, float]]:  # fmt: skip
        if multi:
            for extra in ("stage", "limit"):
                if extra in item:
                    self.problem(f"{where}.{extra}", f"this step times the stages "
                                 f"{', '.join(multi)}: give limits = {{ STAGE = SECONDS }}")
            raw = item.get("limits")
            if not isinstance(raw, dict):
                self.problem(f"{where}.limits", f"{_what(raw)}, expected a table with a limit "
                             f"for each of {', '.join(multi)}")  # fmt: skip
                return None, {}
            for name in sorted(set(multi) - set(raw)):
                self.problem(f"{where}.limits.{name}", "missing (seconds)")
            for name in sorted(set(raw) - set(multi)):
                self.problem(f"{where}.limits.{name}", f"not a stage of this step "
                             f"(stages: {', '.join(multi)})")  # fmt: skip
            limits = {n: self.seconds(raw[n], f"{where}.limits.{n}") for n in multi if n in raw}
            return None, {n: v for n, v in limits.items() if v is not None}
        for extra in ("limits",) if default is not None else ("stage", "limit", "limits"):
            if extra in item:
                self.problem(f"{where}.{extra}", "this step has no stage of its own"
                             if default is None else "one stage: give stage and limit")
        if default is None:
            return None, {}
        stage = self.matched(item, where, "stage", STAGE_NAME, "a stage name (a-z 0-9 _ . -)",
                          optional=bool(default)) or default  # fmt: skip
        if "limit" not in item:
            self.problem(f"{where}.limit", "missing (the stage's time limit in seconds)")
            return stage, {}
        limit = self.seconds(item["limit"], f"{where}.limit")
        return stage, {stage: limit} if stage and limit is not None else {}

    def param(self, item: Mapping[str, Any], where: str, p: Param, inputs: Mapping[str, str]
              ) -> ParamValue | None:  # fmt: skip
        key = f"{where}.{p.name}"
        value = item.get(p.name, p.default)
        if value is None:
            self.problem(key, f"missing ({p.describe()})")
            return None
        values = value if p.is_list else [value]
        if p.is_list and (not isinstance(value, list | tuple) or not value or len(value) > 50):
            self.problem(key, f"{_what(value)}, expected a list of 1..50 texts")
            return None
        for v in values:
            if not isinstance(v, str) or len(v) > p.max_len:
                self.problem(key, f"{_what(v)}, expected text (at most {p.max_len})")
                return None
            if p.choices and v not in p.choices:
                self.problem(key, f"{v!r} not allowed (allowed: {', '.join(p.choices)})")
            if p.pattern is not None and p.pattern.fullmatch(v) is None:
                self.problem(key, f"{v[:60]!r} not allowed ({p.doc})")
            if p.inputs and inputs.get(v) not in p.inputs and not (v == p.default == ""):
                self.problem(key, f"{v!r} is no input of kind {' or '.join(p.inputs)} "
                             f"(inputs: {', '.join(inputs) or 'none'})")  # fmt: skip
        return tuple(values) if p.is_list else values[0]

    def flow(self, call: StepCall, key: str, state: FlowState) -> None:
        kind = VOCABULARY[call.kind]
        where = f"{key} ({kind.name})"
        if kind.needs_machine and not state.machine:
            self.problem(where, "no machine is running here (boot-media or boot-disk starts one)")
        elif kind.needs_booted and state.booted is None:
            self.problem(where, "needs a machine booted from media (boot-media)")
        for problem in kind.validate(call, state):
            self.problem(where, problem)
        if kind.starts:
            state.machine, state.login = True, False
            state.booted = str(call.params[kind.boots]) if kind.boots else None
        if kind.stops:
            state.machine, state.booted, state.login = False, None, False
        for mark in kind.marks:
            setattr(state, mark, True)


def _what(value: object) -> str:
    if value is None:
        return "missing"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a flag)"
    if isinstance(value, str):
        return repr(value[:60])
    if isinstance(value, int | float):
        return f"the number {value:g}"
    if isinstance(value, dict):
        return "a table"
    return "a list" if isinstance(value, list) else type(value).__name__
