"""buildiso.report.results against hostile shards (issue #22, N2): JSON that parses but has
wrong types, huge numbers, deep nesting, lone surrogates or bytes that are not UTF-8. Each
is one line naming the file and the key; a broken shard is shown as broken and the report
goes on with the others; alone, it is exit 2 without a traceback."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from bootfakes import good_report, install_script, quick, run_shard

from buildiso.boottest.shard import Shard
from buildiso.cli import main
from buildiso.errors import InputError
from buildiso.render.profile import Profile
from buildiso.report.command import report_command
from buildiso.report.results import load_results

Edit = Callable[[dict[str, Any]], None]


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> list[Path]:
    """Two shards of a two-cell matrix, each with one passed cell."""
    tmp = tmp_path_factory.mktemp("shards")
    script = quick(install_script(report=good_report(profile)))
    folders = []
    for k in (1, 2):
        folder = tmp / f"shard{k}"
        assert run_shard(tmp, artifacts=folder, scripts={"bios-dvd": script, "uefi-dvd": script},
                         shard=Shard(k, 2), cell_names=("bios-dvd", "uefi-dvd")) is None
        folders.append(folder)
    return folders


def _set(path: str, value: object) -> Edit:
    def edit(data: dict[str, Any]) -> None:
        *parents, last = path.split(".")
        target: Any = data
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[last] = value

    return edit


def _raw(replace: str, by: str) -> tuple[str, str]:
    return replace, by


# (what, edit of the parsed summary or a raw text replacement, the key the error names)
HOSTILE: list[tuple[str, Edit | tuple[str, str], str]] = [
    ("stages as a list", _set("cells.0.stages", ["firmware"]), "cells[0].stages: a list"),
    ("stages as text", _set("cells.0.stages", "firmware"), "cells[0].stages: the text"),
    ("checks as a number", _set("cells.0.checks", 5), "cells[0].checks: the number 5"),
    ("matrix_cells as a number", _set("matrix_cells", 5), "matrix_cells: the number 5"),
    ("ok as a string", _set("cells.0.checks.0.ok", "false"), "cells[0].checks[0].ok: the text"),
    ("passed as 1", _set("cells.0.passed", 1), "cells[0].passed: the number 1"),
    ("a float's overflow", _raw('"wall_seconds": ', '"wall_seconds": 1' + "0" * 400 + ".5, "
                                '"x": '), "out of bounds"),
    ("an integer too big for a float", _raw('"jobs": ', '"jobs": 1' + "0" * 400 + ', "x": '),
     "an integer of 401 digits"),
    ("a 5000-digit number", _raw('"jobs": ', '"jobs": ' + "9" * 5000 + ', "x": '),
     "an integer of 5000 digits"),
    ("100,000-deep nesting", _raw('"shard": ', '"deep": ' + "[" * 100000 + "]" * 100000
                                  + ', "shard": '), "nested 100001 levels deep"),
    ("a lone surrogate in a message", _set("cells.0.message", "\udcff"),
     "cells[0].message: a lone surrogate"),
    ("a lone surrogate in a stage name", _raw('"firmware": {', '"firm\\udcffware": {'),
     "a lone surrogate"),
    ("no schema", _set("schema", None), "schema: null, expected an integer"),
    ("another schema", _set("schema", 2), "schema 2, this buildiso reads 1"),
    ("an unknown failure class", _set("cells.0.failure_class", "gremlins"),
     "'gremlins' is not a failure class"),
]  # fmt: skip


def _damaged(source: Path, dest: Path, edit: Edit | tuple[str, str]) -> Path:
    shutil.copytree(source, dest)
    path = dest / "summary.json"
    if isinstance(edit, tuple):
        text = path.read_text()
        assert edit[0] in text
        path.write_text(text.replace(edit[0], edit[1], 1))
    else:
        data = json.loads(path.read_text())
        edit(data)
        path.write_text(json.dumps(data))  # json.dumps escapes the surrogate: valid JSON
    return dest


@pytest.mark.parametrize(("what", "edit", "key"), HOSTILE, ids=[h[0] for h in HOSTILE])
def test_a_hostile_shard_is_shown_broken_and_the_report_goes_on(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str],
    what: str, edit: Edit | tuple[str, str], key: str,
) -> None:  # fmt: skip
    bad = _damaged(shards[1], tmp_path / "bad", edit)
    results = load_results([shards[0], bad])
    (broken,) = results.broken
    assert broken.problem is not None and key in broken.problem
    assert str(bad / "summary.json") in broken.problem and "\n" not in broken.problem
    # the other shard's cell is reported; the broken one's cell is "not run"
    assert results.counts == {"passed": 1, "failed": 0, "missing": 1}
    out = tmp_path / "report"
    assert main(["report", str(shards[0]), str(bad), "--out", str(out)]) == 0
    index = (out / "index.html").read_text()
    assert "1 shard(s) unreadable" in index and "unreadable: " in index
    # alone, the broken shard is bad input: one line, exit 2, no traceback
    capsys.readouterr()
    assert main(["report", str(bad), "--out", str(tmp_path / "r2")]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and key in err and "Traceback" not in err
    assert not (tmp_path / "r2").exists()


@pytest.mark.parametrize(
    ("index", "problem"),
    [(b'{"frames": 5}', "frames: the number 5"), (b'{"frames": [\xff]}', "not UTF-8"),
     (b'{"frames": [{"file": "../../etc/shadow", "stage": "x", "t": 1, "reason": "stage", '
      b'"width": 1, "height": 1}]}', "frames[0].file")],
)  # fmt: skip
def test_a_damaged_filmstrip_index_is_a_note_on_its_cell_page(
    shards: list[Path], tmp_path: Path, index: bytes, problem: str
) -> None:
    shard = tmp_path / "shard"
    shutil.copytree(shards[0], shard)
    (cell,) = (p for p in shard.iterdir() if (p / "filmstrip" / "index.json").is_file())
    (cell / "filmstrip" / "index.json").write_bytes(index)
    results = report_command(results=[shard], out=tmp_path / "r", manifest=None, previous=None)
    assert not results.broken
    page = (tmp_path / "r" / "cells" / cell.name / "index.html").read_text()
    assert problem in page and "shadow" not in "".join(
        p.name for p in (tmp_path / "r").rglob("*")
    )


def test_a_manifest_with_a_lone_surrogate_is_refused_in_one_line(
    shards: list[Path], tmp_path: Path
) -> None:
    manifest = tmp_path / "m.manifest.json"
    manifest.write_text('{"schema": 1, "product": {"name": "\\udcff"}}')
    with pytest.raises(InputError, match=r"product\.name: a lone surrogate"):
        report_command(results=shards, out=tmp_path / "r", manifest=manifest, previous=None)
    assert not (tmp_path / "r").exists()


def test_every_cells_iso_is_named_with_its_sha256_and_identity(
    shards: list[Path], tmp_path: Path, profile: Profile
) -> None:
    report_command(results=shards, out=tmp_path / "r", manifest=None, previous=None)
    index = (tmp_path / "r" / "index.html").read_text()
    summary = json.loads((shards[0] / "summary.json").read_text())
    (iso,) = summary["isos"]
    assert iso["sha256"] in index and f"{profile.product} {profile.version} build " \
        f"{profile.build}" in index
    assert "tested different ISOs" not in index
    other = _damaged(shards[1], tmp_path / "other", _set("isos.0.sha256", "f" * 64))
    report_command(results=[shards[0], other], out=tmp_path / "r", manifest=None, previous=None)
    assert "tested different ISOs" in (tmp_path / "r" / "index.html").read_text()
