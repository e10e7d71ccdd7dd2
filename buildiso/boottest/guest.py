"""The running VM as a boot-test cell sees it: a protocol ``vm.Vm`` provides and tests fake."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from buildiso.boottest.screendump import Screenshot
from buildiso.boottest.seriallog import SerialLog


class Guest(Protocol):
    """What a cell needs from a running VM (vm.Vm provides it; tests fake it)."""

    console: SerialLog
    protocol: SerialLog

    @property
    def running(self) -> bool: ...

    def event_names(self) -> list[str]: ...

    def send_keys(self, keys: list[str]) -> None: ...

    def screendump(self, path: Path) -> Screenshot: ...

    def stderr_tail(self, lines: int = 5) -> str: ...
