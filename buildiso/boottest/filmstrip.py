"""A cell's filmstrip: screenshots through the run, so a failed cell shows where it stopped.

A frame is taken whenever the cell enters another stage (firmware, menu, kernel, each
install stage, reboot, local-boot, firstboot), every ``interval_s`` while a stage runs
long, when a boot menu is completely drawn (``menu drawn``), and once at the end (``end``
or ``failed``). Each frame is kept twice in ``<cell>/filmstrip/``: the guest's screen at
full size in ``full/`` (what the report's thumbnail links to) and a PNG shrunk to at most
``FRAME_WIDTH`` pixels wide (``screendump.shrink``: area resampling, so a text console
stays text). ``filmstrip/index.json`` lists them::

    {"frames": [{"file": "0003-kernel.png", "full": "full/0003-kernel.png",
                 "stage": "kernel", "t": 12.4, "reason": "stage",
                 "width": 640, "height": 400}, ...]}

``width``/``height`` are the shrunk frame's. ``FRAME_WIDTH`` is 640: half a 1280x800 UEFI
console, where an 8x16 glyph is still 4x8 pixels (legible), and a report thumbnail of
320 CSS pixels is sharp on a 2x display. ``t`` is seconds since the cell started. The
index is rewritten after every frame, so a cell killed midway still has a readable
filmstrip. Screenshots are evidence, never the verdict: a frame that cannot be taken (the
guest just stopped) is skipped. So is a screen smaller than VGA's smallest mode, 320x200
(``MIN_SIZE``): the display is between two video modes (a CI run caught an 8-pixel-wide
screen while the guest kernel took over the console). A stage's first frame is tried
again at the next poll when it was skipped, up to ``STAGE_TRIES`` times.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from buildiso.atomicfile import write_json_atomic
from buildiso.boottest.results import MAX_INDEX_BYTES
from buildiso.boottest.screendump import Screenshot, shrink
from buildiso.boundedjson import read_bytes
from buildiso.errors import InputError

log = logging.getLogger(__name__)

FOLDER = "filmstrip"
FULL = "full"  # the full-size frames, inside FOLDER
INDEX = "index.json"
FRAME_WIDTH = 640
DEFAULT_INTERVAL_S = 10.0
MIN_SIZE = (320, 200)  # VGA's smallest mode: anything smaller is a mode switch in progress
STAGE_TRIES = 3

Grab = Callable[[Path], Screenshot]


@dataclass(frozen=True)
class Frame:
    file: str  # relative to the filmstrip folder: the shrunk frame
    full: str  # relative to the filmstrip folder: the full-size one
    stage: str
    t: float
    reason: str  # stage, periodic, menu drawn, end, failed
    width: int
    height: int


class Filmstrip:
    """Takes the frames of one cell attempt; ``grab(path)`` saves one full-size screenshot."""

    def __init__(
        self, folder: Path, *, grab: Grab, started: float, interval_s: float = DEFAULT_INTERVAL_S
    ) -> None:
        self.folder = folder
        self.grab = grab
        self.started = started
        self.interval_s = interval_s
        self.frames: list[Frame] = []
        self._stage: str | None = None
        self._stage_tries = 0  # failed attempts at the current stage's first frame; -1: taken
        self._last_at = started

    def tick(self, stage: str, now: float) -> None:
        """Called every poll round: a frame on a stage change or after ``interval_s``."""
        if stage != self._stage:
            self._stage, self._stage_tries = stage, 0
        if 0 <= self._stage_tries < STAGE_TRIES:
            taken = self.capture(stage, now, reason="stage")
            self._stage_tries = -1 if taken else self._stage_tries + 1
        elif self.interval_s > 0 and now - self._last_at >= self.interval_s:
            self.capture(stage, now, reason="periodic")

    def capture(self, stage: str, now: float, *, reason: str) -> Frame | None:
        self._last_at = now
        name = f"{len(self.frames):04d}-{_safe(stage)}.png"
        full = self.folder / FULL / name
        try:
            shot = self.grab(full)
            if shot.width < MIN_SIZE[0] or shot.height < MIN_SIZE[1]:
                log.debug("filmstrip frame %s: %dx%d screen skipped", name, shot.width, shot.height)
                full.unlink(missing_ok=True)
                return None
            small = shrink(full, self.folder / name, max_width=FRAME_WIDTH)
        except Exception as exc:  # noqa: BLE001 - a missing frame must not fail the cell
            log.debug("filmstrip frame %s: %s", name, exc)
            full.unlink(missing_ok=True)
            return None
        frame = Frame(
            file=name,
            full=f"{FULL}/{name}",
            stage=stage,
            t=round(now - self.started, 1),
            reason=reason,
            width=small.width,
            height=small.height,
        )
        self.frames.append(frame)
        self._write_index()
        return frame

    def _write_index(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        data = {"frames": [asdict(f) for f in self.frames]}
        write_json_atomic(self.folder / INDEX, data, indent=1)


def _safe(stage: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", stage)[:40] or "stage"


def read_index(cell_dir: Path) -> list[dict[str, Any]]:
    """The frames recorded for the cell in ``cell_dir`` (empty when it has none, or when
    its index is not a file of ours: a link, too big, not JSON). The report reads indexes
    through ``boottest/results.py``'s typed reader instead."""
    try:
        raw = read_bytes(cell_dir / FOLDER / INDEX, max_bytes=MAX_INDEX_BYTES)
        data = json.loads(raw.decode("utf-8"))
    except (OSError, InputError, UnicodeDecodeError, json.JSONDecodeError, RecursionError):
        return []
    frames = data.get("frames") if isinstance(data, dict) else None
    return [f for f in frames or [] if isinstance(f, dict) and isinstance(f.get("file"), str)]
