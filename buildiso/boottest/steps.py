"""What a step of a scenario is: its kind (a verb of the vocabulary) and one use of it.

A ``StepKind`` is a function dispatched by name, as lorax runs its template commands and
os-autoinst its testapi verbs: it documents itself (summary, parameters, a usage example),
says which stage(s) it times, which failure classes it raises, whether it needs a running
machine, and which resolved inputs it reads (so they are resolved and checked before
anything boots). A ``StepCall`` is one line of a scenario file, checked against its kind
by ``boottest/scenarioreader.py``. The kinds themselves are in installsteps.py,
serversteps.py, consolesteps.py and pagesteps.py; ``boottest/vocabulary.py`` lists them.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from buildiso.config import Firmware

if TYPE_CHECKING:
    from buildiso.boottest.inputs import Inputs
    from buildiso.boottest.session import Session

ParamValue = str | tuple[str, ...]

# Input kinds a scenario may declare ([inputs] NAME = KIND); boottest/inputs.py resolves them.
INPUT_KINDS: Mapping[str, str] = {
    "product-iso": "the ISO given to boot-test, with --profile/--variant (one per scenario); "
    "its admin logs in with the installation guide's default password, or the custom one it "
    "was built with (--password-file or BUILDISO_CS_ADMIN_PASSWORD), checked against its "
    "ks.cfg",
    "previous-release": "--from OLD.iso: an older release of the product, its profile "
    "(--from-profile, or the one in profiles/ naming it) and its admin's password, as for "
    "product-iso; refused unless older than the product ISO",
    "server-dvd": "--server-base DVD.iso: a RHEL 6.10 DVD a Minimal server is installed from "
    "(default: the sample base ISO); root logs in with a password made for the run",
    "online-tree": "--online-tree DIR: the online repository's document root the build wrote "
    "(default: EMAIL_490_190.online beside the ISO), checked to be the product ISO's cs-repo; "
    "a step serves it to its machine (boot-disk's network)",
}
ISO_INPUTS = ("product-iso", "previous-release")
ACCOUNT_INPUTS = ("product-iso", "previous-release", "server-dvd")
SERVER_INPUTS = ("server-dvd",)
ONLINE_INPUTS = ("online-tree",)

# What a step reads of a resolved input (boottest/inputs.py resolves exactly these).
MENUS, INSTALL_SET, STICK, RELEASE, SIGNER, ACCOUNT, SERVER, REPOS, ONLINE = (
    "menus", "install-set", "stick", "release", "signer", "account", "server", "repos",
    "online",
)  # fmt: skip
Need = tuple[str, str]  # (input name, what of it)

NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")


@dataclass(frozen=True)
class Param:
    """One parameter of a step kind, as written in a scenario file."""

    name: str
    doc: str
    default: ParamValue | None = None  # None: required; "" for an input: none
    pattern: re.Pattern[str] | None = None  # text (each item, for a list) must match
    choices: tuple[str, ...] = ()  # text (each item, for a list) must be one of these
    inputs: tuple[str, ...] = ()  # the value names an [inputs] entry of these kinds
    is_list: bool = False
    max_len: int = 200
    keyed: bool = True  # can change what the machine does (a published disk's key has it)

    def describe(self) -> str:
        if self.inputs:
            what = f"an input ({', '.join(self.inputs)})"
        elif self.choices:
            what = " | ".join(self.choices)
        else:
            what = "text"
        if self.is_list:
            what = f"[{what}, ...]"
        default = "" if self.default is None else f"; default {_toml(self.default)}"
        return f"{self.name} = {what}: {self.doc}{default}"


@dataclass(frozen=True)
class StepCall:
    """One step of a scenario, as its file gives it (limits not yet scaled)."""

    index: int  # position in the scenario, from 1
    kind: str
    stage: str | None  # the stage it times (single-stage steps)
    limits: Mapping[str, float]  # stage -> seconds
    fails: str | None  # the class a failure gets, where the file chooses it
    params: Mapping[str, ParamValue] = field(default_factory=dict)

    def text(self, name: str) -> str:
        value = self.params[name]
        assert isinstance(value, str), (self.kind, name)
        return value

    def names(self, name: str) -> tuple[str, ...]:
        value = self.params[name]
        assert isinstance(value, tuple), (self.kind, name)
        return value

    @property
    def where(self) -> str:
        return f"step {self.index} ({self.kind})"


@dataclass
class FlowState:
    """What is true after the steps so far (checked by the reader, step by step)."""

    machine: bool = False  # a machine is running
    booted: str | None = None  # the input whose media the running machine booted
    inventory: bool = False
    setting: bool = False
    disk: bool = False  # a step installed a disk (publish-disk has something to publish)
    published: bool = False  # a publish-disk step came
    login: bool = False  # someone logged in on the running machine's console


@dataclass(frozen=True)
class StepKind:
    """A verb of the vocabulary. ``run(session, call)`` does it; a failure is CellFailed."""

    name: str
    summary: str
    example: str  # a TOML line using it
    run: Callable[[Session, StepCall], None]
    params: tuple[Param, ...] = ()
    stage: str | None = None  # the default stage name of a single-stage step
    stages: tuple[str, ...] = ()  # a multi-stage step's stages (its `limits` table)
    classes: tuple[str, ...] = ()  # the failure classes it raises (beside the runner's)
    choosable: tuple[str, ...] = ()  # classes a file chooses with `fails` (then required)
    needs_machine: bool = True
    needs_booted: bool = False  # needs a machine booted from media (boot-media)
    starts: bool = False  # starts a machine (stopping the one before)
    stops: bool = False  # leaves no machine running
    boots: str | None = None  # the parameter naming the media it boots
    types: bool = False  # types on the serial console (machines get a console socket)
    marks: tuple[str, ...] = ()  # FlowState flags it sets (inventory, setting, disk, ...)
    firmwares: tuple[Firmware, ...] = ()  # the firmwares whose cells it runs on (): any)
    needs: Callable[[StepCall], Iterable[Need]] = lambda call: ()
    # the checks it runs, given the resolved inputs and the media booted before it
    expects: Callable[[StepCall, Inputs | None, str | None], tuple[str, ...]] = (
        lambda call, inputs, booted: ()
    )
    # beyond types and order: problems with this call given what came before
    validate: Callable[[StepCall, FlowState], list[str]] = lambda call, state: []

    @property
    def timed(self) -> bool:
        return self.stage is not None or bool(self.stages)

    def may_raise(self, failure_class: str, chosen: str | None) -> bool:
        from buildiso.boottest.cellfailure import RUNNER_CLASSES, family

        listed = family(failure_class)
        return listed in self.classes or listed in RUNNER_CLASSES or listed == chosen

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)


def _toml(value: ParamValue) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(f'"{v}"' for v in value) + "]"
    return f'"{value}"'


def media_param(default: str = "iso", doc: str = "the ISO") -> Param:
    return Param("media", doc, default=default, inputs=ISO_INPUTS)


def folder_param(default: str, doc: str) -> Param:
    return Param("folder", doc, default=default, pattern=re.compile(r"|[a-z0-9][a-z0-9-]{0,39}"),
                 keyed=False)  # where logs go: no byte of a disk
