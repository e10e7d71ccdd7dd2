"""Live progress of a boot-test run: each cell's current stage and elapsed time.

On a terminal one line per cell is redrawn in place about once a second (log lines are
printed above the block, never through it). Elsewhere (CI logs, files) a plain line is
printed whenever a cell enters another stage, plus a one-line heartbeat every
``HEARTBEAT_S`` so a long stage still shows signs of life.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TextIO

REDRAW_S = 1.0
HEARTBEAT_S = 60.0
_UP_AND_CLEAR = "\x1b[{n}F\x1b[J"  # cursor up n lines to column 0, clear to the end


@dataclass
class _CellState:
    name: str
    stage: str = "waiting"
    started: float | None = None
    stage_since: float | None = None
    verdict: str | None = None
    seconds: float = 0.0


class Progress:
    """Thread-safe: worker threads call ``stage``/``done``; a ticker thread redraws."""

    def __init__(
        self,
        names: Sequence[str],
        *,
        stream: TextIO,
        tty: bool,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.stream = stream
        self.tty = tty
        self.clock = clock
        self.cells = {n: _CellState(n) for n in names}
        self.width = max((len(n) for n in names), default=4)
        self._lock = threading.RLock()
        self._drawn = 0  # lines of the block currently on the terminal
        self._last_heartbeat = clock()

    # -- called by the cells -------------------------------------------------------------

    def stage(self, name: str, stage: str) -> None:
        with self._lock:
            cell = self.cells[name]
            now = self.clock()
            if cell.started is None:
                cell.started = now
            if stage == cell.stage:
                return
            cell.stage, cell.stage_since = stage, now
            if not self.tty:
                self._write(f"progress: {self._line(cell, now)}\n")

    def done(self, name: str, *, passed: bool, seconds: float, failure: str | None) -> None:
        with self._lock:
            cell = self.cells[name]
            cell.verdict = "passed" if passed else f"FAILED [{failure}]"
            cell.seconds = seconds
            if self.tty:
                self.redraw()

    # -- drawing -------------------------------------------------------------------------

    def _line(self, cell: _CellState, now: float) -> str:
        label = cell.name.ljust(self.width)
        if cell.verdict is not None:
            return f"{label}  {cell.verdict} in {cell.seconds:.0f} s"
        if cell.started is None:
            return f"{label}  waiting"
        since = cell.started if cell.stage_since is None else cell.stage_since
        in_stage = now - since
        return f"{label}  {cell.stage:<12} {in_stage:4.0f} s  (cell {now - cell.started:.0f} s)"

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):
            pass  # a closed stream must not fail a cell

    def redraw(self) -> None:
        with self._lock:
            now = self.clock()
            lines = [self._line(c, now) for c in self.cells.values()]
            clear = _UP_AND_CLEAR.format(n=self._drawn) if self._drawn else ""
            self._write(clear + "".join(line + "\n" for line in lines))
            self._drawn = len(lines)

    def clear(self) -> None:
        with self._lock:
            if self.tty and self._drawn:
                self._write(_UP_AND_CLEAR.format(n=self._drawn))
                self._drawn = 0

    def heartbeat(self) -> None:
        with self._lock:
            now = self.clock()
            if now - self._last_heartbeat < HEARTBEAT_S:
                return
            self._last_heartbeat = now
            running = [
                c for c in self.cells.values() if c.started is not None and c.verdict is None
            ]
            if running:
                self._write(
                    "progress: " + "; ".join(self._line(c, now).strip() for c in running) + "\n"
                )

    @contextmanager
    def shown(self, logger: logging.Logger) -> Iterator[Progress]:
        """Draw while the block runs; ``logger``'s lines go above the block on a terminal."""
        stop = threading.Event()
        wrapped = list(logger.handlers)
        if self.tty:
            logger.handlers[:] = [_AboveProgress(h, self) for h in wrapped]
            self.redraw()

        def tick() -> None:
            while not stop.wait(REDRAW_S):
                if self.tty:
                    self.redraw()
                else:
                    self.heartbeat()

        ticker = threading.Thread(target=tick, name="progress", daemon=True)
        ticker.start()
        try:
            yield self
        finally:
            stop.set()
            ticker.join()
            if self.tty:
                self.redraw()  # the final state stays on screen
                self._drawn = 0
                logger.handlers[:] = wrapped


class _AboveProgress(logging.Handler):
    """Clears the progress block, lets the real handler write, then redraws the block."""

    def __init__(self, inner: logging.Handler, progress: Progress) -> None:
        super().__init__(inner.level)
        self.inner = inner
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        with self.progress._lock:
            self.progress.clear()
            self.inner.handle(record)
            self.progress.redraw()
