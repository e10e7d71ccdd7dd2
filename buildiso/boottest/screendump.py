"""Screenshots: QMP's PPM (every QEMU writes it) saved as PNG, and shrunk for the filmstrip.

Pillow reads the PPM, writes the PNGs (through ``atomicfile``) and shrinks with its box
filter: each target pixel is the average of the source pixels it covers (area resampling),
so the one-pixel strokes of a console's glyphs stay visible as lighter strokes and, at a
whole factor, every glyph keeps a look of its own. Picking every Nth pixel, as this module
did before, dropped most strokes and turned a text console into dots (the firstboot
frames of a UEFI cell, 1280x800, were unreadable).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from buildiso.atomicfile import open_atomic
from buildiso.errors import BuildError

RESAMPLE = Image.Resampling.BOX
_SAMPLE = 64  # colour_count looks at a 64x64 grid of pixels


@dataclass(frozen=True)
class Screenshot:
    path: Path
    width: int
    height: int
    colours: int  # distinct colours in a sample of pixels: 1 means a blank screen


def colour_count(image: Image.Image) -> int:
    """Distinct colours in a 64x64 grid of sampled pixels: 1 means a blank screen."""
    grid = image.convert("RGB").resize((_SAMPLE, _SAMPLE), Image.Resampling.NEAREST)
    return len(grid.getcolors(_SAMPLE * _SAMPLE) or ())


def save_png(image: Image.Image, path: Path) -> Screenshot:
    """``image`` as an RGB PNG at ``path`` (atomically); what was saved."""
    rgb = image.convert("RGB")
    with open_atomic(path) as handle:
        rgb.save(handle, format="PNG")
    return Screenshot(path=path, width=rgb.width, height=rgb.height, colours=colour_count(rgb))


def _open(path: Path, formats: list[str]) -> Image.Image:
    try:
        with Image.open(path, formats=formats) as image:
            image.load()
            return image
    except (UnidentifiedImageError, OSError, SyntaxError) as exc:
        # Pillow reports a damaged PPM header as SyntaxError
        raise BuildError(f"{path} is not a readable {'/'.join(formats)} image ({exc})") from None


def ppm_to_png(ppm: Path, path: Path) -> Screenshot:
    """QMP's screendump (binary PPM) as a PNG at ``path``."""
    return save_png(_open(ppm, ["PPM"]), path)


def shrink(source: Path, dest: Path, *, max_width: int) -> Screenshot:
    """``source`` (PNG) at most ``max_width`` pixels wide at ``dest``, its aspect kept."""
    image = _open(source, ["PNG"]).convert("RGB")
    if image.width > max_width:
        height = max(1, round(image.height * max_width / image.width))
        image = image.resize((max_width, height), RESAMPLE)
    return save_png(image, dest)


def png_size(path: Path) -> tuple[int, int]:
    """(width, height) of a PNG; BuildError if it is not a PNG."""
    try:
        with Image.open(path, formats=["PNG"]) as image:
            return image.size
    except (UnidentifiedImageError, OSError) as exc:
        raise BuildError(f"{path} is not a PNG file ({exc})") from None
