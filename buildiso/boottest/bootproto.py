"""Reading a guest's serial output: ANSI stripping, the installer's line protocol, stages.

The protocol (docs/design.md, buildiso/sample/installer/PROTOCOL.md)::

    BUILDISO-STAGE name=<stage> status=start|ok|failed t=<seconds since kernel start>
    INSTALL-RESULT status=ok
    INSTALL-RESULT status=failed class=<class> reason="<one line>"
    FIRSTBOOT-RESULT status=ok report=<base64 of the post-install report JSON>
    FIRSTBOOT-RESULT status=failed reason="<one line>"

``StageClock`` turns those lines (plus host-side stages such as firmware and menu) into
stage timings and, when a stage takes too long, into "stuck in stage X after N s".
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from buildiso.boottest.results import StageStatus, StageTiming

# Host-observed stages first, then the installer's, then the installed system's.
HOST_STAGES = ("firmware", "menu")
# anaconda's order (and the sample installer's): the boot loader goes in before %post.
INSTALL_STAGES = (
    "kernel",
    "media",
    "kickstart",
    "partitioning",
    "packages",
    "bootloader",
    "post",
    "reboot",
)
FIRSTBOOT_STAGES = ("local-boot", "firstboot")
ALL_STAGES = HOST_STAGES + INSTALL_STAGES + FIRSTBOOT_STAGES

# CSI sequences (ESC [ ... final byte); cursor moves become newlines so menu rows that
# isolinux draws with absolute positioning stay apart.
_CSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CSI_MOVE = re.compile(r"\x1b\[[0-9;]*[Hf]")
_OTHER_ESC = re.compile(
    r"\x1b[()*+][0-9A-Za-z]|\x1b%[@G8]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)|\x1b[0-9A-Za-z=>]"
)
# isolinux draws the menu frame in the DEC line-drawing set between SO (\x0e) and SI (\x0f),
# with cursor moves inside. Only a terminated run is removed: an SO left open (a log cut
# short) must not swallow everything after it.
_LINE_DRAWING = re.compile(r"\x0e[^\x0f\x0e]{0,4000}?\x0f")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def strip_ansi(text: str) -> str:
    """Plain text of a serial log: escapes, line drawing and control characters removed."""
    text = _LINE_DRAWING.sub("", text)
    text = _CSI_MOVE.sub("\n", text)
    text = _CSI.sub("", text)
    text = _OTHER_ESC.sub("", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("", text)


def last_lines(text: str, count: int = 15) -> list[str]:
    """The last ``count`` non-blank lines of a (raw) serial log, ANSI removed."""
    lines = [ln.rstrip() for ln in strip_ansi(text).split("\n")]
    return [ln for ln in lines if ln.strip()][-count:]


# ---------------------------------------------------------------------------------------
# Protocol lines

_LINE = re.compile(r"(BUILDISO-STAGE|INSTALL-RESULT|FIRSTBOOT-RESULT)((?:[ \t]+[^\r\n]*)?)$")


@dataclass(frozen=True)
class ProtocolLine:
    kind: str  # BUILDISO-STAGE, INSTALL-RESULT or FIRSTBOOT-RESULT
    fields: Mapping[str, str]
    raw: str

    @property
    def status(self) -> str:
        return self.fields.get("status", "")

    @property
    def stage(self) -> str:
        return self.fields.get("name", "")

    @property
    def guest_time(self) -> float | None:
        try:
            return float(self.fields["t"])
        except (KeyError, ValueError):
            return None


def parse_line(line: str) -> ProtocolLine | None:
    """A protocol line found anywhere in ``line`` (kernel messages may precede it), or None."""
    match = _LINE.search(strip_ansi(line).strip())
    if match is None:
        return None
    try:
        words = shlex.split(match.group(2))
    except ValueError:
        return None  # an unterminated quote: a line cut by a reset, not a result
    fields: dict[str, str] = {}
    for word in words:
        key, sep, value = word.partition("=")
        if not sep or not key:
            return None
        fields[key] = value
    if "status" not in fields:
        return None
    return ProtocolLine(kind=match.group(1), fields=fields, raw=match.group(0))


class LineReader:
    """Feeds text chunks, yields complete lines (a line is complete at its newline)."""

    def __init__(self) -> None:
        self._rest = ""

    def feed(self, chunk: str) -> list[str]:
        data = (self._rest + chunk).replace("\r\n", "\n").replace("\r", "\n")
        *lines, self._rest = data.split("\n")
        return lines


def decode_report(encoded: str) -> dict[str, Any]:
    """The post-install report JSON carried base64-encoded by FIRSTBOOT-RESULT."""
    try:
        data = json.loads(base64.b64decode(encoded, validate=True).decode("utf-8"))
    except (binascii.Error, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ValueError(f"FIRSTBOOT-RESULT report is not base64 JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise ValueError("FIRSTBOOT-RESULT report is not a JSON object")
    return data


# ---------------------------------------------------------------------------------------
# Stage timing


@dataclass
class StageRecord:
    name: str
    started: float
    ended: float | None = None
    status: str = "running"  # running, ok, failed, timeout
    guest_start: float | None = None
    guest_end: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.ended is None else round(self.ended - self.started, 2)


@dataclass
class StageTimeout:
    stage: str
    seconds: float


@dataclass
class StageClock:
    """Which stage a cell is in, since when, and whether it has overstayed its limit.

    ``enter(stage, now)`` closes the current stage as ok and opens the next; the
    installer's ``start`` lines call it, so a stage is timed from when it began even when
    its predecessor's ``ok`` line was lost. Times are host monotonic seconds.
    """

    timeouts: Mapping[str, float] = field(default_factory=dict)  # stage -> seconds
    records: list[StageRecord] = field(default_factory=list)

    @property
    def current(self) -> StageRecord | None:
        if self.records and self.records[-1].status == "running":
            return self.records[-1]
        return None

    def enter(self, stage: str, now: float, *, guest_time: float | None = None) -> None:
        cur = self.current
        if cur is not None and cur.name == stage:
            return
        if cur is not None:
            self.finish(cur.name, now, status="ok")
        self.records.append(StageRecord(name=stage, started=now, guest_start=guest_time))

    def finish(
        self, stage: str, now: float, *, status: str = "ok", guest_time: float | None = None
    ) -> None:
        cur = self.current
        if cur is None or cur.name != stage:
            # An ok for a stage we never saw start: record it as an instant.
            self.records.append(StageRecord(name=stage, started=now, guest_start=guest_time))
            cur = self.records[-1]
        cur.ended = now
        cur.status = status
        cur.guest_end = guest_time

    def feed(self, line: ProtocolLine, now: float) -> None:
        """Apply a BUILDISO-STAGE line."""
        if line.kind != "BUILDISO-STAGE" or not line.stage:
            return
        if line.status == "start":
            self.enter(line.stage, now, guest_time=line.guest_time)
        elif line.status in ("ok", "failed"):
            self.finish(line.stage, now, status=line.status, guest_time=line.guest_time)

    def waiting_for(self) -> str:
        """The stage the cell is in or, between stages, the next one expected."""
        cur = self.current
        if cur is not None:
            return cur.name
        if not self.records:
            return ALL_STAGES[0]
        last = self.records[-1].name
        if last in ALL_STAGES:
            index = ALL_STAGES.index(last)
            if index + 1 < len(ALL_STAGES):
                return ALL_STAGES[index + 1]
        return last

    def since(self, now: float) -> float:
        """Seconds spent in the current (or awaited) stage."""
        cur = self.current
        if cur is not None:
            return now - cur.started
        if self.records and self.records[-1].ended is not None:
            return now - self.records[-1].ended
        return 0.0

    def overdue(self, now: float) -> StageTimeout | None:
        stage = self.waiting_for()
        limit = self.timeouts.get(stage)
        spent = self.since(now)
        if limit is not None and spent > limit:
            return StageTimeout(stage=stage, seconds=round(spent, 1))
        return None

    def mark_timeout(self, now: float) -> None:
        cur = self.current
        if cur is None:
            self.records.append(StageRecord(name=self.waiting_for(), started=now))
            cur = self.records[-1]
        cur.ended = now
        cur.status = "timeout"

    def fail_current(self, now: float) -> None:
        """Close a stage that is still running as failed (the harness saw it fail)."""
        cur = self.current
        if cur is not None:
            cur.ended = now
            cur.status = "failed"

    def typed(self) -> tuple[StageTiming, ...]:
        """Each stage's timing, in the order first seen; a stage seen again (a reboot)
        keeps its place and takes the later timing."""
        out: dict[str, StageTiming] = {}
        for rec in self.records:
            guest = None
            if rec.guest_start is not None and rec.guest_end is not None:
                guest = round(rec.guest_end - rec.guest_start, 2)
            out[rec.name] = StageTiming(name=rec.name, status=StageStatus(rec.status),
                                        seconds=rec.seconds, guest_seconds=guest)  # fmt: skip
        return tuple(out.values())


def stage_names(lines: Iterable[ProtocolLine]) -> list[str]:
    return [ln.stage for ln in lines if ln.kind == "BUILDISO-STAGE"]
