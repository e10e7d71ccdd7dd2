"""Screenshots: QMP writes PPM (every QEMU has it); we encode PNG ourselves, no dependency."""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from pathlib import Path

from buildiso.errors import BuildError


@dataclass(frozen=True)
class Screenshot:
    path: Path
    width: int
    height: int
    colours: int  # distinct colours in a sample of pixels: 1 means a blank screen
    screen: tuple[int, int] | None = None  # the guest's screen before shrinking (None: same)


def read_ppm(data: bytes) -> tuple[int, int, bytes]:
    """(width, height, RGB bytes) of a binary PPM (P6, maxval 255)."""
    fields: list[bytes] = []
    pos = 0
    while len(fields) < 4:
        while pos < len(data) and data[pos : pos + 1].isspace():
            pos += 1
        if data[pos : pos + 1] == b"#":
            pos = data.index(b"\n", pos) + 1
            continue
        end = pos
        while end < len(data) and not data[end : end + 1].isspace():
            end += 1
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6" or fields[3] != b"255":
        raise BuildError(f"unexpected screendump format {fields[0]!r} maxval {fields[3]!r}")
    width, height = int(fields[1]), int(fields[2])
    pixels = data[pos + 1 : pos + 1 + width * height * 3]
    if len(pixels) != width * height * 3:
        raise BuildError("truncated PPM screendump")
    return width, height, pixels


def encode_png(width: int, height: int, rgb: bytes) -> bytes:
    """A PNG (8-bit RGB, no filter) of ``rgb``; deterministic for the same pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
        )

    stride = width * 3
    raw = b"".join(b"\x00" + rgb[y * stride : (y + 1) * stride] for y in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 6))
        + chunk(b"IEND", b"")
    )


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) from a PNG's IHDR; BuildError if it is not a PNG."""
    head = path.read_bytes()[:24]
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        raise BuildError(f"{path} is not a PNG file")
    width, height = struct.unpack(">II", head[16:24])
    return int(width), int(height)


def colour_count(rgb: bytes) -> int:
    """Distinct colours in ~4096 sampled pixels: 1 means a blank screen."""
    step = max(3, (len(rgb) // 3 // 4096) * 3)  # ~4096 sampled pixels
    return len({rgb[i : i + 3] for i in range(0, len(rgb) - 2, step)})


def downscale(width: int, height: int, rgb: bytes, *, max_width: int) -> tuple[int, int, bytes]:
    """Shrink by the smallest whole factor that fits ``max_width`` (nearest pixel).

    Whole factors keep it to byte slicing (fast enough for a frame every few seconds) and
    keep text cells of the 640x480/800x600/1280x800 boot screens evenly sampled.
    """
    factor = max(1, -(-width // max(1, max_width)))
    if factor == 1:
        return width, height, rgb
    out_w, out_h = width // factor, height // factor
    stride, step = width * 3, factor * 3
    out = bytearray(out_w * out_h * 3)
    for y in range(out_h):
        row = rgb[y * factor * stride : y * factor * stride + out_w * step]
        base = y * out_w * 3
        for channel in range(3):
            out[base + channel : base + out_w * 3 : 3] = row[channel::step]
    return out_w, out_h, bytes(out)
