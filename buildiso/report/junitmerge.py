"""One JUnit file from the shards' ``junit.xml``: every case once, missing cells as failures."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

from buildiso.boottest.matrix import write_suite
from buildiso.errors import InputError
from buildiso.report.results import JUNIT, Results

SUITE = "buildiso.boot-test"


def _cell_of(classname: str, names: list[str]) -> str | None:
    # "boot-test.<cell>" or "boot-test.<cell>.<part>"; the longest name wins (bios-dvd-lvm
    # over bios-dvd).
    rest = classname.removeprefix("boot-test.")
    found = [n for n in names if rest == n or rest.startswith(n + ".")]
    return max(found, key=len) if found else None


def _seconds(text: str | None) -> float:
    try:
        return float(text or 0)
    except ValueError:
        return 0.0


def merge_junit(results: Results, path: Path) -> None:
    """Write the merged JUnit XML at ``path`` (atomically)."""
    names = [c.name for c in results.cells]
    by_cell: dict[str, list[ET.Element]] = {n: [] for n in names}
    others: list[ET.Element] = []
    for shard in results.shards:
        source = shard.folder / JUNIT
        if not source.is_file():
            continue  # a shard that wrote no JUnit: its cells still come from summary.json
        try:
            root = ET.parse(source).getroot()
        except ET.ParseError as exc:
            raise InputError(
                f"{source}: not JUnit XML ({exc})", hint="give the shard folders unmodified"
            ) from None
        for case in root.iter("testcase"):
            cell = _cell_of(case.get("classname", ""), names)
            (by_cell[cell] if cell else others).append(case)
    suite = ET.Element("testsuite", name=SUITE)
    for record in results.cells:
        if record.status == "missing":
            case = ET.SubElement(
                suite,
                "testcase",
                classname=f"boot-test.{record.name}",
                name="install-and-first-boot",
                time="0",
            )
            ET.SubElement(case, "failure", message=record.message, type="not-run").text = (
                f"{record.name}: {record.message}"
            )
        suite.extend(by_cell[record.name])
    suite.extend(others)
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    suite.set("failures", str(sum(1 for c in cases if c.find("failure") is not None)))
    suite.set("errors", str(sum(1 for c in cases if c.find("error") is not None)))
    suite.set("skipped", str(sum(1 for c in cases if c.find("skipped") is not None)))
    suite.set("time", f"{sum(_seconds(c.get('time')) for c in cases):.2f}")
    write_suite(suite, path)
