"""The sample installer's reading of 47 public RHEL 6 kickstarts (tests/data/ks-corpus/).

``kstable.survey`` lists, per line, what an install of each kickstart would do: carried out,
accepted with no effect, refused (kickstart-unsupported) or failing as anaconda 13 fails.
The tests hold it to issue #18's rules: no command or option without a verdict (checked
against RHEL 6's own reading of the file, ``render/ks6reader``, not against the survey's),
every refusal naming command, option and line, and the outcome agreeing with RHEL 6's
parser (``verdicts.json``). The whole survey is golden data (``sample-survey.json``): a change
in the sample's behaviour is a reviewed diff. Regenerate on purpose with
    BUILDISO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/sample/test_installer_survey.py
"""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path

import pytest

from buildiso.render.ks6reader import read_kickstart
from buildiso.sample.installer.guest import kstable
from buildiso.sample.installer.guest.kstable import Finding, Verdict
from buildiso.sample.installer.guest.survey import first_stop

CORPUS = Path(__file__).parents[1] / "data" / "ks-corpus"
FILES = sorted(CORPUS.glob("*.ks"))
VERDICTS = json.loads((CORPUS / "verdicts.json").read_text())["files"]
GOLDEN = CORPUS / "sample-survey.json"
REGEN = os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1"
STOPS = (Verdict.REFUSED, Verdict.FAILS)
SURVEYS = {path.name: kstable.survey(path) for path in FILES}


def _entry(finding: Finding) -> str:
    """'LINE: WORDS: VERDICT', with the reason of a refusal or failure (one line each, so a
    change is a one-line diff)."""
    why = f" ({finding.rule.note})" if finding.rule.verdict in STOPS else ""
    return f"{finding.where}: {finding.words}: {finding.rule.verdict}{why}"


def _outcome(findings: list[Finding]) -> dict[str, object]:
    stop = first_stop(findings)
    if stop is None:
        return {"verdict": "carried"}
    return {"verdict": str(stop.rule.verdict), "line": stop.line, "command": stop.command,
            "message": stop.message()}  # fmt: skip


def _survey_data() -> dict[str, object]:
    return {
        "what": "kstable.survey of each corpus kickstart: per line the sample installer's "
        "verdict, and the outcome (survey.first_stop: where an install would stop, the first "
        "pass's first refusal or failure, else RHEL 6's parser's first error, else the first "
        "refused value; none: carried out whole as far as the file decides). Regenerate: "
        "BUILDISO_UPDATE_GOLDEN=1 .venv/bin/pytest tests/sample/test_installer_survey.py",
        "files": {
            name: {"outcome": _outcome(found), "findings": [_entry(f) for f in found]}
            for name, found in SURVEYS.items()
        },
    }


def test_survey_is_the_golden_one() -> None:
    data = _survey_data()
    if REGEN:
        GOLDEN.write_text(json.dumps(data, indent=1, ensure_ascii=False) + "\n")
    assert GOLDEN.exists(), f"{GOLDEN} missing: run BUILDISO_UPDATE_GOLDEN=1 pytest {__file__}"
    stored = json.loads(GOLDEN.read_text())
    changed = sorted(n for n in data["files"] if stored["files"].get(n) != data["files"][n])  # type: ignore[index]
    assert changed == [], f"the sample's survey changed for {changed}: regenerate on purpose"
    assert stored == data


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_no_command_or_option_is_silently_skipped(path: Path) -> None:
    """Every command and section RHEL 6's parser reads (up to where it stops), and each
    option word on it, has a finding on its line."""
    reading = read_kickstart(path.read_bytes().decode())
    found = SURVEYS[path.name]
    at = {(f.line, f.command) for f in found if not f.file}
    options = {(f.line, f.command, f.option) for f in found if not f.file and f.option}
    missing = []
    lines = [(c.line, c.words) for c in reading.commands]
    lines += [(s.line, s.words) for s in reading.sections]
    for line, words in lines:
        if (line, words[0]) not in at:
            missing.append(f"{line}: {words[0]}")
            continue
        if words[0] in kstable.FREE_FORM or words[0] not in {*kstable.COMMANDS, *kstable.SECTIONS}:
            continue  # authconfig's words go to the tool as they are; an unknown command fails
        for word in words[1:]:
            if word == "--":
                break
            name = word.split("=", 1)[0]
            if name.startswith("--") and not any(
                    (line, words[0], o) in options for o in _spellings(words[0], name)):
                missing.append(f"{line}: {words[0]} {name}")
    assert missing == []


def _spellings(command: str, typed: str) -> list[str]:
    """The option a typed word names: itself or the one it abbreviates (optparse)."""
    table = kstable.COMMANDS.get(command) or kstable.SECTIONS.get(command)
    resolved = kstable.resolve_option(table.options, typed) if table else None
    return [typed] + ([resolved] if resolved else [])


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_refusals_name_command_option_and_line(path: Path) -> None:
    lines = path.read_bytes().decode().split("\n")
    for finding in SURVEYS[path.name]:
        if finding.rule.verdict is not Verdict.REFUSED or finding.file:
            continue
        message = finding.message()
        assert message.startswith(f"unsupported: {finding.words} at line {finding.line} (")
        assert "\n" not in message
        first = lines[finding.line - 1].split()[0]
        assert first == finding.command, (finding.line, first, message)


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_outcome_agrees_with_rhel6s_parser(path: Path) -> None:
    """A kickstart RHEL 6 refuses is never carried out, and the sample fails where anaconda
    fails (at each error line of verdicts.json); one RHEL 6 accepts never fails as anaconda."""
    expected = VERDICTS[path.name]
    found = SURVEYS[path.name]
    fails = {f.line for f in found if f.rule.verdict is Verdict.FAILS}
    if expected["verdict"] == "refuse":
        assert first_stop(found) is not None
        assert {e["line"] for e in expected["errors"]} <= fails
    else:
        assert fails == set(), [f.message() for f in found if f.rule.verdict is Verdict.FAILS]


def test_corpus_outcome_counts() -> None:
    """The figures docs/anaconda13.md gives ("The public corpus")."""
    outcomes = {name: first_stop(found) for name, found in SURVEYS.items()}
    carried = sorted(name[:2] for name, stop in outcomes.items() if stop is None)
    assert carried == ["01", "02", "04", "05", "08", "10", "11", "12", "13", "14", "15", "16",
                       "18", "26", "28", "31", "33", "34", "35", "36", "37", "38"]
    by = Counter(f"{stop.rule.verdict} {stop.command}" for stop in outcomes.values() if stop)
    assert by == {"refused url": 15, "refused nfs": 5, "refused repo": 2, "refused xconfig": 1,
                  "refused part": 1, "fails ftp": 1}
