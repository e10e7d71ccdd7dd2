#!/usr/bin/env python3
"""Filmstrip frames: how legible a text console stays, and what a frame costs.

The screen is tests/data/screens/uefi-console.png, a real 1280x800 UEFI text console
(8x16 glyphs). For each way of shrinking it (every Nth pixel, as the filmstrip did before;
Pillow's box filter, as it does now) and each width, counts over the console's 8x16 cells:

  vanished  cells whose glyph keeps under a quarter of its brightness
  confused  distinct glyphs whose shrunk cell is also another glyph's (cannot be told apart)

Then the time one frame takes on this machine (median of ``--runs``): QMP's PPM saved as
the full-size PNG, read back and shrunk to FRAME_WIDTH (``screendump.ppm_to_png`` +
``shrink``, both through the atomic writer), with the load average before and after.

    .venv/bin/python bench/bench_filmstrip.py --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from buildiso.boottest.filmstrip import FRAME_WIDTH  # noqa: E402
from buildiso.boottest.screendump import RESAMPLE, ppm_to_png, shrink  # noqa: E402

CONSOLE = ROOT / "tests" / "data" / "screens" / "uefi-console.png"


def every_nth_pixel(image: Image.Image, width: int) -> Image.Image:
    """The former shrinking: the smallest whole factor that fits, every factor-th pixel."""
    factor = -(-image.width // width)
    out = Image.new(image.mode, (image.width // factor, image.height // factor))
    out.putdata([image.getpixel((x * factor, y * factor)) for y in range(out.height)
                 for x in range(out.width)])  # fmt: skip
    return out


def glyphs_lost(console: Image.Image, shown: Image.Image) -> tuple[int, int, int, int]:
    """(vanished, cells with a glyph, confused, distinct glyphs)."""
    cw, ch = 8 * shown.width / console.width, 16 * shown.height / console.height
    glyphs_of: dict[bytes, set[bytes]] = {}
    vanished = cells = 0
    for row in range(console.height // 16):
        for col in range(console.width // 8):
            glyph = console.crop((col * 8, row * 16, col * 8 + 8, row * 16 + 16))
            ink = glyph.getextrema()[1]
            if ink < 64:
                continue
            cells += 1
            box = (round(col * cw), round(row * ch), round((col + 1) * cw), round((row + 1) * ch))
            block = shown.crop(box)
            vanished += block.getextrema()[1] < ink // 4
            glyphs_of.setdefault(block.tobytes(), set()).add(glyph.tobytes())
    confused = {g for glyphs in glyphs_of.values() if len(glyphs) > 1 for g in glyphs}
    distinct = len({g for glyphs in glyphs_of.values() for g in glyphs})
    return vanished, cells, len(confused), distinct


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    with Image.open(CONSOLE) as image:
        console = image.convert("L")
    print(f"{CONSOLE.relative_to(ROOT)}: {console.width}x{console.height}")
    print(f"{'method':<16}{'asked':>6}{'made':>6}{'vanished':>14}{'confused':>12}")
    for width in (320, 400, FRAME_WIDTH):
        height = round(console.height * width / console.width)
        ways = {
            "every Nth pixel": every_nth_pixel(console, width),
            "box filter": console.resize((width, height), RESAMPLE),
        }
        for name, shown in ways.items():
            vanished, cells, confused, distinct = glyphs_lost(console, shown)
            print(f"{name:<16}{width:>6}{shown.width:>6}{vanished:>9}/{cells:<5}{confused:>6}/{distinct}")
    rgb = Image.open(CONSOLE).convert("RGB")
    with tempfile.TemporaryDirectory(prefix="bench-filmstrip-", dir=ROOT / "out") as tmp:
        ppm = Path(tmp) / "screen.ppm"
        ppm.write_bytes(b"P6\n%d %d\n255\n" % rgb.size + rgb.tobytes())
        load_before = os.getloadavg()[0]
        times = []
        for _ in range(args.runs):
            started = time.perf_counter()
            full = ppm_to_png(ppm, Path(tmp) / "full.png")
            small = shrink(full.path, Path(tmp) / "small.png", max_width=FRAME_WIDTH)
            times.append(time.perf_counter() - started)
        sizes = (full.path.stat().st_size, small.path.stat().st_size)
    print(
        f"one frame (PPM -> full PNG -> {small.width}x{small.height} PNG): median "
        f"{statistics.median(times) * 1000:.0f} ms, min {min(times) * 1000:.0f} ms over "
        f"{args.runs} runs; files {sizes[0] // 1024} KiB + {sizes[1] // 1024} KiB; "
        f"load {load_before:.1f} -> {os.getloadavg()[0]:.1f}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
