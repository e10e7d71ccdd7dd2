"""buildiso.boundedjson: JSON read within bounds, values read by type."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.boundedjson import MAX_DEPTH, Fields, load_json, parse_json
from buildiso.errors import InputError


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"a": "\xff"}', "not UTF-8 (byte 7)"),
        (b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1), f"nested {MAX_DEPTH + 1} levels deep"),
        (b"[" * 100000 + b"]" * 100000, "nested 100000 levels deep"),
        (b'{"n": ' + b"9" * 5000 + b"}", "an integer of 5000 digits (out of bounds)"),
        (b'{"n": 1e400}', "a number out of range"),
        (b'{"n": NaN}', "NaN is not a JSON number"),
        (b'{"n": -Infinity}', "-Infinity is not a JSON number"),
        (b'{"a": {"b": ["ok", "\\udcff"]}}', "a.b[1]: a lone surrogate"),
        (b'{"\\ud800": 1}', "a lone surrogate"),
        (b"{", "not JSON"),
    ],
)
def test_out_of_bounds_is_one_line(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as caught:
        parse_json(data, source="f.json", hint="h")
    assert caught.value.message.startswith("f.json: ") and message in caught.value.message
    assert "\n" not in caught.value.message


def test_brackets_inside_strings_do_not_count_as_depth() -> None:
    assert parse_json(b'{"a": "' + b"[" * 100 + b'\\"["}', source="f", hint="h") == {
        "a": "[" * 100 + '"['
    }


def test_the_file_is_read_no_further_than_its_bound(tmp_path: Path) -> None:
    path = tmp_path / "big.json"
    path.write_text('"' + "x" * 100 + '"')
    with pytest.raises(InputError, match="larger than 10 bytes"):
        load_json(path, max_bytes=10, hint="h")
    with pytest.raises(InputError, match="not found"):
        load_json(tmp_path / "none.json", max_bytes=10, hint="h")
    assert load_json(path, max_bytes=200, hint="h") == "x" * 100


def test_fields_read_each_value_by_its_type() -> None:
    f = Fields("f.json", hint="h")
    table = {"on": True, "n": 3, "x": 2.5, "s": "text", "items": [1, 2], "none": None}
    assert f.flag(table, "", "on") is True and f.integer(table, "", "n", lo=0, hi=5) == 3
    assert f.number(table, "", "n", lo=0, hi=5) == 3.0 and f.maybe_number(table, "", "none",
                                                                          lo=0, hi=1) is None
    assert f.each(table, "", "items", lambda v, k: f.text_value(str(v), k), max_items=2) == (
        "1", "2")  # fmt: skip
    for call, message in [
        (lambda: f.flag(table, "t", "n"), "t.n: the number 3, expected true or false"),
        (lambda: f.integer(table, "t", "on", lo=0, hi=5), "t.on: true (a flag), expected"),
        (lambda: f.integer(table, "t", "n", lo=4, hi=5), "t.n: 3 out of range (4..5)"),
        (lambda: f.text(table, "t", "s", max_len=2), "t.s: 4 characters (at most 2)"),
        (lambda: f.items(table, "t", "items", max_items=1), "t.items: 2 entries (at most 1)"),
        (lambda: f.table(table["items"], "t.items"), "t.items: a list, expected a table"),
        (lambda: f.get(table, "t", "gone"), "t.gone: missing"),
    ]:
        with pytest.raises(InputError, match=message.replace("(", r"\(").replace(")", r"\)")):
            call()


def test_a_files_mtime_in_nanoseconds_is_a_number_it_reads() -> None:
    """The rebuild state records st_mtime_ns (19 digits today): read back, not refused."""
    import os

    mtime_ns = os.stat(__file__).st_mtime_ns
    assert parse_json(b'{"mtime_ns": %d}' % mtime_ns, source="s", hint="h") == {
        "mtime_ns": mtime_ns
    }
    assert parse_json(b'{"n": %d}' % (2**64 - 1), source="s", hint="h") == {"n": 2**64 - 1}
