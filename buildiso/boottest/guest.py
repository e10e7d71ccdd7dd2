"""The running VM as the steps see it: a protocol ``vm.Vm`` provides and tests fake."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from buildiso.boottest.screendump import Screenshot
from buildiso.boottest.seriallog import SerialLog


class Guest(Protocol):
    """What a step needs from a running VM (vm.Vm provides it; tests fake it)."""

    console: SerialLog
    protocol: SerialLog

    @property
    def running(self) -> bool: ...

    @property
    def console_socket(self) -> Path:
        """ttyS0 as a unix socket, when the machine was started with console input."""
        ...

    def event_names(self) -> list[str]: ...

    def send_keys(self, keys: list[str]) -> None: ...

    def screendump(self, path: Path) -> Screenshot: ...

    def change_media(self, iso: Path) -> None:
        """Put another disc into the DVD drive of the running machine."""
        ...

    def stderr_tail(self, lines: int = 5) -> str: ...

    def reboot_powers_off(self) -> None:
        """From now on a reboot of the guest ends its machine (a clean shutdown's last step)."""
        ...
