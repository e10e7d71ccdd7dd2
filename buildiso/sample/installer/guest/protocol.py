"""The serial line protocol (PROTOCOL.md) and human-readable progress.

Every line goes to /dev/console and, when it can be opened, to /dev/ttyS1 (the boot test
attaches a second serial port there so it reads clean lines).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from pathlib import Path

STAGES = ("kernel", "media", "kickstart", "partitioning", "packages", "bootloader", "post",
          "reboot")
STATUSES = ("start", "ok", "failed")


def one_line(text: str) -> str:
    """``text`` made safe for one protocol field: one line, no double quotes, bounded."""
    flat = " ".join(text.replace('"', "'").split())
    return flat[:400]


def stage_line(name: str, status: str, t: float) -> str:
    if name not in STAGES or status not in STATUSES:
        raise ValueError(f"bad stage line {name}/{status}")
    return f"BUILDISO-STAGE name={name} status={status} t={t:.2f}"


def result_ok_line() -> str:
    return "INSTALL-RESULT status=ok"


def result_failed_line(klass: str, reason: str) -> str:
    return f'INSTALL-RESULT status=failed class={klass} reason="{one_line(reason)}"'


def firstboot_ok_line(report: bytes) -> str:
    return f"FIRSTBOOT-RESULT status=ok report={base64.b64encode(report).decode()}"


def firstboot_failed_line(reason: str) -> str:
    return f'FIRSTBOOT-RESULT status=failed reason="{one_line(reason)}"'


def uptime() -> float:
    try:
        return float(Path("/proc/uptime").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0.0


class Reporter:
    """Writes progress and protocol lines to the console devices."""

    def __init__(self, devices: Sequence[Path] = (Path("/dev/console"), Path("/dev/ttyS1"))):
        self.devices = tuple(devices)
        self.current: str | None = None

    def say(self, text: str) -> None:
        for device in self.devices:
            try:
                with device.open("a") as out:
                    out.write(text + "\n")
            except OSError:
                pass  # ttyS1 without a UART behind it: nothing to report to

    def stage(self, name: str, status: str) -> None:
        # the stage a failure belongs to; none between stages
        self.current = name if status == "start" else None
        self.say(stage_line(name, status, uptime()))

    def ok(self) -> None:
        self.say(result_ok_line())

    def failed(self, klass: str, reason: str) -> None:
        if self.current is not None:
            self.stage(self.current, "failed")
        self.say(f"ERROR: {one_line(reason)}")
        self.say(result_failed_line(klass, reason))
