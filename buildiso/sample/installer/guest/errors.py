"""The one exception of the installer: a failed install with its protocol class."""

from __future__ import annotations

# Failure classes of the serial protocol (PROTOCOL.md). ``kickstart`` is a kickstart that
# anaconda 13 refuses too; ``kickstart-unsupported`` one that RHEL 6 would carry out but the
# sample cannot (a limit of the sample, never a verdict on the kickstart).
CLASSES = ("media", "kickstart", "kickstart-unsupported", "packages", "post", "disk",
           "bootloader", "internal")
UNSUPPORTED = "kickstart-unsupported"


class InstallFailed(Exception):
    """The install cannot go on; ``klass`` is the protocol's failure class."""

    def __init__(self, klass: str, reason: str) -> None:
        if klass not in CLASSES:
            raise ValueError(f"unknown failure class {klass!r}")
        super().__init__(reason)
        self.klass = klass
        self.reason = reason
