"""Reading JSON someone else wrote (a shard's results, a manifest, the rebuild state, the
verified-digest cache) into bounded, typed values.

``load_json`` refuses, with one line naming the file (and, for a value, its dotted key):
more than ``max_bytes``, bytes that are not UTF-8, nesting deeper than ``MAX_DEPTH``,
integers longer than ``MAX_INT_DIGITS`` digits, non-finite or overlong floats, NaN and
Infinity, and strings holding lone surrogates (``"\\udcff"`` is valid JSON but no text:
writing it as UTF-8 fails later, far from the file that carried it).

``read_bytes``/``read_text`` bound a file's size and follow no symbolic link unless the caller
says the user named it; ``load`` (a file) and ``loads`` (text) take their own depth bound.

``Fields`` then reads the parsed values by key with the type the reader expects, so a
``true`` never passes for a number, ``"false"`` never for a flag, and a list never for a
table: the first mismatch is an InputError naming the file and the key.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TypeVar

from buildiso.errors import InputError

MAX_DEPTH = 32
MAX_INT_DIGITS = 20  # any 64-bit count, size, offset or mtime_ns; float() of it never overflows
MAX_FLOAT_TEXT = 40
# Strings in JSON (escapes included) are skipped when counting brackets.
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")

T = TypeVar("T")


class _Refused(ValueError):
    """A value the bounds refuse (raised from json's parse hooks)."""


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _Refused(f"an integer of {len(text.lstrip('-'))} digits")
    return int(text)


def _parse_float(text: str) -> float:
    if len(text) > MAX_FLOAT_TEXT:
        raise _Refused(f"a number written with {len(text)} characters")
    value = float(text)
    if not math.isfinite(value):
        raise _Refused(f"a number out of range ({text[:20]})")
    return value


def _parse_constant(text: str) -> float:
    raise _Refused(f"{text} is not a JSON number")


def _depth(data: bytes) -> int:
    depth = deepest = 0
    for match in _BRACKETS.finditer(_STRING.sub(b'""', data)):
        depth += 1 if match.group() in (b"[", b"{") else -1
        deepest = max(deepest, depth)
    return deepest


def _lone_surrogate(value: object, key: str) -> str | None:
    """The dotted key of the first string (or table key) holding a lone surrogate."""
    stack: list[tuple[object, str]] = [(value, key)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                return where or "(top)"
        elif isinstance(item, dict):
            for name, inner in item.items():
                try:
                    name.encode("utf-8")
                except UnicodeEncodeError:
                    return f"{where}.{name!a}".lstrip(".")
                stack.append((inner, f"{where}.{name}".lstrip(".")))
        elif isinstance(item, list):
            stack.extend((inner, f"{where}[{i}]") for i, inner in enumerate(item))
    return None


def parse_json(data: bytes, *, source: str, hint: str, max_depth: int = MAX_DEPTH) -> object:
    """``data`` parsed within the bounds (see the module docstring); InputError otherwise."""
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{source}: not UTF-8 (byte {exc.start})", hint=hint) from None
    deepest = _depth(data)
    if deepest > max_depth:
        raise InputError(
            f"{source}: nested {deepest} levels deep (at most {max_depth})", hint=hint
        )
    try:
        value = json.loads(
            text,
            parse_int=_parse_int,
            parse_float=_parse_float,
            parse_constant=_parse_constant,
        )
    except _Refused as exc:
        raise InputError(f"{source}: {exc} (out of bounds)", hint=hint) from None
    except (json.JSONDecodeError, ValueError, RecursionError) as exc:
        raise InputError(f"{source}: not JSON ({exc})", hint=hint) from None
    bad = _lone_surrogate(value, "")
    if bad is not None:
        raise InputError(f"{source}: {bad}: a lone surrogate, not text", hint=hint)
    return value


def load_json(path: Path, *, max_bytes: int, hint: str) -> object:
    """The JSON file at ``path`` (at most ``max_bytes``), parsed within the bounds."""
    try:
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise InputError(f"{path}: not found", hint=hint) from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})", hint=hint) from None
    if len(data) > max_bytes:
        raise InputError(f"{path}: larger than {max_bytes} bytes", hint=hint)
    return parse_json(data, source=str(path), hint=hint)


_HINT = "is it the right file?"


def read_bytes(path: Path, *, max_bytes: int, follow_symlinks: bool = False) -> bytes:
    """``path``'s bytes, at most ``max_bytes``; a symlink only if ``follow_symlinks``.
    OSError when it cannot be opened (the caller says what the file was for)."""
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
        raise InputError(f"{path}: larger than {max_bytes} bytes", hint=_HINT)
    return data


def read_text(path: Path, *, max_bytes: int, follow_symlinks: bool = False) -> str:
    """``path``'s text (UTF-8), at most ``max_bytes``; a symlink only if ``follow_symlinks``."""
    data = read_bytes(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not UTF-8 ({exc.reason} at byte {exc.start})",
                         hint=_HINT) from None  # fmt: skip


