"""The one exception of the installer: a failed install with its protocol class."""

from __future__ import annotations

# Failure classes of the serial protocol (PROTOCOL.md).
CLASSES = ("media", "kickstart", "packages", "post", "disk", "bootloader", "internal")


class InstallFailed(Exception):
    """The install cannot go on; ``klass`` is the protocol's failure class."""

    def __init__(self, klass: str, reason: str) -> None:
        if klass not in CLASSES:
            raise ValueError(f"unknown failure class {klass!r}")
        super().__init__(reason)
        self.klass = klass
        self.reason = reason
