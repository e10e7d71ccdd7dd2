"""buildiso.boottest.filmstrip: frames at stage changes and while a stage runs long."""

from __future__ import annotations

import json
from pathlib import Path

from bootfakes import CELL, FakeClock, good_report, install_script, run_scripted_cell

from buildiso.boottest import filmstrip
from buildiso.boottest.screendump import Screenshot, downscale, encode_png
from buildiso.render.profile import Profile


def _grabber(fail_on: set[int] | None = None):  # type: ignore[no-untyped-def]
    calls: list[Path] = []

    def grab(path: Path) -> Screenshot:
        calls.append(path)
        if fail_on and len(calls) in fail_on:
            raise OSError("guest gone")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_png(1, 1, b"\0\0\0"))
        return Screenshot(path=path, width=320, height=240, colours=2)

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
    assert filmstrip.read_index(tmp_path) == index["frames"]


def test_a_frame_that_cannot_be_taken_is_skipped(tmp_path: Path) -> None:
    grab, calls = _grabber(fail_on={2})
    film = filmstrip.Filmstrip(tmp_path / "filmstrip", grab=grab, started=0.0, interval_s=0)
    for t, stage in enumerate(("firmware", "menu", "kernel")):
        film.tick(stage, float(t))
    film.tick("kernel", 500.0)  # interval 0: no periodic frames
    assert len(calls) == 3 and [f.stage for f in film.frames] == ["firmware", "kernel"]
    assert filmstrip.read_index(tmp_path / "nothing-here") == []


def test_a_screen_between_video_modes_is_skipped_and_tried_again(tmp_path: Path) -> None:
    # the guest's screen sizes; frames are shrunk to half of them
    sizes = iter(
        [(640, 480), (8, 16), (640, 16), (320, 200), (1, 1), (319, 480), (1, 1), (800, 600)]
    )
    calls: list[Path] = []

    def grab(path: Path) -> Screenshot:
        calls.append(path)
        width, height = next(sizes)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(encode_png(1, 1, b"\0\0\0"))
        return Screenshot(path=path, width=width // 2, height=height // 2, colours=2,
                          screen=(width, height))  # fmt: skip

    film = filmstrip.Filmstrip(tmp_path / "filmstrip", grab=grab, started=0.0, interval_s=100)
    for t, stage in enumerate(["menu", "kernel", "kernel", "kernel", "media", "media", "media"]):
        film.tick(stage, float(t))
    film.tick("media", 4.0)  # three tries spent: no more stage frames, only periodic ones
    film.tick("media", 200.0)
    kept = [(f.stage, f.reason, f.t, f.width) for f in film.frames]
    assert kept == [
        ("menu", "stage", 0.0, 320),
        ("kernel", "stage", 3.0, 160),  # a 320x200 screen is a screen, its frame 160 wide
        ("media", "periodic", 200.0, 400),
    ]
    assert len(calls) == 8
    assert sorted(p.name for p in (tmp_path / "filmstrip").glob("*.png")) == [
        "0000-menu.png", "0001-kernel.png", "0002-media.png"
    ]  # fmt: skip


def test_downscale_picks_every_nth_pixel() -> None:
    # 4x2 image, pixel (x, y) = (x, y, 7)
    rgb = bytes(v for y in range(2) for x in range(4) for v in (x, y, 7))
    assert downscale(4, 2, rgb, max_width=2) == (2, 1, bytes([0, 0, 7, 2, 0, 7]))
    assert downscale(4, 2, rgb, max_width=3) == (2, 1, bytes([0, 0, 7, 2, 0, 7]))
    assert downscale(4, 2, rgb, max_width=4) == (4, 2, rgb)
    w, h, small = downscale(1280, 800, bytes(1280 * 800 * 3), max_width=400)
    assert (w, h, len(small)) == (320, 200, 320 * 200 * 3)


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
    assert all(w == filmstrip.FRAME_WIDTH for _, w in guest.frames)
    for frame in frames:
        assert (tmp_path / CELL.name / "filmstrip" / frame["file"]).is_file()


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
