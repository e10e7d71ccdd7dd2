"""Second hostile audit, N1 (security): ``buildiso report`` followed symbolic links inside
a results folder and published what they pointed at (``console.log -> /etc/shadow`` as
text in the page and as a raw copy, ``menu.png`` or a filmstrip frame as a PNG, the whole
cell folder); CI publishes that folder to Pages.

Now nothing inside a shard folder is read through a link (the shard folders named on the
command line may be links themselves): each link found is one line on the cell's page
(or the shard shown as unreadable, for summary.json), never published. Every file the
report reads or copies has a size bound: an oversized log is published as its tail, an
oversized picture not at all, and a FIFO in the folder never blocks the report.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from bootfakes import good_report, install_script, quick, run_shard
from PIL import Image

from buildiso.boottest.shard import Shard
from buildiso.cli import main
from buildiso.render.profile import Profile

SECRET = "TOPSECRET-n1-do-not-publish"
CELL = "bios-dvd"


@pytest.fixture(scope="module")
def shards(tmp_path_factory: pytest.TempPathFactory, profile: Profile) -> list[Path]:
    """Two shards of a two-cell matrix (real writers, scripted guests), one cell each."""
    tmp = tmp_path_factory.mktemp("n1")
    script = quick(install_script(report=good_report(profile)))
    folders = []
    for k in (1, 2):
        folder = tmp / f"shard{k}"
        assert run_shard(tmp, artifacts=folder, scripts={"bios-dvd": script, "uefi-dvd": script},
                         shard=Shard(k, 2), cell_names=("bios-dvd", "uefi-dvd"),
                         frame_every_s=0.2) is None  # fmt: skip
        folders.append(folder)
    return folders


def _secret_png(path: Path) -> bytes:
    """A valid PNG holding the secret in a text chunk: published, it would be found."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Comment", SECRET)
    Image.new("RGB", (640, 480), (200, 10, 10)).save(path, format="PNG", pnginfo=info)
    return path.read_bytes()


def _copy(shards: list[Path], tmp: Path) -> tuple[list[Path], Path]:
    """Copies of the shards (links kept) and the one whose results hold CELL."""
    copies = []
    for shard in shards:
        copy = tmp / shard.name
        shutil.copytree(shard, copy, symlinks=True)
        copies.append(copy)
    return copies, next(c for c in copies if (c / CELL).is_dir())


def _elsewhere(tmp: Path) -> Path:
    outside = tmp / "outside"
    outside.mkdir(exist_ok=True)
    (outside / "secret.txt").write_text(f"root:{SECRET}:19000:0:99999:7:::\n")
    _secret_png(outside / "secret.png")
    return outside


