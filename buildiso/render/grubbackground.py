"""The GRUB 2 menu theme's background: a small solid-colour PNG (EFI/BOOT/background.png).

Why a picture at all: GRUB 2.06's gfxmenu with only ``desktop-color`` prints "error: null
src bitmap in grub_video_bitmap_create_scaled" when a menu entry starts (Debian bug
#922161), then waits up to 10 s on "Press any key to continue..." and may not boot the
entry at all. A ``desktop-image`` avoids that code path; GRUB stretches this one to the
screen. PNG because RHEL's and Debian's GRUB EFI images carry ``png`` (not ``tga``).

The image is 8-bit RGB, one IDAT chunk, no interlace: the simplest case of GRUB's reader.
"""

from __future__ import annotations

import struct
import zlib

SIZE = 16  # pixels a side; GRUB scales it, and a 1x1 source is a degenerate case there
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(kind + data) & 0xFFFFFFFF
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


def parse_hex_colour(colour: str) -> tuple[int, int, int]:
    """``#rrggbb`` → (r, g, b); ValueError for anything else."""
    if len(colour) != 7 or not colour.startswith("#"):
        raise ValueError(f"not a #rrggbb colour: {colour!r}")
    value = int(colour[1:], 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def solid_png(colour: str, *, size: int = SIZE) -> bytes:
    """A ``size`` x ``size`` PNG of one colour (``#rrggbb``); the same bytes every time."""
    red, green, blue = parse_hex_colour(colour)
    row = b"\x00" + bytes((red, green, blue)) * size  # filter type 0 (None), then RGB
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)  # 8-bit RGB, no interlace
    pixels = zlib.compress(row * size, 9)
    return PNG_SIGNATURE + _chunk(b"IHDR", header) + _chunk(b"IDAT", pixels) + _chunk(b"IEND", b"")
