"""Steps at a running machine's serial console and drive, as its admin would take them.

Commands are typed one line at a time exactly as given (``boottest/console.py``: the
console log shows each as the guest echoed it, followed by its output); each typed command
goes into the cell's transcript (command, exit status, seconds, output). No password is
echoed, logged or stored.
"""

from __future__ import annotations

import re
import secrets
import string
from collections import Counter
from collections.abc import Iterable

from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.checks import CHECKS, CONSOLE, INVENTORY, QUERIES, Facts
from buildiso.boottest.console import SHELL_PROMPT, CommandResult
from buildiso.boottest.session import Session
from buildiso.boottest.steps import (
    ACCOUNT,
    ACCOUNT_INPUTS,
    RELEASE,
    REPOS,
    SIGNER,
    FlowState,
    Need,
    Param,
    StepCall,
    StepKind,
    media_param,
)
from buildiso.render.password import policy_failures

# dnf's words for what stopped a transaction (and curl's, rpm --checksig's): the reason a
# failed command reports.
_REASON = re.compile(
    r"conflicts with [^\n]*|nothing provides [^\n]*|[^\n]*is not signed[^\n]*"
    r"|[^\n]*[Pp]ublic key [^\n]*|No match for argument[^\n]*|mount: [^\n]*|error: [^\n]*"
    r"|curl: \(\d+\)[^\n]*|[^\n]*NOT OK[^\n]*|[^\n]*: (?:BAD|NOKEY)\b[^\n]*"
)
COMMAND = re.compile(r"[ -~]{1,200}")  # printable ASCII: typed as is on a serial line
SETTING_KEY = re.compile(r"[a-z][a-z0-9_]{0,39}")
SETTING_VALUE = re.compile(r"[A-Za-z0-9_.-]{1,40}")
PNG_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,39}\.png")
# what a console page shows (a title, a message): printable ASCII, not only blanks
PAGE_TEXT = re.compile(r"[ -~]{0,79}[!-~][ -~]{0,79}")
PAGE_TEXT_OR_NONE = re.compile(f"(?:{PAGE_TEXT.pattern})?")


def reason(result: CommandResult) -> str:
    found = _REASON.findall(result.output)
    tail = [ln for ln in result.output.splitlines() if ln.strip()][-2:]
    return "; ".join(dict.fromkeys(s.strip() for s in (found or tail)))[:400]


def fresh_password() -> str:
    """A new admin password for a forced change: random, meeting the vendor policy."""
    alphabet = string.ascii_letters + string.digits
    while True:
        candidate = "Up-" + "".join(secrets.choice(alphabet) for _ in range(18)) + "4q"
        if not policy_failures(candidate):
            return candidate


def typed(s: Session, stage: str, command: str, failure_class: str | None) -> str:
    """Type ``command``; a non-zero status fails the cell with ``failure_class`` (if any)."""
    done = s.shell().run(command, timeout=s.limit(stage), stage=stage)
    s.transcript.append({"stage": stage, "command": command, "status": done.status,
                         "seconds": round(done.seconds, 1), "output": done.output})  # fmt: skip
    if done.status != 0 and failure_class:
        raise CellFailed(failure_class,
                         f"{stage} `{command}` exited {done.status}: {reason(done)}")  # fmt: skip
    return done.output


def agreed(s: Session, stage: str, command: str, *, tries: int = 8) -> str:
    """The output of ``command`` once two readings agree (any two of up to ``tries``). The
    serial console drops or doubles a character now and then under load (seen: one firewall
    line of twelve lost; eight readings in a row each garbled in a different place), and
    before/after are compared line by line. When no two whole readings agree, the output is
    made of the lines most readings have (``majority_lines``)."""
    seen: list[str] = []
    for _ in range(tries):
        output = typed(s, stage, command, None)
        if output in seen:
            return output
        seen.append(output)
    return majority_lines(seen)


