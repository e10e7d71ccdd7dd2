"""JUnit XML from typed results: a test case per cell and per check of each cell.

The names CI shows are spelled here once: the suite, each cell's case
(``boot-test.<cell>`` / ``install-and-first-boot``) and its checks'
(``boot-test.<cell>.post-install`` / the check's name). ``buildiso boot-test`` writes a
shard's file with it, ``buildiso report`` the merged one (adding cells no shard ran).
A check the scenario runs (``CellResult.expected_checks``) that a cell never reached is
a skipped case, so every cell has the same cases whatever happened to it.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.artifacts import write_bytes
from buildiso.boottest.results import CellResult

SUITE = "buildiso.boot-test"
CELL_CASE = "install-and-first-boot"
CHECKS_PART = "post-install"
NOT_RUN = "not-run"


def classname(cell: str, part: str | None = None) -> str:
    return f"boot-test.{cell}" + (f".{part}" if part else "")


@dataclass(frozen=True)
class NotRun:
    """A cell of the matrix that no shard reported (``buildiso report``)."""

    name: str
    message: str


def suite(cells: Sequence[CellResult | NotRun]) -> ET.Element:
    """One ``<testsuite>``: the cases of ``cells``, in order."""
    root = ET.Element("testsuite", name=SUITE)
    for cell in cells:
        if isinstance(cell, CellResult):
            _cell_cases(root, cell)
            continue
        case = ET.SubElement(root, "testcase", classname=classname(cell.name), name=CELL_CASE,
                             time="0")  # fmt: skip
        ET.SubElement(case, "failure", message=cell.message, type=NOT_RUN).text = (
            f"{cell.name}: {cell.message}"
        )
    cases = root.findall("testcase")
    root.set("tests", str(len(cases)))
    root.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    root.set("errors", "0")
    root.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    seconds = sum(c.seconds for c in cells if isinstance(c, CellResult))
    root.set("time", f"{seconds:.2f}")
    return root


def _cell_cases(root: ET.Element, r: CellResult) -> None:
    case = ET.SubElement(root, "testcase", classname=classname(r.name), name=CELL_CASE,
                         time=f"{r.seconds:.2f}")  # fmt: skip
    arts = f"artifacts: {r.artifacts}"
    if not r.passed:
        summary = f"{r.failure_class}: {r.message}"
        failure = ET.SubElement(case, "failure", message=summary, type=str(r.failure_class))
        failure.text = "\n".join([summary, arts, *r.console_tail])
    ET.SubElement(case, "system-out").text = "\n".join(
        [arts, f"scenario: {r.scenario}", f"accel: {r.accel}", f"attempts: {r.attempts}"]
        + [f"stage {s.name}: {s.seconds} s ({s.status.value})" for s in r.stages]
    )
    by_name = {c.name: c for c in r.checks}
    names = list(dict.fromkeys([*r.expected_checks, *by_name]))
    for name in names:
        check_case = ET.SubElement(root, "testcase", classname=classname(r.name, CHECKS_PART),
                                   name=name, time="0")  # fmt: skip
        check = by_name.get(name)
        if check is None:
            why = f"not reached ({r.failure_class})" if not r.passed else "not run"
            ET.SubElement(check_case, "skipped", message=why)
        elif check.ok:
            ET.SubElement(check_case, "system-out").text = check.message
        else:
            ET.SubElement(check_case, "failure", message=check.message,
                          type="post-install-check").text = f"{check.message}\n{arts}"  # fmt: skip


def write_junit(cells: Sequence[CellResult | NotRun], path: Path) -> None:
    """The JUnit file at ``path`` (written whole or not at all)."""
    wrapper = ET.Element("testsuites")
    wrapper.append(suite(cells))
    tree = ET.ElementTree(wrapper)
    ET.indent(tree)
    body = ET.tostring(wrapper, encoding="utf-8", xml_declaration=True)
    write_bytes(path, body + b"\n")
