"""buildiso.boottest.filmstrip: frames at stage changes and while a stage runs long, kept at
full size and shrunk so that a text console stays legible."""

from __future__ import annotations

import json
from pathlib import Path

from bootfakes import CELL, FakeClock, good_report, install_script, run_scripted_cell
from PIL import Image

from buildiso.boottest import filmstrip
from buildiso.boottest.screendump import Screenshot, png_size, shrink
from buildiso.render.profile import Profile


def _screen(path: Path, width: int = 640, height: int = 480) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (width, height), (0, 0, 170)).save(path)
    return path


def _grabber(fail_on: set[int] | None = None):  # type: ignore[no-untyped-def]
    calls: list[Path] = []

    def grab(path: Path) -> Screenshot:
        calls.append(path)
        if fail_on and len(calls) in fail_on:
            raise OSError("guest gone")
        _screen(path)
        return Screenshot(path=path, width=640, height=480, colours=2)

    return grab, calls


def test_frames_on_stage_changes_and_every_interval(tmp_path: Path) -> None:
    grab, calls = _grabber()
    clock = FakeClock()
    film = filmstrip.Filmstrip(tmp_path / "filmstrip", grab=grab, started=0.0, interval_s=10)
    for stage, until in (("firmware", 3.0), ("kernel", 26.0), ("packages", 30.0)):
        while clock.now < until:
            film.tick(stage, clock.now)
            clock.sleep(0.5)
    frames = [(f.stage, f.reason, f.t) for f in film.frames]
    assert frames == [
        ("firmware", "stage", 0.0),
        ("kernel", "stage", 3.0),
        ("kernel", "periodic", 13.0),
        ("kernel", "periodic", 23.0),
        ("packages", "stage", 26.0),
    ]
    index = json.loads((tmp_path / "filmstrip" / "index.json").read_text())
    assert [f["file"] for f in index["frames"]] == [p.name for p in calls]
    assert [f["full"] for f in index["frames"]] == [f"full/{p.name}" for p in calls]
    assert all(p.parent == tmp_path / "filmstrip" / "full" for p in calls)  # grabbed full size
    assert filmstrip.read_index(tmp_path) == index["frames"]
    # an index that is a link (planted in the folder) is not read
    real = tmp_path / "elsewhere.json"
    (tmp_path / "filmstrip" / "index.json").rename(real)
    (tmp_path / "filmstrip" / "index.json").symlink_to(real)
    assert filmstrip.read_index(tmp_path) == []


def test_a_frame_that_cannot_be_taken_is_skipped(tmp_path: Path) -> None:
    grab, calls = _grabber(fail_on={2})
    film = filmstrip.Filmstrip(tmp_path / "filmstrip", grab=grab, started=0.0, interval_s=0)
    for t, stage in enumerate(("firmware", "menu", "kernel")):
        film.tick(stage, float(t))
    film.tick("kernel", 500.0)  # interval 0: no periodic frames
    assert len(calls) == 3 and [f.stage for f in film.frames] == ["firmware", "kernel"]
    assert filmstrip.read_index(tmp_path / "nothing-here") == []


def test_a_screen_between_video_modes_is_skipped_and_tried_again(tmp_path: Path) -> None:
    sizes = iter(
        [(640, 480), (8, 16), (640, 16), (320, 200), (1, 1), (319, 480), (1, 1), (1280, 800)]
    )
    calls: list[Path] = []

    def grab(path: Path) -> Screenshot:
        calls.append(path)
        width, height = next(sizes)
        _screen(path, width, height)
        return Screenshot(path=path, width=width, height=height, colours=2)

    film = filmstrip.Filmstrip(tmp_path / "filmstrip", grab=grab, started=0.0, interval_s=100)
    for t, stage in enumerate(["menu", "kernel", "kernel", "kernel", "media", "media", "media"]):
        film.tick(stage, float(t))
    film.tick("media", 4.0)  # three tries spent: no more stage frames, only periodic ones
    film.tick("media", 200.0)
    kept = [(f.stage, f.reason, f.t, f.width, f.height) for f in film.frames]
    assert kept == [
        ("menu", "stage", 0.0, 640, 480),
        ("kernel", "stage", 3.0, 320, 200),  # a 320x200 screen is a screen
        ("media", "periodic", 200.0, 640, 400),  # shrunk to FRAME_WIDTH, aspect kept
    ]
    assert len(calls) == 8
    folder = tmp_path / "filmstrip"
    expected = ["0000-menu.png", "0001-kernel.png", "0002-media.png"]
    assert sorted(p.name for p in folder.glob("*.png")) == expected
    assert sorted(p.name for p in (folder / "full").glob("*.png")) == expected  # skipped: gone
    assert png_size(folder / "full" / "0002-media.png") == (1280, 800)
    assert png_size(folder / "0002-media.png") == (640, 400)


# --- legibility: a console's glyph strokes survive the shrinking -------------------------------

