"""One JUnit file for the whole matrix: every shard's cells once, missing cells as failures.

Made from the typed results (``boottest/junit.py``, the same code that writes a shard's
own junit.xml), so the merged file has exactly the shards' cases plus a ``not-run``
failure per cell of the matrix that no shard reported.
"""

from __future__ import annotations

from pathlib import Path

from buildiso.boottest.junit import NotRun, write_junit
from buildiso.boottest.results import CellResult
from buildiso.report.results import Results


def merge_junit(results: Results, path: Path) -> None:
    """Write the merged JUnit XML at ``path`` (atomically)."""
    cells: list[CellResult | NotRun] = [
        record.result if record.result is not None else NotRun(record.name, record.message)
        for record in results.cells
    ]
    write_junit(cells, path)
