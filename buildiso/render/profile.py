"""The product profile: a checked-in TOML file loaded into frozen, typed dataclasses.

``load_profile(path, variant)`` reads e.g. ``profiles/email-490.toml`` and returns one
``Profile`` for the chosen variant (``test`` or ``production``; they differ in the size of
``/var``). Every value is checked here, once, before anything is rendered: an unknown key, a
wrong type or a value out of range is reported with the file, the dotted key and what is
allowed. All problems of a file are reported at once.

Strings are matched against narrow patterns rather than escaped later: a profile value ends
up in a kickstart line, a shell script, an isolinux ``append`` line and a GRUB
``menuentry '...'``, so a newline, ``%``, a quote, ``$`` or a backslash could end a line or
inject a ``%pre``. Such values are refused; the renderer re-checks (``unsafe_values``).

The values are the frozen dataclasses of ``profilemodel.py``; ``profilereader.py`` reads
and checks the TOML. Every public name stays importable from here.
"""

from __future__ import annotations

import dataclasses
import re
import tomllib
from collections.abc import Iterator
from pathlib import Path

from buildiso.config import Variant
from buildiso.errors import InputError
from buildiso.render.profilemodel import (
    EFI_PARTITION_MB,
    REPORT_PATH,
    ROOT_MIN_MB,
    SERIAL_CONSOLE_ARGS,
    TRACKING_FACTOR,
    VAR_MIN_MB,
    DiskLayout,
    Firewall,
    FirewallPort,
    Menu,
    Packages,
    Partition,
    Profile,
    Signing,
    System,
)
from buildiso.render.profilereader import (
    MAX_PROFILE_BYTES,
    SHA512_CRYPT,
    build_profile,
    check_toml_nesting,
)
from buildiso.render.profilerules import show

__all__ = [
    "EFI_PARTITION_MB", "REPORT_PATH", "ROOT_MIN_MB", "SERIAL_CONSOLE_ARGS", "TRACKING_FACTOR",
    "VAR_MIN_MB", "DiskLayout", "Firewall", "FirewallPort", "Menu", "Packages", "Partition",
    "Profile", "Signing", "System", "load_profile", "unsafe_values",
]  # fmt: skip


def load_profile(path: Path, variant: Variant) -> Profile:
    """Load and check the profile at ``path`` for ``variant``; InputError on any problem.
    Read bounded: at most ``MAX_PROFILE_BYTES``, nesting checked before the parser runs."""
    try:
        with path.open("rb") as f:
            raw = f.read(MAX_PROFILE_BYTES + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: profile not found", hint="pass --profile PATH") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read the profile ({exc.strerror})",
                         hint="pass --profile PATH of a readable file") from None  # fmt: skip
    if len(raw) > MAX_PROFILE_BYTES:
        raise InputError(f"{path}: larger than {MAX_PROFILE_BYTES // 1024} KiB: not a profile",
                         hint="pass --profile PATH of a product profile (a few KB)")  # fmt: skip
    try:
        text = raw.decode("utf-8")
        check_toml_nesting(text, source=str(path))
        data = tomllib.loads(text)
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}", hint="fix the syntax") from None
    profile = build_profile(Path(path), data, variant)
    return profile


# --- re-check before rendering ----------------------------------------------------------
_UNSAFE = re.compile(r"""[\x00-\x1f\x7f%"'`$\\;#{}<>|&]""")


def _strings(value: object, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _strings(getattr(value, field.name), f"{key}.{field.name}".lstrip("."))


def unsafe_values(profile: Profile) -> list[str]:
    """Profile strings that could break out of a kickstart/menu line (``key: value``).

    ``load_profile`` already refuses these; this guards profiles built in code
    (``dataclasses.replace``) before anything is rendered. The password hash is checked
    against its own pattern since ``$`` is part of it.
    """
    problems = []
    for key, value in _strings(profile, ""):
        if key == "admin_password_hash":
            if re.fullmatch(SHA512_CRYPT, value) is None:
                problems.append(f"{key}: not a SHA-512 crypt hash")
        elif _UNSAFE.search(value):
            problems.append(
                f"{key}: {show(value)} contains a character that could end a line "
                "or inject a section (newline, %, quote, $, \\, ...)"
            )
    return problems
