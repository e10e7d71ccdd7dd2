"""buildiso.boottest.bootproto: ANSI stripping, protocol lines, stage clock."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from buildiso.boottest.bootproto import (
    LineReader,
    StageClock,
    decode_report,
    last_lines,
    parse_line,
    strip_ansi,
)
from buildiso.boottest.results import StageStatus, StageTiming

DATA = Path(__file__).parents[1] / "data"


def test_strip_ansi_on_real_isolinux_serial_menu() -> None:
    # Captured from isolinux 6.04 vesamenu with "serial 0 115200" under SeaBIOS.
    raw = (DATA / "isolinux-serial-menu.txt").read_text(errors="replace")
    assert "\x1b[" in raw and "Boot from local drive" not in raw  # "^l" hotkey splits it
    plain = strip_ansi(raw)
    assert "\x1b" not in plain and "\x0e" not in plain
    assert "Welcome to Clearswift Email Solutions" in plain
    assert "Install Secure Email Gateway (serial console)" in plain
    assert "Boot from local drive" in plain
    # line-drawing frame characters (lqqqk in the DEC set) are gone
    assert "qqqq" not in plain


def test_strip_ansi_on_real_grub_serial_menu() -> None:
    raw = (DATA / "grub-serial-menu.txt").read_text(errors="replace")
    plain = strip_ansi(raw)
    assert "GNU GRUB" in plain and "Boot from local drive" in plain
    assert "\x1b" not in plain


def test_strip_ansi_moves_become_newlines() -> None:
    assert strip_ansi("a\x1b[2;5Hb\x1b[0;1mc\r\n") == "a\nbc\n"
    assert strip_ansi("x\x1b(B\x1b)0\x1b[?25ly") == "xy"


def test_last_lines() -> None:
    text = "one\r\n\x1b[1mtwo\x1b[0m\r\n\r\n   \r\nthree\r\n"
    assert last_lines(text, 2) == ["two", "three"]


@pytest.mark.parametrize(
    ("line", "kind", "fields"),
    [
        (
            "BUILDISO-STAGE name=packages status=start t=12.50",
            "BUILDISO-STAGE",
            {"name": "packages", "status": "start", "t": "12.50"},
        ),
        (
            "[   3.1] random kernel noise INSTALL-RESULT status=ok\r",
            "INSTALL-RESULT",
            {"status": "ok"},
        ),
        (
            'INSTALL-RESULT status=failed class=packages reason="cs-email needs libfoo.so.1"',
            "INSTALL-RESULT",
            {"status": "failed", "class": "packages", "reason": "cs-email needs libfoo.so.1"},
        ),
        (
            "FIRSTBOOT-RESULT status=ok report=eyJhIjoxfQ==",
            "FIRSTBOOT-RESULT",
            {"status": "ok", "report": "eyJhIjoxfQ=="},
        ),
    ],
)
def test_parse_line(line: str, kind: str, fields: dict[str, str]) -> None:
    parsed = parse_line(line)
    assert parsed is not None
    assert parsed.kind == kind
    assert dict(parsed.fields) == fields


@pytest.mark.parametrize(
    "line",
    [
        "installing packages (3/10)",
        'INSTALL-RESULT status=failed reason="cut by a reset',  # unterminated quote
        "INSTALL-RESULT ok",  # not key=value
        "BUILDISO-STAGE name=kernel",  # no status
        "XBUILDISO-STAGEY",
    ],
)
def test_parse_line_rejects(line: str) -> None:
    assert parse_line(line) is None


def test_guest_time() -> None:
    line = parse_line("BUILDISO-STAGE name=post status=ok t=33.25")
    assert line is not None and line.guest_time == 33.25 and line.stage == "post"
    bad = parse_line("BUILDISO-STAGE name=post status=ok t=soon")
    assert bad is not None and bad.guest_time is None


def test_line_reader_joins_chunks() -> None:
    reader = LineReader()
    assert reader.feed("BUILDISO-STA") == []
    assert reader.feed("GE name=kernel status=start t=1\r\nINSTALL") == [
        "BUILDISO-STAGE name=kernel status=start t=1"
    ]
    assert reader.feed("-RESULT status=ok\n") == ["INSTALL-RESULT status=ok"]


def test_decode_report() -> None:
    report = {"schema": 1, "rpms": ["a-1-1.x86_64"]}
    assert decode_report(base64.b64encode(json.dumps(report).encode()).decode()) == report
    with pytest.raises(ValueError, match="not base64 JSON"):
        decode_report("not*base64")
    with pytest.raises(ValueError, match="not a JSON object"):
        decode_report(base64.b64encode(b"[1, 2]").decode())


def _stage(name: str, status: str, t: float = 0.0):  # type: ignore[no-untyped-def]
    line = parse_line(f"BUILDISO-STAGE name={name} status={status} t={t}")
    assert line is not None
    return line


def test_stage_clock_times_stages_and_detects_overstay() -> None:
    clock = StageClock(timeouts={"kernel": 10, "media": 5, "packages": 20, "bootloader": 3})
    clock.enter("kernel", 0.0)
    clock.feed(_stage("kernel", "ok", 2.0), 4.0)
    assert clock.current is None and clock.waiting_for() == "media"
    assert clock.overdue(8.0) is None
    late = clock.overdue(9.5)  # 5.5 s after kernel ended, still no media start
    assert late is not None and late.stage == "media" and late.seconds == 5.5
    clock.feed(_stage("media", "start", 3.0), 9.0)
    clock.feed(_stage("media", "ok", 4.0), 10.0)
    clock.feed(_stage("packages", "start", 5.0), 11.0)  # lost kickstart lines don't matter
    assert clock.waiting_for() == "packages"
    assert clock.overdue(30.0) is None
    stuck = clock.overdue(31.5)
    assert stuck is not None and stuck.stage == "packages" and stuck.seconds == 20.5
    clock.mark_timeout(31.5)
    timings = {s.name: s for s in clock.typed()}
    assert timings["kernel"] == StageTiming("kernel", StageStatus.OK, 4.0, None)
    assert timings["media"].seconds == 1.0 and timings["media"].guest_seconds == 1.0
    assert timings["packages"].status is StageStatus.TIMEOUT and timings["packages"].bad


def test_stage_clock_failed_stage_and_start_closes_previous() -> None:
    clock = StageClock()
    clock.enter("firmware", 0.0)
    clock.enter("menu", 1.5)
    clock.feed(_stage("post", "start"), 3.0)
    clock.feed(_stage("post", "failed"), 4.0)
    t = {s.name: s for s in clock.typed()}
    assert t["firmware"].seconds == 1.5 and t["firmware"].status == "ok"
    assert t["menu"].seconds == 1.5
    assert t["post"].status == "failed"


def test_a_stage_seen_again_keeps_its_place_and_takes_the_later_timing() -> None:
    clock = StageClock()
    clock.enter("kernel", 0.0)
    clock.enter("reboot", 1.0)
    clock.enter("kernel", 2.0)
    clock.finish("kernel", 5.0)
    assert [(s.name, s.seconds) for s in clock.typed()] == [("kernel", 3.0), ("reboot", 1.0)]