def majority_lines(readings: list[str]) -> str:
    """The lines found in more than half of ``readings``, in their order on the screen.
    A character the console garbled changes a line in one reading; the same line reads
    true in the others, and a garbled copy is in no majority."""
    counts = Counter(line for reading in readings for line in set(reading.splitlines()))
    need = len(readings) // 2 + 1
    place: dict[str, int] = {}  # a kept line's earliest line number in any reading
    for reading in readings:
        for number, line in enumerate(reading.splitlines()):
            if counts[line] >= need:
                place[line] = min(number, place.get(line, number))
    return "\n".join(sorted(place, key=lambda line: place[line]))


def _stage(call: StepCall) -> str:
    assert call.stage is not None  # single-stage steps always have one (the reader)
    return call.stage


# -- the steps -------------------------------------------------------------------------


def login(s: Session, call: StepCall) -> None:
    name, lands = call.text("account"), call.text("lands")
    account = s.inputs.account(name)
    text = s.running().console.text
    # The getty's prompt comes after the boot began, after the first boot's report, and
    # after what earlier steps answered (a session that ended).
    since = max(s.boot_mark, s.read_mark, text.rfind("FIRSTBOOT-RESULT"))
    new = s.fresh_password(name, fresh_password)
    changed = s.shell().login_changing_expired(
        user=account.user, password=s.passwords.get(name, account.password), new_password=new,
        since=since, timeout=s.limit(_stage(call)),
        lands=re.compile(re.escape(lands)) if lands else SHELL_PROMPT, stage=_stage(call),
    )  # fmt: skip
    if changed:
        s.passwords[name] = new
    s.logged_in = name
    # a page landed on is read by the steps that answer it; a shell prompt is read
    s.read_mark = since if lands else s.shell().mark()


def type_command(s: Session, call: StepCall) -> None:
    typed(s, _stage(call), call.text("command"), call.fails)


def edit_setting(s: Session, call: StepCall) -> None:
    key, value = call.text("key"), call.text("value")
    typed(s, _stage(call), f"{CONSOLE} set {key} {value}", "console")
    s.setting = (key, value)


def _read(s: Session, stage: str, queries: Iterable[str]) -> dict[str, str]:
    commands = {q: QUERIES[q](s.setting) for q in queries}
    return {q: agreed(s, stage, c) for q, c in commands.items() if c is not None}


def inventory(s: Session, call: StepCall) -> None:
    s.before = _read(s, _stage(call), INVENTORY)


def check(s: Session, call: StepCall) -> None:
    kinds = [CHECKS[n] for n in call.names("names")]
    now = _read(s, _stage(call), dict.fromkeys(q for k in kinds for q in k.queries))
    media = s.inputs.iso(call.text("media"))
    facts = Facts(now=now, before=s.before, release=media.release, signer=media.signer,
                  setting=s.setting, repos=media.repos)  # fmt: skip
    checks = [k.run(facts) for k in kinds]
    s.checks.extend(checks)
    bad = [c for c in checks if not c.ok]
    if bad:
        raise CellFailed("post-install-check", "; ".join(f"{c.name}: {c.message}" for c in bad))


def change_media(s: Session, call: StepCall) -> None:
    iso = s.inputs.iso(call.text("media")).path
    try:
        s.running().change_media(iso)
    except Exception as exc:  # noqa: BLE001 - QMP's error says what went wrong
        raise CellFailed("infrastructure", f"could not insert {iso.name}: {exc}") from exc


def screenshot(s: Session, call: StepCall) -> None:
    s.screenshot(s.folder.screenshot(call.text("file")))


def _check_needs(call: StepCall) -> Iterable[Need]:
    kinds = [CHECKS[n] for n in call.names("names") if n in CHECKS]
    media = call.text("media")
    return (
        ([(media, RELEASE)] if any(k.release for k in kinds) else [])
        + ([(media, SIGNER)] if any(k.signer for k in kinds) else [])
        + ([(media, REPOS)] if any(k.packaged for k in kinds) else [])
    )


def _check_order(call: StepCall, state: FlowState) -> list[str]:
    kinds = [CHECKS[n] for n in call.names("names") if n in CHECKS]
    problems = [f"{k.name} compares with an earlier reading: an inventory step must come first"
                for k in kinds if k.before and not state.inventory]  # fmt: skip
    problems += [f"{k.name} reads the setting an edit-setting step changed: none came first"
                 for k in kinds if k.setting and not state.setting]  # fmt: skip
    return problems