def loads(text: str, *, max_depth: int, source: str) -> object:
    """``text`` parsed within the bounds, nested at most ``max_depth``."""
    try:
        data = text.encode("utf-8")
    except UnicodeEncodeError:
        raise InputError(f"{source}: a lone surrogate, not text", hint=_HINT) from None
    return parse_json(data, source=source, hint=_HINT, max_depth=max_depth)


def load(path: Path, *, max_bytes: int, max_depth: int, follow_symlinks: bool = False) -> object:
    """``path`` read (bounded, see ``read_bytes``) and parsed (bounded); OSError when it
    cannot be read."""
    data = read_bytes(path, max_bytes=max_bytes, follow_symlinks=follow_symlinks)
    return parse_json(data, source=str(path), hint=_HINT, max_depth=max_depth)


class Fields:
    """Typed reads from parsed JSON; the first mismatch is an InputError naming the key."""

    def __init__(self, source: str, *, hint: str) -> None:
        self.source = source
        self.hint = hint

    def fail(self, key: str, message: str) -> InputError:
        return InputError(f"{self.source}: {key}: {message}", hint=self.hint)

    def _type(self, value: object, key: str, kind: type[T], what: str) -> T:
        # bool is an int in Python: true is no number, 1 is no flag.
        if not isinstance(value, kind) or (kind in (int, float) and isinstance(value, bool)):
            raise self.fail(key, f"{_kind(value)}, expected {what}")
        return value

    def table(self, value: object, key: str) -> Mapping[str, object]:
        return self._type(value, key, dict, "a table")

    def get(self, table: Mapping[str, object], key: str, name: str) -> object:
        if name not in table:
            raise self.fail(_join(key, name), "missing")
        return table[name]

    def text(
        self,
        table: Mapping[str, object],
        key: str,
        name: str,
        *,
        max_len: int = 4096,
        pattern: re.Pattern[str] | None = None,
        optional: bool = False,
    ) -> str:
        value = table.get(name) if optional else self.get(table, key, name)
        if value is None and optional:
            return ""
        return self.text_value(value, _join(key, name), max_len=max_len, pattern=pattern)

    def text_value(
        self, value: object, where: str, *, max_len: int = 4096,
        pattern: re.Pattern[str] | None = None,
    ) -> str:  # fmt: skip
        """``value`` (found at ``where``) as text of at most ``max_len`` matching ``pattern``."""
        text = self._type(value, where, str, "text")
        if len(text) > max_len:
            raise self.fail(where, f"{len(text)} characters (at most {max_len})")
        if pattern is not None and pattern.fullmatch(text) is None:
            raise self.fail(where, f"{text[:60]!r} is not allowed here")
        return text

    def maybe_text(
        self, table: Mapping[str, object], key: str, name: str, *, max_len: int = 4096
    ) -> str | None:
        if table.get(name) is None:
            return None
        return self.text(table, key, name, max_len=max_len)

    def number(
        self, table: Mapping[str, object], key: str, name: str, *, lo: float, hi: float
    ) -> float:
        where = _join(key, name)
        value = self.get(table, key, name)
        if isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        number = self._type(value, where, float, "a number")
        if not lo <= number <= hi:
            raise self.fail(where, f"{number:g} out of range ({lo:g}..{hi:g})")
        return number

    def maybe_number(
        self, table: Mapping[str, object], key: str, name: str, *, lo: float, hi: float
    ) -> float | None:
        if table.get(name) is None:
            return None
        return self.number(table, key, name, lo=lo, hi=hi)

    def integer(
        self, table: Mapping[str, object], key: str, name: str, *, lo: int, hi: int
    ) -> int:
        where = _join(key, name)
        number = self._type(self.get(table, key, name), where, int, "an integer")
        if not lo <= number <= hi:
            raise self.fail(where, f"{number} out of range ({lo}..{hi})")
        return number

    def flag(self, table: Mapping[str, object], key: str, name: str) -> bool:
        return self._type(self.get(table, key, name), _join(key, name), bool, "true or false")

    def items(
        self,
        table: Mapping[str, object],
        key: str,
        name: str,
        *,
        max_items: int,
        optional: bool = False,
    ) -> Sequence[object]:
        value = table.get(name) if optional else self.get(table, key, name)
        if value is None and optional:
            return ()
        where = _join(key, name)
        listed = self._type(value, where, list, "a list")
        if len(listed) > max_items:
            raise self.fail(where, f"{len(listed)} entries (at most {max_items})")
        return listed

    def each(
        self,
        table: Mapping[str, object],
        key: str,
        name: str,
        read: Callable[[object, str], T],
        *,
        max_items: int,
        optional: bool = False,
    ) -> tuple[T, ...]:
        """``read(item, its key)`` for every item of the list at ``name``."""
        where = _join(key, name)
        items = self.items(table, key, name, max_items=max_items, optional=optional)
        return tuple(read(item, f"{where}[{i}]") for i, item in enumerate(items))


def _join(key: str, name: str) -> str:
    return f"{key}.{name}" if key else name


def _kind(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"{str(value).lower()} (a flag)"
    if isinstance(value, int | float):
        return f"the number {value:g}"
    if isinstance(value, str):
        return f"the text {value[:40]!r}"
    if isinstance(value, dict):
        return "a table"
    return "a list" if isinstance(value, list) else type(value).__name__
