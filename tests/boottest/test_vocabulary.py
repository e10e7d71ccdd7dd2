"""buildiso.boottest.vocabulary: the closed set of failure classes, the steps' own examples,
dispatching, and the reference in docs/boot-test.md made from the vocabulary."""

from __future__ import annotations

import os
import tomllib
from pathlib import Path

import pytest
from bootfakes import FakeClock, FakeFactory, iso_media

from buildiso import paths
from buildiso.boottest import cellfailure, vocabulary
from buildiso.boottest.artifacts import CellFolder
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.inputs import Inputs
from buildiso.boottest.scenario import Cell
from buildiso.boottest.scenarioreader import _Reader
from buildiso.boottest.session import RunOptions, Session
from buildiso.boottest.steps import StepCall, StepKind
from buildiso.config import Accel, Firmware, Media
from buildiso.render.profile import Profile

DOC = paths.PROJECT_ROOT / "docs" / "boot-test.md"
BEGIN, END = "<!-- vocabulary: begin -->", "<!-- vocabulary: end -->"
REGEN = os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1"


def test_the_failure_classes_are_exactly_those_the_steps_declare() -> None:
    assert vocabulary.declared_classes() == set(cellfailure.CLASSES)


@pytest.mark.parametrize(
    ("name", "known"),
    [("post", True), ("timeout-in-stage-step-5", True), ("guest-stopped-in-stage-login", True),
     ("timeout-in-stage-", False), ("gremlins", False), ("timeout-in-stage-../x", False)],
)  # fmt: skip
def test_a_family_names_its_stage(name: str, known: bool) -> None:
    assert cellfailure.is_known(name) is known
    if name == "timeout-in-stage-step-5":
        assert cellfailure.meaning(name) == "stage step-5 overran its time limit"


@pytest.mark.parametrize("kind", list(vocabulary.VOCABULARY.values()), ids=lambda k: k.name)
def test_every_steps_example_is_a_valid_step(kind: StepKind) -> None:
    (item,) = tomllib.loads(f"steps = [{kind.example}]")["steps"]
    assert item["do"] == kind.name
    reader = _Reader(Path("example.toml"))
    inputs = {"iso": "product-iso", "old": "previous-release", "server": "server-dvd",
              "online": "online-tree"}
    assert reader.step(item, "steps[0]", 1, inputs) is not None
    assert reader.problems == []
    assert kind.name in vocabulary.describe() and kind.example in vocabulary.describe()


def test_a_step_that_raises_a_class_it_does_not_declare_is_a_bug(
    tmp_path: Path, profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    def liar(session: Session, call: StepCall) -> None:
        raise CellFailed("wrong-menu", "not mine to say")

    def honest(session: Session, call: StepCall) -> None:
        raise CellFailed("timeout-in-stage-x", "the runner's class: any step may")

    clock = FakeClock()
    session = Session(cell=Cell(Firmware.BIOS, Media.DVD), folder=CellFolder(tmp_path),
                      inputs=Inputs({"iso": iso_media(tmp_path, profile)}), limits={"x": 1},
                      options=RunOptions(accel=Accel.TCG), machines=FakeFactory(clock, {}),
                      clock=clock, sleep=clock.sleep)  # fmt: skip
    for name, run in (("liar", liar), ("honest", honest)):
        monkeypatch.setitem(vocabulary.VOCABULARY, name,  # type: ignore[index]
                            StepKind(name=name, summary="", example="", run=run, stage="x",
                                     classes=("packages",)))  # fmt: skip
    call = StepCall(index=1, kind="liar", stage="x", limits={"x": 1}, fails=None)
    with pytest.raises(vocabulary.UndeclaredFailure, match="liar raised 'wrong-menu'"):
        vocabulary.dispatch(session, call)
    with pytest.raises(CellFailed):
        vocabulary.dispatch(session, StepCall(index=2, kind="honest", stage="x", limits={},
                                              fails=None))  # fmt: skip
    assert [r.name for r in session.stages.records] == ["x"]  # the stage was entered


def test_the_docs_reference_is_the_vocabularys() -> None:
    text = DOC.read_text()
    assert BEGIN in text and END in text, f"{DOC} needs the {BEGIN} … {END} markers"
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    wanted = f"{head}{BEGIN}\n{vocabulary.reference_markdown()}{END}{tail}"
    if REGEN:
        DOC.write_text(wanted)
        text = wanted
    assert text == wanted, f"{DOC} differs from the vocabulary (BUILDISO_UPDATE_GOLDEN=1)"
