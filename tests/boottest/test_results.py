"""buildiso.boottest.results: written and read by the same types; reading is typed and bounded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from buildiso.boottest.results import (
    SCHEMA,
    CellResult,
    Check,
    IsoUnderTest,
    Screen,
    StageStatus,
    StageTiming,
    Summary,
    read_frames,
)
from buildiso.errors import InputError

ISO = IsoUnderTest(role="iso", path="/out/EMAIL_490_190.iso", sha256="a" * 64, size=123456,
                product="Secure Email Gateway", version="4.9.0", build=190)  # fmt: skip


def _cell(**overrides: Any) -> CellResult:
    fields: dict[str, Any] = dict(
        name="bios-dvd-upgrade", cell="bios-dvd", scenario="upgrade", passed=False,
        failure_class="timeout-in-stage-apply-updates", message="stuck ✗ after 900 s",
        accel="tcg", seconds=950.25, artifacts="/art/bios-dvd-upgrade",
        stages=(StageTiming("firmware", StageStatus.OK, 0.4),
                StageTiming("apply-updates", StageStatus.TIMEOUT, 900.0, 899.5),
                StageTiming("checks", StageStatus.RUNNING, None)),
        checks=(Check("gateway-version", False, "cs-email 4.8.0-150"), Check("tls10", True, "")),
        expected_checks=("gateway-version", "tls10", "data-kept"), attempts=2,
        menu_screenshot=Screen("/art/menu.png", 640, 480, 17), console_tail=("a", "b"),
    )  # fmt: skip
    fields.update(overrides)
    return CellResult(**fields)


def _summary(*cells: CellResult) -> Summary:
    return Summary(scenario="upgrade", isos=(ISO,), accel="tcg", accel_reason="KVM unusable",
                   jobs=2, wall_seconds=1000.5, shard="1/2", matrix_cells=("bios-dvd-upgrade",),
                   cells=cells)  # fmt: skip


def test_a_summary_round_trips_through_its_file(tmp_path: Path) -> None:
    summary = _summary(_cell(), _cell(name="x", passed=True, failure_class=None,
                                      menu_screenshot=None))  # fmt: skip
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(summary.to_json(), indent=2))
    back = Summary.load(path)
    assert back == summary
    assert back.cells[0].stage("apply-updates") == StageTiming(
        "apply-updates", StageStatus.TIMEOUT, 900.0, 899.5
    )
    assert back.cells[0].stage_map["checks"].seconds is None and back.isos[0].identity == (
        "Secure Email Gateway 4.9.0 build 190"
    )
    assert json.loads(path.read_text())["schema"] == SCHEMA


def _load(tmp_path: Path, edit: Any) -> Summary:
    data = _summary(_cell()).to_json()
    edit(data)
    path = tmp_path / "summary.json"
    path.write_text(json.dumps(data))
    return Summary.load(path)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda d: d["cells"][0]["stages"]["firmware"].update(status="done"),
         "cells[0].stages.firmware.status: 'done' is not one of running, ok, failed, timeout"),
        (lambda d: d["cells"][0]["stages"].update({"../x": {"status": "ok"}}),
         "cells[0].stages: '../x' is not a stage name"),
        (lambda d: d["cells"][0].update(passed=True),
         "cells[0]: passed and failure_class disagree"),
        (lambda d: d["cells"][0].update(seconds=-1), "cells[0].seconds: -1 out of range"),
        (lambda d: d["cells"][0].update(attempts=1.5), "cells[0].attempts: the number 1.5"),
        (lambda d: d["cells"][0]["menu_screenshot"].update(width="640"),
         "cells[0].menu_screenshot.width: the text '640', expected an integer"),
        (lambda d: d["cells"][0].update(console_tail=["x" * 5000]),
         "cells[0].console_tail[0]: 5000 characters (at most 2000)"),
        (lambda d: d["isos"][0].update(sha256="z" * 64), "isos[0].sha256: 'zzz"),
        (lambda d: d.update(cells=[{}] * 1001), "cells: 1001 entries (at most 1000)"),
        (lambda d: d["cells"][0].pop("scenario"), "cells[0].scenario: missing"),
        (lambda d: d.update(shard=["1/2"]), "shard: a list, expected text"),
    ],
)  # fmt: skip
def test_from_json_names_the_key_of_what_is_wrong(
    tmp_path: Path, edit: Any, message: str
) -> None:
    with pytest.raises(InputError) as caught:
        _load(tmp_path, edit)
    assert message in str(caught.value) and str(tmp_path / "summary.json") in str(caught.value)
    assert caught.value.exit_code == 2 and "\n" not in caught.value.message


def test_a_result_json_is_the_same_cell_result(tmp_path: Path) -> None:
    from buildiso.boundedjson import Fields

    cell = _cell()
    data = json.loads(json.dumps(cell.to_json()))
    assert CellResult.from_json(data, "", Fields("result.json", hint="x")) == cell


def test_frames_are_read_typed_and_their_files_are_plain_names(tmp_path: Path) -> None:
    index = tmp_path / "index.json"
    assert read_frames(index) == ((), None)  # no filmstrip: nothing, no problem
    frame = {"file": "0001-kernel.png", "stage": "kernel", "t": 3.5, "reason": "stage",
             "width": 400, "height": 300}  # fmt: skip
    index.write_text(json.dumps({"frames": [frame]}))
    ((read,), problem) = read_frames(index)
    assert problem is None and (read.file, read.t, read.width) == ("0001-kernel.png", 3.5, 400)
    index.write_text(json.dumps({"frames": [{**frame, "file": "../../../etc/passwd"}]}))
    frames, problem = read_frames(index)
    assert frames == () and problem is not None and "frames[0].file" in problem
