"""Boot arguments the way RHEL 6's loader reads them: ks=, repo=, stage2=.

Pure parsing here; fetching the kickstart (mounting its device) is in media.py.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass

from .errors import InstallFailed


@dataclass(frozen=True)
class Location:
    """Where a file or tree is: ``method`` cdrom|hd|file, ``device`` spec, ``path`` on it."""

    method: str
    device: str | None
    path: str


def decode_spec(spec: str) -> str:
    r"""A device spec with RHEL's \x20 escape for spaces in labels decoded."""
    return spec.replace("\\x20", " ")


def parse_ks(value: str) -> Location:
    """``cdrom[:/path]``, ``hd:<dev>:/path`` (dev: sdb1, LABEL=…, UUID=…), ``file:/path``."""
    if value == "cdrom" or value.startswith("cdrom:"):
        path = value.partition(":")[2] or "/ks.cfg"
        return Location("cdrom", None, _absolute(path, value))
    if value.startswith("hd:"):
        device, sep, path = value[3:].partition(":")
        if not device or not sep or not path:
            raise InstallFailed("kickstart", f"ks={value}: expected ks=hd:<device>:/path")
        return Location("hd", decode_spec(device), _absolute(path, value))
    if value.startswith("file:"):
        return Location("file", None, _absolute(value[5:], value))
    raise InstallFailed(
        "kickstart",
        f"ks={value} is not supported by the sample installer (use ks=cdrom:/path, "
        "ks=hd:<device>:/path or ks=file:/path; there is no network here)",
    )


def parse_repo(value: str) -> Location:
    """``hd:<dev>:/path`` or ``cdrom``."""
    if value == "cdrom" or value.startswith("cdrom:"):
        return Location("cdrom", None, "/")
    if value.startswith("hd:"):
        device, _, path = value[3:].partition(":")
        if not device:
            raise InstallFailed("media", f"repo={value}: expected repo=hd:<device>:/path")
        return Location("hd", decode_spec(device), _absolute(path or "/", value))
    raise InstallFailed("media", f"repo={value} is not supported (use repo=hd:… or cdrom)")


def _absolute(path: str, value: str) -> str:
    if not path.startswith("/"):
        raise InstallFailed("kickstart", f"{value}: the path must start with '/'")
    return path


def boot_args(cmdline: str) -> dict[str, str]:
    """The key=value arguments of a kernel command line (last one wins, like the loader)."""
    args: dict[str, str] = {}
    for word in shlex.split(cmdline):
        key, sep, value = word.partition("=")
        args[key] = value if sep else ""
    return args
