"""validate --rules rhel6 on 47 public RHEL 6 kickstarts agrees with RHEL 6's own parser.

The corpus (tests/data/ks-corpus/, README.md there) keeps each file byte for byte with its
provenance; verdicts.json holds RHEL 6's verdict on each, derived from pykickstart 1.74.22's
source and confirmed with its code. The referee test runs RHEL 6's own ksvalidator again
when it is installed.
"""

from __future__ import annotations

import csv
import hashlib
import json
import re
from collections import Counter
from pathlib import Path

import pytest
import rhel6_pykickstart

from buildiso import paths
from buildiso.config import KsRules, Variant
from buildiso.render.profile import load_profile
from buildiso.render.validate import Kind, check_kickstart

CORPUS = Path(__file__).parents[1] / "data" / "ks-corpus"
FILES = sorted(CORPUS.glob("*.ks"))
VERDICTS = json.loads((CORPUS / "verdicts.json").read_text())["files"]
PROFILE = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)


def _provenance() -> list[dict[str, str]]:
    with (CORPUS / "provenance.tsv").open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter="\t"))


def test_corpus_is_public_kickstarts_byte_for_byte() -> None:
    rows = _provenance()
    assert len(FILES) >= 30
    assert [r["file"] for r in rows] == [f.name for f in FILES]
    assert sorted(VERDICTS) == [f.name for f in FILES]
    for row in rows:
        data = (CORPUS / row["file"]).read_bytes()
        blob = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # git hash-object
        assert blob == row["git_blob"], row["file"]
        assert re.fullmatch(r"[0-9a-f]{40}", row["commit"]) and row["repository"].count("/") == 1
        assert row["licence"] and row["kind"], row["file"]
    assert len({r["repository"] for r in rows}) >= 15


def test_corpus_exercises_what_the_issue_lists() -> None:
    texts = {f.name: f.read_bytes().decode() for f in FILES}
    joined = "\n".join(texts.values())
    for needed in ("network --onboot yes --device eth0 --bootproto static", "--domain ",
                   "zerombr yes", "--nocore", "--isencrypted", "ftp --server",
                   "--resolution", "%include /tmp/partitioning", "openssl rand",
                   "passwd --stdin"):  # fmt: skip
        assert needed in joined, needed
    assert sum(b"\r\n" in f.read_bytes() for f in FILES) >= 2
    assert sum(bool(v["warnings"]) for v in VERDICTS.values()) >= 5
    assert sum(v["verdict"] == "refuse" for v in VERDICTS.values()) >= 4


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_rules_rhel6_agrees_with_rhel6s_verdict(path: Path) -> None:
    expected = VERDICTS[path.name]
    problems = check_kickstart(
        path.read_bytes().decode(), filename=path.name, profile=PROFILE, rules=KsRules.RHEL6
    )
    errors = [p.line for p in problems if p.kind is Kind.RHEL6_SYNTAX]
    warnings = [p.line for p in problems if p.kind is Kind.RHEL6_WARNING]
    assert ("refuse" if errors else "accept") == expected["verdict"], problems
    assert errors == [e["line"] for e in expected["errors"]], problems
    assert Counter(warnings) == Counter(w["line"] for w in expected["warnings"]), problems
    assert all(p.kind in (Kind.RHEL6_SYNTAX, Kind.RHEL6_WARNING) for p in problems)


def test_corpus_verdict_counts() -> None:
    """42 accepted (7 with warnings), 5 refused: the figures docs/anaconda13-parser.md gives."""
    verdicts = Counter(v["verdict"] for v in VERDICTS.values())
    assert verdicts == {"accept": 42, "refuse": 5}
    assert sum(bool(v["warnings"]) for v in VERDICTS.values()) == 7


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_stored_verdict_is_rhel6_ksvalidators(path: Path) -> None:
    """Referee: RHEL 6's own ``ksvalidator -v RHEL6`` (it exits 0; its output is the verdict).

    It prints each error it goes past (``on line N``) and stops at the first warning, which
    it turns into an error ("File uses a deprecated option or command").
    """
    output = rhel6_pykickstart.ksvalidator(path)
    expected = VERDICTS[path.name]
    if expected["verdict"] == "accept" and not expected["warnings"]:
        assert output == ""
        return
    for error in expected["errors"]:
        assert f"occurred on line {error['line']} of the kickstart file" in output, output
    if expected["warnings"]:
        first = expected["warnings"][0]
        if first["what"].startswith("deprecated option"):
            assert f"Ignoring deprecated option on line {first['line']}" in output, output
        else:
            assert "does not end with %end" in output, output
    else:
        assert "deprecated" not in output, output
