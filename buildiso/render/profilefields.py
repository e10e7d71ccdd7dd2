"""Reading a profile's TOML: bounded (size, nesting, list lengths) and typed, every problem
collected with its dotted key (``FieldReader``). ``profilereader.py`` says which fields a
profile has and what is allowed in each; this module says how a value is read.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from buildiso.errors import InputError
from buildiso.render.profilerules import path_problem, show

# --- bounds -----------------------------------------------------------------------------
# A profile is ~4 KB; these bound what a damaged or hostile one can make the reader do.
MAX_PROFILE_BYTES = 256 * 1024
MAX_NESTING = 16  # [[partitions]] + an inline table + an array need 3
# Entries per list (firewall ports, packages, groups, partitions): the guide's firewall has
# 12 ports; with every list at this length the kickstart stays far inside what validate
# accepts (tests/hostile/test_hostile_n15_n16_profile_bounds.py renders it).
MAX_LIST = 128
MAX_PARTITIONS = 16  # an MBR disk takes 3 primary partitions + logical ones; RHEL's fit


def check_toml_nesting(text: str, *, source: str) -> None:
    """Refuse arrays and inline tables nested deeper than ``MAX_NESTING`` before a parser
    recurses into them (Python's tomllib recurses once per level: 1,000 ``[`` is a
    RecursionError). Brackets inside strings and comments do not count."""
    depth, line, i, n = 0, 1, 0, len(text)
    while i < n:
        char = text[i]
        if char == "\n":
            line += 1
        elif char == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        elif char in "\"'":
            quote = text[i : i + 3] if text.startswith(char * 3, i) else char
            i += len(quote)
            while i < n and not text.startswith(quote, i):
                if text[i] == "\\" and quote[0] == '"':
                    i += 1  # an escaped character, whatever it is
                elif text[i] == "\n":
                    line += 1
                i += 1
            i += len(quote)
            continue
        elif char in "[{":
            depth += 1
            if depth > MAX_NESTING:
                raise InputError(
                    f"{source}: line {line}: arrays or tables nested deeper than {MAX_NESTING}",
                    hint="a profile needs 3 levels at most: see profiles/email-490.toml",
                )
        elif char in "]}":
            depth -= 1
        i += 1


# --- typed values ---------------------------------------------------------------------------
T = TypeVar("T")


class FieldReader:
    """Reads typed values out of TOML tables, collecting every problem with its key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")

    def check_path(self, key: str, value: str, *, absolute: bool) -> None:
        """A path must be normalised: no ``..`` or ``.`` parts, no ``//``, no trailing ``/``."""
        if value:  # an empty one is already reported by its pattern
            error = path_problem(value, absolute=absolute)
            if error:
                self.problem(key, error)

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str],
              *, optional: bool = False) -> dict[str, Any]:  # fmt: skip
        """The table ``key`` (its last dotted part in ``data``), unknown keys reported; an
        absent ``optional`` one is empty."""
        value = data.get(key.rsplit(".", 1)[-1])
        if value is None and optional:
            return {}
        if not isinstance(value, dict):
            self.problem(key, f"missing or not a table (expected [{key}])")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.problem(f"{key}.{unknown}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def get(
        self,
        data: Mapping[str, Any],
        section: str,
        name: str,
        kind: type[T],
        default: T,
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        key = f"{section}.{name}" if section else name
        if name not in data:
            self.problem(key, f"missing (expected {kind.__name__})")
            return default
        value = data[name]
        # bool is an int in Python: do not accept true for a number or 1 for a flag.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(key, f"wrong type {type(value).__name__} (expected {kind.__name__})")
            return default
        if isinstance(value, list) and len(value) > MAX_LIST:
            self.problem(key, f"{len(value)} entries (allowed: at most {MAX_LIST})")
            return default
        if check is not None:
            error = check(value)
            if error:
                self.problem(key, error)
                return default
        return value

    def text(
        self,
        data: Mapping[str, Any],
        section: str,
        name: str,
        pattern: str,
        desc: str,
        *,
        secret: bool = False,
    ) -> str:
        return self.get(data, section, name, str, "", pattern_check(pattern, desc, secret=secret))

    def integer(self, data: Mapping[str, Any], section: str, name: str, lo: int, hi: int) -> int:
        return self.get(data, section, name, int, lo, range_check(lo, hi))

    def flag(self, data: Mapping[str, Any], section: str, name: str) -> bool:
        return self.get(data, section, name, bool, False)

    def choice(
        self, data: Mapping[str, Any], section: str, name: str, allowed: tuple[str, ...]
    ) -> str:
        def check(value: str) -> str | None:
            if value not in allowed:
                return f"{show(value)} not allowed (allowed: {', '.join(allowed)})"
            return None

        return self.get(data, section, name, str, allowed[0], check)

    def text_list(
        self, data: Mapping[str, Any], section: str, name: str, pattern: str, desc: str
    ) -> tuple[str, ...]:
        items = self.get(data, section, name, list, [])
        out: list[str] = []
        for index, item in enumerate(items):
            key = f"{section}.{name}[{index}]"
            if not isinstance(item, str):
                self.problem(key, f"wrong type {type(item).__name__} (expected str)")
                continue
            error = pattern_check(pattern, desc)(item)
            if error:
                self.problem(key, error)
                continue
            out.append(item)
        if len(set(out)) != len(out):
            self.problem(f"{section}.{name}", "duplicate entries")
        return tuple(out)


def pattern_check(pattern: str, desc: str, *, secret: bool = False) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if re.fullmatch(pattern, value) is None:
            # A field meant for a hash may hold a plaintext password by mistake: never echo it.
            shown = "value (not shown)" if secret else show(value)
            return f"{shown} not allowed (allowed: {desc})"
        return None

    return check


def range_check(lo: int, hi: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        if not lo <= value <= hi:
            return f"{value} out of range (allowed: {lo}..{hi})"
        return None

    return check