KINDS = (
    StepKind(
        name="login",
        summary="log in on the serial console with ACCOUNT's user and password; if the "
        "system demands a new password (an expired one), type a fresh policy-compliant one "
        "made for the run; ends at the shell prompt, or at LANDS",
        example='{ do = "login", account = "iso", lands = "Locale Configuration", '
        'stage = "first-login", limit = 180 }',
        run=login,
        params=(Param("account", "the input whose account logs in (server-dvd: root; "
                      "product-iso, previous-release: its admin, with the password it has "
                      "now: built with, or set by an earlier step)", inputs=ACCOUNT_INPUTS),
                Param("lands", "text the login shows first instead of a shell prompt (the "
                      "first page of the account's login program)", default="",
                      pattern=PAGE_TEXT_OR_NONE)),
        stage="login", classes=("login",), types=True, marks=("login",),
        needs=lambda call: [(call.text("account"), ACCOUNT)],
    ),  # fmt: skip
    StepKind(
        name="type",
        summary="type COMMAND at the shell prompt exactly as printed, wait for the prompt; "
        "a non-zero exit status fails the cell with the class FAILS (media, network, "
        "packages, console or first-boot-console) and the tool's reason",
        example='{ do = "type", command = "mount /dev/cdrom /media/os", stage = "step-2", '
        'fails = "media", limit = 60 }',
        run=type_command,
        params=(Param("command", "the command line, printable ASCII", pattern=COMMAND),),
        stage="", choosable=("media", "network", "packages", "console", "first-boot-console"),
        types=True,
    ),  # fmt: skip
    StepKind(
        name="edit-setting",
        summary="as the admin, change one setting with the Server Console "
        f"(`{CONSOLE} set KEY VALUE`); config-kept checks it later",
        example='{ do = "edit-setting", key = "max_message_size_mb", value = "37", '
        "limit = 60 }",
        run=edit_setting,
        params=(Param("key", "the setting", pattern=SETTING_KEY),
                Param("value", "its new value", pattern=SETTING_VALUE)),
        stage="admin-edit", classes=("console",), types=True, marks=("setting",),
    ),  # fmt: skip
    StepKind(
        name="inventory",
        summary="read what the checks compare later (cs-* packages, the configuration "
        "file's and data's checksums, the edited setting, the Server Console's status), "
        "each command until two readings agree",
        example='{ do = "inventory", limit = 180 }',
        run=inventory, stage="inventory", types=True, marks=("inventory",),
    ),  # fmt: skip
    StepKind(
        name="check",
        summary="check NAMES on the running system (its rpm, yum and Server Console asked "
        "on the console); MEDIA's cs-repo and signer say what the gateway must be",
        example='{ do = "check", names = ["gateway-version", "forbidden-absent"], '
        "limit = 300 }",
        run=check,
        params=(Param("names", "the checks to run (Checks, below)", choices=tuple(CHECKS),
                      is_list=True),
                media_param(doc="the ISO whose release the gateway must be")),
        stage="checks", classes=("post-install-check",), types=True,
        needs=_check_needs, expects=lambda call, inputs, booted: call.names("names"),
        validate=_check_order,
    ),  # fmt: skip
    StepKind(
        name="change-media",
        summary="put MEDIA into the running machine's DVD drive (QMP blockdev-change-medium)",
        example='{ do = "change-media", media = "iso", limit = 30 }',
        run=change_media,
        params=(media_param(doc="the ISO to insert"),),
        stage="media-change", classes=("infrastructure",),
    ),  # fmt: skip
    StepKind(
        name="screenshot",
        summary="save the screen as FILE in the cell's folder (evidence only: a screen that "
        "cannot be taken is skipped)",
        example='{ do = "screenshot", file = "upgraded.png" }',
        run=screenshot,
        params=(Param("file", "a PNG file name", pattern=PNG_NAME),),
    ),  # fmt: skip
)
