"""rpmversion.py: rpmvercmp and dependency ranges, checked against rpm's own answers."""

from __future__ import annotations

import pytest

from buildiso.compose.rpmversion import Evr, Flag, Relation, rpmvercmp
from buildiso.run import output

# (a, b, rpmvercmp(a, b)) — cases from rpm's own test suite (rpmvercmp.at) and el6 names.
CASES = [
    ("1.0", "1.0", 0),
    ("1.0", "2.0", -1),
    ("2.0", "1.0", 1),
    ("2.0.1", "2.0.1", 0),
    ("2.0", "2.0.1", -1),
    ("2.0.1a", "2.0.1", 1),
    ("5.5p1", "5.5p2", -1),
    ("5.5p10", "5.5p1", 1),
    ("10xyz", "10.1xyz", -1),
    ("xyz10", "xyz10.1", -1),
    ("xyz.4", "8", -1),
    ("8", "xyz.4", 1),
    ("1.0aa", "1.0a", 1),
    ("1b.fc17", "1.fc17", -1),
    ("2.0a", "2.0", 1),
    ("1.0010", "1.9", 1),
    ("1.05", "1.5", 0),
    ("20101121", "20101122", -1),
    ("1.0~rc1", "1.0", -1),
    ("1.0~rc1", "1.0~rc2", -1),
    ("1.0~rc1~git123", "1.0~rc1", -1),
    ("1.0^", "1.0", 1),
    ("1.0^git1", "1.0.1", -1),
    ("1.0^git1", "1.0^git2", -1),
    ("1.0^git1~pre", "1.0^git1", -1),
    ("2.6.32-754.el6", "2.6.32-754.30.2.el6", -1),
    ("1.el6", "1.el6_10", -1),
    ("a+", "a_", 0),
]


@pytest.mark.parametrize(("a", "b", "expected"), CASES)
def test_rpmvercmp(a: str, b: str, expected: int) -> None:
    assert rpmvercmp(a, b) == expected
    assert rpmvercmp(b, a) == -expected


@pytest.mark.integration
def test_rpmvercmp_agrees_with_rpm() -> None:
    # rpm's own comparison, through its %{lua:} interpreter: an independent oracle.
    pairs = " ".join(f"{{'{a}','{b}'}}," for a, b, _ in CASES)
    script = f"for _, p in ipairs({{{pairs}}}) do print(rpm.vercmp(p[1], p[2]) .. ' ') end"
    answers = [int(x) for x in output(["rpm", "--eval", f"%{{lua:{script}}}"]).split()]
    assert answers == [rpmvercmp(a, b) for a, b, _ in CASES]


def test_evr_parse_and_compare() -> None:
    assert Evr.parse("2:1.0-3.el6") == Evr(2, "1.0", "3.el6")
    assert Evr.parse("1.0") == Evr(0, "1.0", None)
    assert str(Evr.parse("2:1.0-3")) == "2:1.0-3"
    assert Evr(1, "0.1", "1").compare(Evr(0, "9.9", "9")) == 1
    # A requirement without a release matches every release of that version.
    assert Evr(0, "2.0", None).compare(Evr(0, "2.0", "7.el6")) == 0


rel = Relation.parse


@pytest.mark.parametrize(
    ("require", "provide", "expected"),
    [
        ("bar", "bar = 1.0-1", True),
        ("bar >= 2.0", "bar = 1.0-1", False),
        ("bar >= 2.0", "bar = 2.0-1", True),
        ("bar > 2.0", "bar = 2.0-1", False),  # release ignored: 2.0 is not > 2.0
        ("bar > 2.0-1", "bar = 2.0-2", True),
        ("bar < 2.0", "bar = 1.9-9", True),
        ("bar <= 1:1.0", "bar = 2.0", True),  # the epoch wins: 0:2.0 <= 1:1.0
        ("bar = 2.0", "bar = 2.0-5.el6", True),
        ("bar = 2.0-4", "bar = 2.0-5.el6", False),
        ("bar >= 2.0", "bar", True),  # unversioned provide satisfies anything
        ("bar >= 2.0", "bar >= 1.0", True),  # ranges overlap
        ("bar < 1.0", "bar > 2.0", False),
        ("foo", "bar = 1.0", False),
    ],
)
def test_relation_matches(require: str, provide: str, expected: bool) -> None:
    assert rel(require).matches(rel(provide)) is expected


def test_relation_str() -> None:
    assert str(rel("samba-common < 4")) == "samba-common < 4"
    assert str(Relation("postfix")) == "postfix"
    assert Flag.from_sense(8 | 4) is Flag.GE
    assert Flag.from_sense(2) is Flag.LT
    assert Flag.from_sense(0) is None


@pytest.mark.parametrize("text", ["bar", "bar = 1.0-1", "bar >= 2:1.0", "libc.so.6()(64bit)"])
def test_relation_parse_inverts_str(text: str) -> None:
    assert str(Relation.parse(text)) == text


def test_relation_parse_refuses_junk() -> None:
    with pytest.raises(ValueError, match="not an RPM relation"):
        Relation.parse("bar => 1.0")
    with pytest.raises(ValueError, match="not an RPM relation"):
        Relation.parse("bar >=")
