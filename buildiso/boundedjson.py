"""JSON the tool reads back (a manifest, its rebuild state, the verified-digest cache), read
into bounded values: a size limit, no symbolic link unless the caller named it, a nesting
depth checked before the parser recurses, finite numbers of sane size, valid Unicode.

Python's ``json`` recurses once per nesting level (100,000 ``[`` is a RecursionError),
reads ``1e999`` as infinity and ``"\\udcff"`` as a lone surrogate that breaks the next
``print``; every one of those is refused here as one ``InputError`` naming the file.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from pathlib import Path
from typing import Any

from buildiso.errors import InputError

MAX_NUMBER_DIGITS = 40  # an int64, a sha256 in decimal: plenty


# A JSON string (skipped whole) or one bracket: scanned by the regex engine, not a loop.
_TOKENS = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"|[\[\]{}]', re.DOTALL)


def _depth(text: str) -> int:
    """The deepest nesting of ``[``/``{`` outside strings."""
    depth = deepest = 0
    for token in _TOKENS.finditer(text):
        char = token.group()
        if char in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif char in "]}":
            depth -= 1
    return deepest


def _number(text: str) -> int | float:
    if len(text) > MAX_NUMBER_DIGITS:
        raise ValueError(f"number with {len(text)} characters")
    value = float(text) if any(c in text for c in ".eE") else int(text)
    if isinstance(value, float) and not math.isfinite(value):
        raise ValueError(f"number {text} is not finite")
    return value


def _constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _check_strings(value: Any) -> None:
    """Every string (keys too) encodes as UTF-8: no lone surrogates. Depth is bounded."""
    if isinstance(value, str):
        value.encode("utf-8")
    elif isinstance(value, list):
        for item in value:
            _check_strings(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            key.encode("utf-8")
            _check_strings(item)


def read_bytes(path: Path, *, max_bytes: int, follow_symlinks: bool = False) -> bytes:
    """``path``'s bytes, at most ``max_bytes``; a symlink only if ``follow_symlinks``."""
    flags = os.O_RDONLY | (0 if follow_symlinks else os.O_NOFOLLOW)
    try:
        fd = os.open(path, flags)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"{path}: a symbolic link", hint="give the file itself") from None
        raise
    with os.fdopen(fd, "rb") as f:
        data = f.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes} bytes", hint="is it the right file?")
    return data


def read_text(path: Path, *, max_bytes: int, follow_symlinks: bool = False) -> str:
    """``path``'s text (UTF-8), at most ``max_bytes``; a symlink only if ``follow_symlinks``."""
    data = read_bytes(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})",
                         hint="is it the right file?") from None  # fmt: skip


def loads(text: str, *, max_depth: int, source: str) -> Any:
    """Parse ``text``; InputError naming ``source`` for anything unbounded or invalid."""
    deepest = _depth(text)
    if deepest > max_depth:
        raise InputError(f"{source}: JSON nested {deepest} deep (at most {max_depth})",
                         hint="is it the right file?")  # fmt: skip
    try:
        value = json.loads(text, parse_int=_number, parse_float=_number, parse_constant=_constant)
        _check_strings(value)
    except (ValueError, UnicodeEncodeError) as exc:  # JSONDecodeError is a ValueError
        raise InputError(f"{source}: not valid JSON ({str(exc)[:200]})",
                         hint="is it the right file?") from None  # fmt: skip
    return value


def load(path: Path, *, max_bytes: int, max_depth: int, follow_symlinks: bool = False) -> Any:
    """``path`` read (bounded) and parsed (bounded); OSError when it cannot be read."""
    text = read_text(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    return loads(text, max_depth=max_depth, source=str(path))
