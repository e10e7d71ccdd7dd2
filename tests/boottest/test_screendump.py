"""buildiso.boottest.screendump: PPM reading and PNG encoding."""

from __future__ import annotations

import struct
import zlib
from pathlib import Path

import pytest

from buildiso.boottest.screendump import encode_png, png_size, read_ppm
from buildiso.errors import BuildError


def test_png_encoder_round_trip(tmp_path: Path) -> None:
    width, height = 3, 2
    rgb = bytes(range(18))
    png = encode_png(width, height, rgb)
    path = tmp_path / "p.png"
    path.write_bytes(png)
    assert png_size(path) == (3, 2)
    # decode: IHDR then one IDAT of filter-0 rows
    idat_len = struct.unpack(">I", png[33:37])[0]
    assert png[37:41] == b"IDAT"
    raw = zlib.decompress(png[41 : 41 + idat_len])
    assert raw == b"\x00" + rgb[:9] + b"\x00" + rgb[9:]
    assert png.endswith(b"IEND\xaeB`\x82")


def test_read_ppm_with_comment() -> None:
    data = b"P6\n# made by qemu\n2 1\n255\n" + bytes([1, 2, 3, 4, 5, 6])
    assert read_ppm(data) == (2, 1, bytes([1, 2, 3, 4, 5, 6]))
    with pytest.raises(BuildError, match="truncated"):
        read_ppm(b"P6 2 2 255\n" + bytes(3))


def test_png_size_rejects_non_png(tmp_path: Path) -> None:
    path = tmp_path / "x.png"
    path.write_bytes(b"P6 1 1 255\n" + bytes(30))
    with pytest.raises(BuildError, match="not a PNG"):
        png_size(path)