def _link(path: Path, target: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink(missing_ok=True)
    path.symlink_to(target)


def _first_frame(cell: Path) -> str:
    return str(json.loads((cell / "filmstrip" / "index.json").read_text())["frames"][0]["file"])


def _plant_console(cell: Path, outside: Path) -> str:
    _link(cell / "console.log", outside / "secret.txt")
    return "console.log"


def _plant_menu(cell: Path, outside: Path) -> str:
    _link(cell / "menu.png", outside / "secret.png")
    return "menu.png"


def _plant_frame(cell: Path, outside: Path) -> str:
    name = _first_frame(cell)
    _link(cell / "filmstrip" / name, outside / "secret.png")
    return f"filmstrip/{name}"


def _plant_full_frame(cell: Path, outside: Path) -> str:
    name = _first_frame(cell)
    _link(cell / "filmstrip" / "full" / name, outside / "secret.png")
    return f"filmstrip/full/{name}"


def _plant_index(cell: Path, outside: Path) -> str:
    index = json.loads((cell / "filmstrip" / "index.json").read_text())
    index["frames"][0]["stage"] = SECRET
    (outside / "index.json").write_text(json.dumps(index))
    _link(cell / "filmstrip" / "index.json", outside / "index.json")
    return "filmstrip/index.json"


def _plant_filmstrip_folder(cell: Path, outside: Path) -> str:
    fake = outside / "filmstrip"
    shutil.copytree(cell / "filmstrip", fake)
    index = json.loads((fake / "index.json").read_text())
    index["frames"][0]["stage"] = SECRET
    (fake / "index.json").write_text(json.dumps(index))
    _link(cell / "filmstrip", fake)
    return "filmstrip"


def _plant_cell_folder(cell: Path, outside: Path) -> str:
    fake = outside / "cell"
    shutil.copytree(cell, fake)
    (fake / "console.log").write_text(SECRET + "\n")
    _secret_png(fake / "menu.png")
    _link(cell, fake)
    return CELL


def _plant_machine_folder(cell: Path, outside: Path) -> str:
    fake = outside / "server-install"
    fake.mkdir()
    (fake / "console.log").write_text(SECRET + "\n")
    (cell / "server-install").symlink_to(fake)
    return "server-install"


PLANTS: dict[str, Callable[[Path, Path], str]] = {
    "console.log": _plant_console,
    "menu.png": _plant_menu,
    "a filmstrip frame": _plant_frame,
    "a full-size frame": _plant_full_frame,
    "filmstrip/index.json": _plant_index,
    "the filmstrip folder": _plant_filmstrip_folder,
    "the whole cell folder": _plant_cell_folder,
    "a machine's log folder": _plant_machine_folder,
}


def _published(out: Path) -> bytes:
    """Every byte of the report, for a search."""
    return b"".join(p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file())


@pytest.mark.parametrize("case", sorted(PLANTS))
def test_a_link_in_a_cell_is_reported_never_published(
    case: str, shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copies, holder = _copy(shards, tmp_path)
    outside = _elsewhere(tmp_path)
    what = PLANTS[case](holder / CELL, outside)
    out = tmp_path / "report"
    code = main(["report", *map(str, copies), "--out", str(out)])
    err = capsys.readouterr().err
    assert code == 0, err
    assert "Traceback" not in err
    published = _published(out)
    assert SECRET.encode() not in published, f"{case}: the link's target was published"
    assert (outside / "secret.png").read_bytes() not in published
    assert not any(p.is_symlink() for p in out.rglob("*"))
    page = (out / "cells" / CELL / "index.html").read_text()
    broken = [line for line in page.splitlines() if 'class="broken"' in line]
    assert len(broken) == 1 and f"{what}: a symbolic link" in broken[0], page[-3000:]
    # the other shard's cell is untouched and its files are still published
    assert (out / "cells" / "uefi-dvd" / "console.log.txt").is_file()


def test_summary_json_as_a_link_is_a_broken_shard(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    copies, holder = _copy(shards, tmp_path)
    outside = _elsewhere(tmp_path)
    summary = json.loads((holder / "summary.json").read_text())
    summary["cells"][0]["message"] = SECRET
    (outside / "summary.json").write_text(json.dumps(summary))
    _link(holder / "summary.json", outside / "summary.json")
    out = tmp_path / "report"
    assert main(["report", *map(str, copies), "--out", str(out)]) == 0
    assert SECRET.encode() not in _published(out)
    index = (out / "index.html").read_text()
    assert "summary.json: a symbolic link" in index and "unreadable" in index
    # alone, the linked shard is bad input: one line, exit 2
    capsys.readouterr()
    assert main(["report", str(holder), "--out", str(tmp_path / "r2")]) == 2
    (line,) = capsys.readouterr().err.strip().splitlines()
    assert "summary.json: a symbolic link" in line


def test_a_shard_folder_named_as_a_link_is_followed(shards: list[Path], tmp_path: Path) -> None:
    """The user names the shard folders: a link given on the command line is theirs."""
    named = tmp_path / "named"
    named.symlink_to(shards[0])
    out = tmp_path / "report"
    assert main(["report", str(named), str(shards[1]), "--out", str(out)]) == 0
    assert "class=\"broken\"" not in (out / "cells" / CELL / "index.html").read_text()


def test_oversized_and_special_files_are_bounded(
    shards: list[Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from buildiso.report import cellfiles

    copies, holder = _copy(shards, tmp_path)
    cell = holder / CELL
    # a console log larger than the bound (sparse: costs no disk), ending in a known line
    log = cell / "console.log"
    with log.open("r+b") as fh:
        fh.truncate(cellfiles.MAX_LOG_BYTES + 5 * 2**20)
        fh.seek(0, os.SEEK_END)
        fh.write(b"\nthe last line of the log\n")
    # a "screenshot" larger than any screen's PNG, and a FIFO where a log would be
    with (cell / "menu.png").open("r+b") as fh:
        fh.truncate(cellfiles.MAX_PICTURE_BYTES + 1)
    (cell / "protocol.log").unlink()
    os.mkfifo(cell / "protocol.log")
    out = tmp_path / "report"
    assert main(["report", *map(str, copies), "--out", str(out)]) == 0, capsys.readouterr().err
    dest = out / "cells" / CELL
    copy = dest / "console.log.txt"
    assert copy.stat().st_size <= cellfiles.MAX_LOG_BYTES
    assert copy.read_bytes().endswith(b"the last line of the log\n")
    assert not (dest / "menu.png").exists()
    page = (dest / "index.html").read_text()
    broken = [line for line in page.splitlines() if 'class="broken"' in line]
    assert len(broken) == 2, broken
    assert any("menu.png: larger than" in line for line in broken)
    assert any("protocol.log: not a regular file" in line for line in broken)
    assert "first 5242880 bytes left out" in page or "bytes left out" in page
