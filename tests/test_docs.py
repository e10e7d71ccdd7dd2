"""The commands README.md and docs/ show exist: every ``buildiso VERB --option`` in a code
block is a verb of the CLI with that option (the paths in them are examples)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import click
import pytest

from buildiso.cli import cli

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _commands(text: str) -> list[list[str]]:
    """``buildiso …`` lines of the ```sh blocks, continuation lines joined, comments cut."""
    found = []
    for block in re.findall(r"```(?:sh)?\n(.*?)```", text, flags=re.S):
        for line in block.replace("\\\n", " ").splitlines():
            if "buildiso " not in line:
                continue  # not a command of ours (or not shell at all: diagrams, protocols)
            words = shlex.split(line, comments=True)
            while words and (words[0].startswith(".venv/bin/") or "=" in words[0]):
                if words[0].endswith("buildiso"):
                    found.append(words[1:])
                    break
                words = words[1:]
            else:
                if words[:1] == ["buildiso"]:
                    found.append(words[1:])
    return found


def test_the_finder_reads_continuations_and_environment() -> None:
    text = (
        "```sh\n"
        ".venv/bin/buildiso build --base x.iso \\\n    --out dist/   # comment\n"
        "BUILDISO_CS_ADMIN_PASSWORD=... .venv/bin/buildiso build ...\n"
        "buildiso inspect out/X.iso\n"
        "./setup.sh && .venv/bin/pytest\n"
        "```\n"
    )
    assert _commands(text) == [
        ["build", "--base", "x.iso", "--out", "dist/"], ["build", "..."], ["inspect", "out/X.iso"]
    ]  # fmt: skip


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_shown_commands_use_real_verbs_and_options(doc: Path) -> None:
    wrong = []
    for words in _commands(doc.read_text()):
        verb = cli.commands.get(words[0]) if words else None
        if verb is None:
            wrong.append(f"buildiso {' '.join(words)}: no such verb")
            continue
        options = {o for p in verb.params if isinstance(p, click.Option) for o in p.opts}
        options |= {"-h", "--help"}
        for word in words[1:]:
            name = word.split("=", 1)[0]
            if name.startswith("-") and name not in options:
                wrong.append(f"buildiso {words[0]}: no option {name}")
    assert wrong == [], wrong
