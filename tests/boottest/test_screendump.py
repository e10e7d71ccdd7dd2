"""buildiso.boottest.screendump: QMP's PPM saved as PNG (Pillow), shrinking, colour counts."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image

from buildiso.boottest.screendump import colour_count, png_size, ppm_to_png, shrink
from buildiso.errors import BuildError


def test_ppm_becomes_the_same_pixels_as_png(tmp_path: Path) -> None:
    # what QEMU writes: binary P6, maxval 255, a comment allowed
    pixels = bytes(range(18))
    ppm = tmp_path / "screen.ppm"
    ppm.write_bytes(b"P6\n# made by qemu\n3 2\n255\n" + pixels)
    shot = ppm_to_png(ppm, tmp_path / "screen.png")
    assert (shot.width, shot.height, shot.path) == (3, 2, tmp_path / "screen.png")
    assert png_size(shot.path) == (3, 2)
    with Image.open(shot.path) as png:
        assert png.format == "PNG" and png.mode == "RGB" and png.tobytes() == pixels
    assert sorted(p.name for p in tmp_path.iterdir()) == ["screen.png", "screen.ppm"]


def test_a_damaged_screendump_is_one_build_error(tmp_path: Path) -> None:
    ppm = tmp_path / "screen.ppm"
    ppm.write_bytes(b"P6 2 2 255\n" + bytes(3))  # truncated
    with pytest.raises(BuildError, match="screen.ppm is not a readable PPM image"):
        ppm_to_png(ppm, tmp_path / "screen.png")
    assert not (tmp_path / "screen.png").exists()


def test_png_size_rejects_non_png(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"P6 1 1 255\n" + bytes(30))
    with pytest.raises(BuildError, match="not a PNG"):
        png_size(path)


def test_colour_count_sees_a_blank_screen() -> None:
    blank = Image.new("RGB", (1280, 800), (0, 0, 0))
    assert colour_count(blank) == 1
    blank.paste((200, 200, 200), (0, 390, 1280, 420))  # one line of text's height
    assert colour_count(blank) == 2


def test_shrink_keeps_the_aspect_and_never_enlarges(tmp_path: Path) -> None:
    source = tmp_path / "full.png"
    Image.new("RGB", (800, 600), (0, 0, 170)).save(source)
    assert (s := shrink(source, tmp_path / "a.png", max_width=640)).width == 640
    assert s.height == 480 and png_size(s.path) == (640, 480)
    kept = shrink(source, tmp_path / "b.png", max_width=1000)
    assert (kept.width, kept.height) == (800, 600)
    with Image.open(kept.path) as image:
        assert image.getpixel((10, 10)) == (0, 0, 170)
