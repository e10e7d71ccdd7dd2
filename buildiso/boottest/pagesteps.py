"""Steps at the pages of a program on the serial console: the First Boot Console's.

A console program shows a page (its title on the console), asks one or more questions
(prompts ending in ``": "``) and, when it accepts the answers, goes on to its next page or
ends with a message (the sample gateway's First Boot Console: ``buildiso/sample/README.md``;
the guide's pages: docs/product-facts.md, "After the install"). ``answer-page`` waits for
the page's title after what earlier steps read (``Session.read_mark``: the login that
landed on the page, or the previous page's answers), types each answer after a prompt,
then waits for THEN: the next page's title, the closing message, or, to prove a refusal,
the refusal's words. The page shown again before THEN is a refused answer.

``{new-password}`` as an answer types the new password made for this run for the account
that logged in last: never echoed, logged or stored, and the page must not show it (the
cell fails if it does). Once THEN appears, that account's later logins use it.
"""

from __future__ import annotations

import re
import time

from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.consolesteps import PAGE_TEXT, fresh_password
from buildiso.boottest.session import Session
from buildiso.boottest.steps import FlowState, Param, StepCall, StepKind

NEW_PASSWORD = "{new-password}"
PROMPT = re.compile(r": $")  # a question waits at the end of the console's text
ANSWER = re.compile(r"[ -~]{0,200}")  # printable ASCII typed as is; "": Enter alone
MAX_OUTPUT = 4000  # of a page's text kept in the transcript


def _tail(text: str, lines: int = 2) -> str:
    return " / ".join([ln.strip() for ln in text.splitlines() if ln.strip()][-lines:])


def answer_page(s: Session, call: StepCall) -> None:
    assert call.stage is not None  # the reader: a single-stage step
    stage, page, then = call.stage, call.text("page"), call.text("then")
    answers = call.names("answers")
    shell, timeout, started = s.shell(), s.limit(stage), time.monotonic()
    title = re.escape(page)
    shell.wait_for(re.compile(title + r"[\s\S]*: $"), since=s.read_mark, timeout=timeout,
                   what=stage)  # fmt: skip
    first = shell.mark()
    secrets: list[str] = []
    mark = first
    for i, answer in enumerate(answers):
        if i:
            shell.wait_for(PROMPT, since=mark, timeout=timeout, what=stage)
        mark = shell.mark()
        if answer == NEW_PASSWORD:
            assert s.logged_in is not None  # the reader: a login step came first
            answer = s.fresh_password(s.logged_in, fresh_password)
            secrets.append(answer)
        shell.type_line(answer)
    either = re.compile(f"(?P<then>{re.escape(then)})|(?P<again>{title})")
    found = shell.wait_for(either, since=mark, timeout=timeout, what=stage)
    after = shell.text_since(first)
    if any(secret in after for secret in secrets):
        raise CellFailed("first-boot-console",
                         f"{page}: the page showed the typed password (its echo is on)")
    s.transcript.append({"stage": stage, "page": page, "answers": list(answers), "then": then,
                         "seconds": round(time.monotonic() - started, 1),
                         "output": after[-MAX_OUTPUT:]})  # fmt: skip
    if found.group("then") is None:
        refused = shell.text_since(mark)[: found.start()]
        raise CellFailed("first-boot-console",
                         f"{page}: the answer was refused ({_tail(refused) or 'no reason shown'}); "
                         f"expected {then!r}")  # fmt: skip
    if secrets:
        assert s.logged_in is not None
        s.passwords[s.logged_in] = secrets[-1]
    s.read_mark = mark  # THEN (the next page's title) is read by the next step


def _login_first(call: StepCall, state: FlowState) -> list[str]:
    if NEW_PASSWORD in call.names("answers") and not state.login:
        return [f"answers {NEW_PASSWORD}, the new password of the account logged in: no "
                "login step came first on this machine"]  # fmt: skip
    return []


KINDS = (
    StepKind(
        name="answer-page",
        summary="wait for the console page titled PAGE (after what earlier steps read), type "
        "each of ANSWERS after a prompt, and wait for THEN: the next page's title, the "
        "closing message, or a refusal's words; the page shown again first is a refused "
        f"answer. {NEW_PASSWORD} types the new password made for the run for the account "
        "that logged in last (never shown; the page must not echo it), which its later "
        "logins use",
        example='{ do = "answer-page", page = "Locale Configuration", answers = '
        '["en_GB.UTF-8"], then = "Keyboard Configuration", stage = "fbc-locale", '
        "limit = 60 }",
        run=answer_page,
        params=(Param("page", "the page's title as the console shows it", pattern=PAGE_TEXT),
                Param("answers", 'typed in order, one after each prompt ("": Enter alone)',
                      pattern=ANSWER, is_list=True),
                Param("then", "what must follow the last answer", pattern=PAGE_TEXT)),
        stage="", classes=("first-boot-console",), types=True, validate=_login_first,
    ),  # fmt: skip
)
