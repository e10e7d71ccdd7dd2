"""The vocabulary of scenario steps: every kind by name, dispatching, and its documentation.

``VOCABULARY`` maps a step's name (``do = "..."`` in a scenario file) to its kind;
``dispatch`` runs one step on a session: it enters the step's stage on the clock and
makes sure a failure carries a class the step declares (the set of failure classes is
closed: ``cellfailure.CLASSES``). ``describe`` is ``buildiso boot-test --list-steps``,
and the reference part of docs/boot-test.md is ``reference_markdown``.
"""

from __future__ import annotations

from collections.abc import Mapping

from buildiso.boottest import (
    cellfailure,
    consolesteps,
    disksteps,
    installsteps,
    pagesteps,
    serversteps,
)
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.checks import CHECKS
from buildiso.boottest.scenario import Scenario
from buildiso.boottest.session import Session
from buildiso.boottest.steps import INPUT_KINDS, Need, StepCall, StepKind

VOCABULARY: Mapping[str, StepKind] = {
    k.name: k
    for k in (
        *installsteps.KINDS,
        *serversteps.KINDS,
        *disksteps.KINDS,
        *consolesteps.KINDS,
        *pagesteps.KINDS,
    )
}


class UndeclaredFailure(AssertionError):
    """A step raised a failure class it does not declare: a bug in the step."""


def dispatch(session: Session, call: StepCall) -> None:
    kind = VOCABULARY[call.kind]
    if call.stage:
        session.stages.enter(call.stage, session.clock())
        session.entered(call.stage)
    try:
        kind.run(session, call)
    except CellFailed as exc:
        if not kind.may_raise(exc.failure_class, call.fails):
            raise UndeclaredFailure(
                f"{kind.name} raised {exc.failure_class!r}, which it does not declare"
            ) from exc
        raise


def needs(scenario: Scenario) -> set[Need]:
    """What the scenario's steps read of its inputs (resolved before anything boots)."""
    return {need for call in scenario.steps for need in VOCABULARY[call.kind].needs(call)}


def declared_classes() -> set[str]:
    """Every failure class some step (or the runner, or the report) may give."""
    found = set(cellfailure.RUNNER_CLASSES) | set(cellfailure.REPORT_CLASSES)
    for kind in VOCABULARY.values():
        found.update(kind.classes)
        found.update(kind.choosable)
    return found


def _limit_text(kind: StepKind) -> str:
    if kind.stages:
        return "limits = { " + ", ".join(f"{s} = SECONDS" for s in kind.stages) + " }"
    if kind.stage is None:
        return "no stage, no limit"
    stage = f'stage = "{kind.stage}" (default)' if kind.stage else 'stage = "NAME" (required)'
    return f"{stage}, limit = SECONDS"


def _fails_text(kind: StepKind) -> str:
    parts = list(kind.classes)
    if kind.choosable:
        parts.append(f"fails = {' | '.join(kind.choosable)} (required)")
    return ", ".join(parts) or "only the runner's"


def describe() -> str:
    """The vocabulary as plain text, each step with its usage example."""
    lines = ["Steps of a scenario file (do = NAME), each with a usage example:", ""]
    for kind in VOCABULARY.values():
        lines.append(f"{kind.name}")
        lines.append(f"    {kind.summary}")
        lines.append(f"    timing: {_limit_text(kind)}")
        lines.extend(f"    param:  {p.describe()}" for p in kind.params)
        lines.append(f"    fails:  {_fails_text(kind)}")
        lines.append(f"    e.g.    {kind.example}")
        lines.append("")
    lines.append("Checks (do = \"check\", names = [...]):")
    lines.extend(f"    {c.name}: {c.doc}" for c in CHECKS.values())
    lines.append("")
    lines.append("Inputs ([inputs] NAME = KIND):")
    lines.extend(f"    {name}: {doc}" for name, doc in INPUT_KINDS.items())
    lines.append("")
    lines.append("Failure classes (any step: infrastructure, timeout-in-stage-STAGE, "
                 "guest-stopped-in-stage-STAGE):")  # fmt: skip
    lines.extend(f"    {name}: {text}" for name, text in cellfailure.CLASSES.items())
    return "\n".join(lines) + "\n"


def reference_markdown() -> str:
    """docs/boot-test.md's reference section (tests/boottest/test_vocabulary.py keeps it
    equal to this; regenerate with BUILDISO_UPDATE_GOLDEN=1)."""
    out = ["### Steps", "", "| step | what it does | timing | parameters | fails with |",
           "| --- | --- | --- | --- | --- |"]  # fmt: skip
    for kind in VOCABULARY.values():
        params = "<br>".join(_md(p.describe()) for p in kind.params) or "–"
        out.append(f"| `{kind.name}` | {_md(kind.summary)}<br>e.g. `{kind.example}` | "
                   f"{_md(_limit_text(kind))} | {params} | {_md(_fails_text(kind))} |")  # fmt: skip
    out += ["", "### Checks (`check` step)", "", "| check | what it proves |", "| --- | --- |"]
    out += [f"| `{c.name}` | {_md(c.doc)} |" for c in CHECKS.values()]
    out += ["", "### Inputs", "", "| kind | what it is |", "| --- | --- |"]
    out += [f"| `{name}` | {_md(doc)} |" for name, doc in INPUT_KINDS.items()]
    out += ["", "### Failure classes", "", "| class | meaning |", "| --- | --- |"]
    out += [f"| `{n}` | {_md(t)} |" for n, t in cellfailure.CLASSES.items()]
    return "\n".join(out) + "\n"


def _md(text: str) -> str:
    return text.replace("|", "\\|")
