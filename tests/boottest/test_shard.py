"""buildiso.boottest.shard: the matrix split over CI runners (coverage, balance, determinism)."""

from __future__ import annotations

import itertools
import json
import random
from dataclasses import dataclass
from pathlib import Path

import pytest
from bootfakes import good_report, install_script, quick, run_shard

from buildiso.boottest import shard
from buildiso.boottest.command import cell_seconds
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.cli import main
from buildiso.errors import InputError
from buildiso.render.profile import Profile


@dataclass(frozen=True)
class KindCell:
    """A cell of another kind (scenario × layout, say): only a name and an expected time."""

    name: str
    expected_seconds: float


def _name(cell: KindCell) -> str:
    return cell.name


def _secs(cell: KindCell) -> float:
    return cell.expected_seconds


def _random_cells(rng: random.Random, count: int) -> list[KindCell]:
    return [KindCell(f"cell-{i:02d}", float(rng.randint(20, 400))) for i in range(count)]


def _best_makespan(cells: list[KindCell], total: int) -> float:
    """The optimal longest shard, by trying every assignment (small inputs only)."""
    best = float("inf")
    for assignment in itertools.product(range(total), repeat=len(cells)):
        loads = [0.0] * total
        for cell, k in zip(cells, assignment, strict=True):
            loads[k] += cell.expected_seconds
        best = min(best, max(loads))
    return best


@pytest.mark.parametrize("total", [1, 2, 3, 4, 7, 30])
def test_every_cell_in_exactly_one_shard(total: int) -> None:
    cells = _random_cells(random.Random(total), 23)
    shards = shard.split(cells, total, name=_name, seconds=_secs)
    assert len(shards) == total
    names = [c.name for s in shards for c in s]
    assert sorted(names) == sorted(c.name for c in cells)  # covered, none twice
    for members in shards:  # each shard keeps the matrix order
        assert members == [c for c in cells if c in members]


def test_split_is_greedy_balanced_within_lpt_bounds() -> None:
    rng = random.Random(14)
    for _ in range(40):
        cells = _random_cells(rng, rng.randint(2, 8))
        total = rng.randint(2, 3)
        loads = [
            sum(c.expected_seconds for c in s)
            for s in shard.split(cells, total, name=_name, seconds=_secs)
        ]
        # list scheduling: the fullest shard exceeds the emptiest by at most one cell
        assert max(loads) - min(loads) <= max(c.expected_seconds for c in cells)
        # longest-processing-time first: within 4/3 of the best possible split
        assert max(loads) <= _best_makespan(cells, total) * 4 / 3 + 1e-9


def test_split_does_not_depend_on_input_order() -> None:
    cells = _random_cells(random.Random(3), 12) + [KindCell("tie-a", 60), KindCell("tie-b", 60)]
    expected = [
        {c.name for c in s} for s in shard.split(cells, 4, name=_name, seconds=_secs)
    ]
    for seed in range(10):
        shuffled = list(cells)
        random.Random(seed).shuffle(shuffled)
        got = [{c.name for c in s} for s in shard.split(shuffled, 4, name=_name, seconds=_secs)]
        assert got == expected


INSTALL = load_scenario("install")
ALL_CELLS = INSTALL.matrix
SECONDS = cell_seconds(INSTALL, None)  # the figures measured into install.toml


def test_the_four_cell_matrix_pairs_a_bios_and_a_uefi_cell_per_shard() -> None:
    halves = [shard.select(ALL_CELLS, shard.Shard(k, 2), name=_cellname, seconds=SECONDS)
              for k in (1, 2)]  # fmt: skip
    assert sorted(c.name for h in halves for c in h) == sorted(c.name for c in ALL_CELLS)
    for half in halves:
        assert sorted(c.firmware.value for c in half) == ["bios", "uefi"]


def _cellname(cell: object) -> str:
    return str(cell.name)  # type: ignore[attr-defined]


def test_more_shards_than_cells_leaves_empty_shards() -> None:
    shards = [shard.select(ALL_CELLS, shard.Shard(k, 6), name=_cellname, seconds=SECONDS)
              for k in range(1, 7)]  # fmt: skip
    assert sorted(len(s) for s in shards) == [0, 0, 1, 1, 1, 1]


def test_duplicate_names_are_a_bug() -> None:
    with pytest.raises(ValueError, match="not unique"):
        shard.split([KindCell("a", 1), KindCell("a", 2)], 2, name=_name, seconds=_secs)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("3/2", "shard 3 is not within 1..2"),
        ("0/2", "shard 0 is not within 1..2"),
        ("1/0", "number of shards must be 1..256, not 0"),
        ("a/b", "not of the form K/N"),
        ("1-2", "not of the form K/N"),
        ("", "not of the form K/N"),
        ("-1/2", "not of the form K/N"),
    ],
)
def test_bad_shard_values(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message) as err:
        shard.parse_shard(text)
    assert err.value.exit_code == 2 and err.value.hint


def test_parse_shard_ok() -> None:
    assert shard.parse_shard(" 2 / 5 ") == shard.Shard(2, 5)
    assert str(shard.parse_shard("1/1")) == "1/1"


def test_cli_bad_shard_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"\0")
    assert main(["boot-test", str(iso), "--matrix", "--shard", "5/4"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shard 5 is not within 1..4" in err[0] and "Traceback" not in err[0]
    assert main(["boot-test", str(iso), "--shard", "1/2"]) == 2
    assert "add --matrix" in capsys.readouterr().err
    assert main(["boot-test", str(iso), "--matrix", "--cells", "bios-dvd,bios-floppy"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "no such cell bios-floppy" in err[0] and "uefi-usb" in err[0]


def test_two_shards_run_each_cell_once_with_their_own_results(
    tmp_path: Path, profile: Profile
) -> None:
    script = quick(install_script(report=good_report(profile)))
    scripts = {c.name: script for c in ALL_CELLS}
    ran: list[str] = []
    for k in (1, 2):
        art = tmp_path / f"s{k}"
        failed = run_shard(
            tmp_path, artifacts=art, scripts=scripts, shard=shard.Shard(k, 2),
            cell_names=("bios-dvd", "uefi-dvd", "uefi-usb"),
        )  # fmt: skip
        assert failed is None
        summary = json.loads((art / "summary.json").read_text())
        assert summary["shard"] == f"{k}/2"
        assert summary["matrix_cells"] == ["bios-dvd", "uefi-dvd", "uefi-usb"]
        assert (art / "junit.xml").is_file()
        ran += [cell["cell"] for cell in summary["cells"]]
        for cell in summary["cells"]:
            assert (art / cell["cell"] / "result.json").is_file()
    assert sorted(ran) == ["bios-dvd", "uefi-dvd", "uefi-usb"]


def test_an_empty_shard_writes_empty_results_and_passes(tmp_path: Path, profile: Profile) -> None:
    art = tmp_path / "s3"
    assert run_shard(tmp_path, artifacts=art, scripts={}, shard=shard.Shard(3, 3),
                     cell_names=("bios-dvd", "uefi-dvd")) is None  # fmt: skip
    summary = json.loads((art / "summary.json").read_text())
    assert summary["cells"] == [] and summary["matrix_cells"] == ["bios-dvd", "uefi-dvd"]
    assert (art / "junit.xml").is_file()
