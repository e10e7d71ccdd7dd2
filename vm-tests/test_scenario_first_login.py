"""``buildiso boot-test --scenario first-login`` for real: the installation guide's first login.

``EMAIL_490_190.iso`` (built without a custom password) is installed as the install
scenario does it; cs-admin logs in on the serial console with the guide's default password
and lands on the First Boot Console's first page, with no PAM password change before it;
the pages are answered (the guide's refused example first on the password page), and the
next login, with the new password, gets the shell and the Server Console.

The new password made for the run is caught on its way to the scenario (the generator is
wrapped) so that every artifact can be scanned for it. Measured figures (wall time,
per-stage seconds) are printed: ``pytest -s``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from buildiso.boottest import consolesteps, pagesteps
from buildiso.boottest.bootproto import strip_ansi
from buildiso.boottest.scenarioreader import load_scenario
from buildiso.cli import main

pytestmark = pytest.mark.vm

PAGES = [str(c.params["page"]) for c in load_scenario("first-login").steps
         if c.kind == "answer-page"]  # fmt: skip


def test_the_guides_first_login_shows_the_first_boot_console(
    built_iso: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    made: list[str] = []
    make = consolesteps.fresh_password

    def caught() -> str:
        made.append(make())
        return made[-1]

    monkeypatch.setattr(pagesteps, "fresh_password", caught)
    monkeypatch.setattr(consolesteps, "fresh_password", caught)
    monkeypatch.delenv("BUILDISO_CS_ADMIN_PASSWORD", raising=False)
    art = tmp_path / "artifacts"
    capsys.readouterr()
    code = main(["boot-test", str(built_iso), "--scenario", "first-login", "--artifacts",
                 str(art)])  # fmt: skip
    print("\n" + capsys.readouterr().out)
    cell = art / "bios-dvd-first-login"
    result = json.loads((cell / "result.json").read_text())
    assert code == 0, f"[{result['failure_class']}] {result['message']}"
    assert len(made) == 1  # one new password, made once for cs-admin

    # the post-install report: the password is not expired (the console asks for it)
    report = json.loads((cell / "postinstall-report.json").read_text())
    assert report["users"]["cs-admin"] == {"exists": True, "password_expired": False}

    console = strip_ansi((cell / "console.log").read_text(errors="replace")).replace("\r", "")
    login = console.index("login: cs-admin", console.index("FIRSTBOOT-RESULT"))
    first_page = console.index("page 1 of 6: Locale Configuration", login)
    between = console[login:first_page]
    # the guide's sequence: the password, then the First Boot Console; no PAM change first
    assert "Password:" in between and "$ " not in between
    assert "change your password" not in between and "New password" not in between
    # its pages in the guide's order, the policy's refusal, the end; then a shell
    titles = re.findall(r"First Boot Console - page (\d) of 6: ([^\n]+)", console)
    assert [t for _, t in titles] == PAGES  # the password page twice: refused, then set
    assert [n for n, _ in titles] == ["1", "2", "3", "4", "5", "5", "6"]
    assert "Refused: must not resemble a dictionary word" in console
    done = console.index("First Boot Console complete")
    again = console.index("login: cs-admin", done)
    assert "[cs-admin@localhost ~]$ sudo cs-console status" in console[again:]
    assert "version: 4.9.0-190" in console[again:]

    stages = result["stages"]
    for stage in ("firstboot", "first-login", "fbc-locale", "fbc-policy", "fbc-password",
                  "fbc-repository", "login-again", "server-console", "locale-set",
                  "time-zone-set", "checks"):  # fmt: skip
        assert stages[stage]["status"] == "ok", stage
    # no password in any artifact: the new one nowhere, the guide's default never shown
    for path in [*art.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            assert made[0].encode() not in data, path
            assert not re.search(rb"[Pp]assword: *password\b", data), path
    print({s: v["seconds"] for s, v in stages.items()}, f"total {result['seconds']:.0f} s")