STEM_X = [40 + 13 * k for k in range(90)]  # 13 px apart: every phase of a 2x, 3x, 3.2x shrink
BAR_Y = [420 + 13 * k for k in range(28)]


def _glyph_strokes(path: Path) -> Path:
    """A 1280x800 UEFI console's worth of strokes: grey on black, one pixel thick, as an 8x16
    font's stems (16 px tall) and bars (8 px wide) are, at every pixel phase."""
    image = Image.new("RGB", (1280, 800))
    for x in STEM_X:
        image.paste((170, 170, 170), (x, 300, x + 1, 316))
    for y in BAR_Y:
        image.paste((170, 170, 170), (600, y, 608, y + 1))
    path.parent.mkdir(parents=True, exist_ok=True)
    image.save(path)
    return path


def _lost_strokes(thumb: Image.Image) -> list[str]:
    """Strokes with no trace where they should be in ``thumb`` (a shrunk ``_glyph_strokes``).

    Shrunk by ``scale``, a one-pixel stroke keeps 1/scale of its contrast spread over at
    most two pixels, so one of them holds at least half of that; "no trace" is under 3/4 of
    this least share (1280 -> 640: 32 of 170; 1280 -> 400: 20).
    """
    grey = thumb.convert("L")
    scale = 1280 / grey.width
    least = 170 / scale / 2 * 3 / 4
    lost = []
    for x in STEM_X:
        col, top, bottom = x / scale, 300 / scale, 316 / scale
        box = (int(col) - 1, int(top), int(col) + 2, int(bottom) + 1)
        if grey.crop(box).getextrema()[1] < least:
            lost.append(f"stem x={x}")
    for y in BAR_Y:
        row = y / scale
        box = (int(600 / scale), int(row) - 1, int(608 / scale) + 1, int(row) + 2)
        if grey.crop(box).getextrema()[1] < least:
            lost.append(f"bar y={y}")
    return lost


def test_a_text_console_keeps_every_glyph_stroke_when_shrunk(tmp_path: Path) -> None:
    source = _glyph_strokes(tmp_path / "full.png")
    for width in (filmstrip.FRAME_WIDTH, 400):
        small = shrink(source, tmp_path / f"small-{width}.png", max_width=width)
        assert (small.width, small.height) == (width, width * 800 // 1280)
        with Image.open(small.path) as thumb:
            assert _lost_strokes(thumb) == [], width
    # The check sees what the former nearest-pixel sampling did: it kept every Nth column
    # and row, and the strokes in between vanished (the console became dots).
    with Image.open(source) as image:
        nearest = image.resize((filmstrip.FRAME_WIDTH, 400), Image.Resampling.NEAREST)
    lost = _lost_strokes(nearest)
    assert len(lost) >= (len(STEM_X) + len(BAR_Y)) // 3, lost


def test_a_cell_run_leaves_a_filmstrip_of_every_stage(tmp_path: Path, profile: Profile) -> None:
    result, factory = run_scripted_cell(
        tmp_path, profile, install_script(report=good_report(profile))
    )
    assert result.passed, result.message
    frames = filmstrip.read_index(tmp_path / CELL.name)
    stages = [f["stage"] for f in frames if f["reason"] == "stage"]
    assert stages == [
        "firmware", "menu", "kernel", "media", "kickstart", "partitioning", "packages",
        "bootloader", "post", "reboot", "local-boot", "firstboot",
    ]  # fmt: skip
    assert frames[-1]["reason"] == "end"
    drawn = [f["stage"] for f in frames if f["reason"] == "menu drawn"]
    assert drawn == ["menu", "local-boot"]  # the ISO's menu, complete, both times
    times = [f["t"] for f in frames]
    assert times == sorted(times)
    guest = factory.started[0]
    folder = tmp_path / CELL.name / "filmstrip"
    assert guest.frames == [folder / f["full"] for f in frames]  # grabbed at full size
    for frame in frames:
        assert png_size(folder / frame["file"]) == (frame["width"], frame["height"])
        assert png_size(folder / frame["full"]) == (640, 480)  # the fake's screen


def test_a_failed_cell_ends_its_filmstrip_where_it_stopped(
    tmp_path: Path, profile: Profile
) -> None:
    script = [
        item
        for item in install_script(report=good_report(profile))
        if "name=packages status=ok" not in item[3] and "name=bootloader" not in item[3]
        and "name=post" not in item[3] and "RESULT" not in item[3] and "reboot" not in item[3]
    ]  # fmt: skip
    result, _ = run_scripted_cell(tmp_path, profile, script)
    assert result.failure_class == "timeout-in-stage-packages"
    frames = filmstrip.read_index(tmp_path / CELL.name)
    assert (frames[-1]["stage"], frames[-1]["reason"]) == ("packages", "failed")
    # the 60 s packages limit: a periodic frame every 10 s while it hangs
    assert len([f for f in frames if f["stage"] == "packages" and f["reason"] == "periodic"]) >= 5
