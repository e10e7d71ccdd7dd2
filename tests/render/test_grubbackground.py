"""The GRUB theme's background picture, decoded by a PNG reader we did not write (Pillow)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from buildiso.render.grubbackground import SIZE, parse_hex_colour, solid_png


@pytest.mark.parametrize("colour", ["#000000", "#12ab34", "#ffffff"])
def test_png_is_one_solid_colour(colour: str) -> None:
    data = solid_png(colour)
    with Image.open(io.BytesIO(data)) as image:
        image.load()  # decodes every pixel: a bad CRC or zlib stream raises here
        assert image.format == "PNG"
        assert image.mode == "RGB"  # 8-bit RGB: the case GRUB's png reader handles
        assert image.size == (SIZE, SIZE)
        assert image.info.get("interlace", 0) == 0
        colours = image.getcolors()  # (count, colour) for every colour used
        assert colours == [(SIZE * SIZE, parse_hex_colour(colour))]


def test_png_is_reproducible() -> None:
    assert solid_png("#000000") == solid_png("#000000")
    assert solid_png("#000000") != solid_png("#000001")


@pytest.mark.parametrize("bad", ["000000", "#0000", "#00000g", "black"])
def test_bad_colour_is_refused(bad: str) -> None:
    with pytest.raises(ValueError):
        solid_png(bad)
