"""buildiso.boottest.scenarioreader: the shipped scenarios, and hostile scenario files refused
in one line naming the file and the key (as profiles are)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from buildiso.boottest.scenario import Cell
from buildiso.boottest.scenarioreader import MAX_BYTES, load_scenario, read_scenario, shipped
from buildiso.cli import main
from buildiso.config import Firmware, Media
from buildiso.errors import InputError, ValidationFailed

HEAD = '''\
[scenario]
name = "mine"
proves = "a test of the reader"

[cells]
allowed = ["bios-dvd"]

[inputs]
iso = "product-iso"
'''
BOOT = '''
[[steps]]
do = "boot-media"
limit = 90
'''


def _file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "mine.toml"
    path.write_text(text)
    return path


def test_the_shipped_scenarios_are_named_after_their_files() -> None:
    assert sorted(shipped()) == ["appendix-a", "appendix-b", "first-login", "install", "upgrade"]
    for name in shipped():
        scenario = load_scenario(name)
        assert scenario.name == name and scenario.proves and scenario.steps
    install = load_scenario("install")
    assert [c.name for c in install.matrix] == ["bios-dvd", "bios-usb", "uefi-dvd", "uefi-usb"]
    assert Cell(Firmware.UEFI, Media.USB_FILES) in install.cells
    assert install.run_name(Cell(Firmware.BIOS, Media.DVD)) == "bios-dvd"
    assert load_scenario("upgrade").run_name(Cell(Firmware.BIOS, Media.DVD)) == "bios-dvd-upgrade"


def test_appendix_a_types_the_guides_commands_exactly_as_printed() -> None:
    typed = [c.params["command"] for c in load_scenario("appendix-a").steps if c.kind == "type"]
    assert typed == [
        "mkdir -p /media/os",
        "mount /dev/cdrom /media/os",
        "rpm -ivh /media/os/cs-repo/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm",
        "yum remove -y postfix rsyslog samba-common",
        "yum install -y cs-email --enablerepo=cs-*",
    ]


def test_appendix_b_types_the_guides_commands_exactly_as_printed() -> None:
    """docs/product-facts.md (Appendix B), after the server's own two: its NIC up as RHEL 6
    does it, and where the vendor's host is (the test network has no DNS)."""
    scenario = load_scenario("appendix-b")
    typed = {c.stage: (c.params["command"], c.fails) for c in scenario.steps if c.kind == "type"}
    base = "http://repo.clearswift.net"
    assert list(typed.values()) == [
        ("ifup eth0", "network"),
        ("echo '10.0.2.100 repo.clearswift.net' >> /etc/hosts", "network"),
        (f"curl --get --remote-name {base}/rhel6/gw/os/x86_64/Packages/"
         "cs-email-repo-conf-3.6.3-1.x86_64.rpm", "network"),
        (f"rpm --import {base}/it-pub.key", "packages"),
        ("rpm --checksig --verbose cs-email-repo-conf-3.6.3-1.x86_64.rpm", "packages"),
        ("rpm -ivh cs-email-repo-conf-3.6.3-1.x86_64.rpm", "packages"),
        ("yum remove -y postfix rsyslog samba-common", "packages"),
        ("yum install -y cs-email --enablerepo=cs-*", "packages"),
    ]  # fmt: skip
    assert list(typed)[2:] == [f"step-{n}" for n in range(1, 7)]
    (boot,) = [c for c in scenario.steps if c.kind == "boot-disk"]
    assert boot.params["network"] == "online" and scenario.inputs["online"] == "online-tree"


def test_a_small_file_of_ones_own_reads(tmp_path: Path) -> None:
    scenario = read_scenario(_file(tmp_path, HEAD + BOOT + '''
[[steps]]
do = "choose-entry"
entry = "install"
stage = "boot-menu"
limit = 30
'''))
    boot, choose = scenario.steps
    assert (boot.kind, boot.stage, boot.limits, boot.params) == (
        "boot-media", "firmware", {"firmware": 90.0}, {"media": "iso", "folder": ""})
    assert (choose.stage, choose.limits, choose.params["entry"]) == (
        "boot-menu", {"boot-menu": 30.0}, "install")
    assert scenario.limits() == {"firmware": 90.0, "boot-menu": 30.0}
    assert load_scenario(str(tmp_path / "mine.toml")).steps == scenario.steps


BAD_STEPS = [
    ('do = "reboot-twice"', "steps[1].do: 'reboot-twice' is no step (steps: boot-media"),
    ('do = "choose-entry"', "steps[1] (choose-entry).limit: missing"),
    ('do = "choose-entry"\nlimit = true', "limit: true (a flag), expected seconds"),
    ('do = "choose-entry"\nlimit = 0', "limit: 0 s out of range (allowed: 1..86400)"),
    ('do = "choose-entry"\nlimit = 9e99', "out of range"),
    ('do = "choose-entry"\nlimit = 60\ncolour = "red"', "(choose-entry).colour: unknown key"),
    ('do = "choose-entry"\nlimit = 60\nentry = "rescue"',
     "'rescue' not allowed (allowed: serial-install, install, local)"),
    ('do = "choose-entry"\nlimit = 60\nfails = "packages"',
     "(choose-entry).fails: choose-entry fails with its own classes"),
    ('do = "type"\ncommand = "ls"\nstage = "s"\nlimit = 60\nfails = "gremlins"',
     "(type).fails: 'gremlins' not allowed (allowed: media | network | packages | console | "
     "first-boot-console)"),
    ('do = "type"\ncommand = "ls"\nstage = "s"\nlimit = 60', "(type).fails: missing"),
    ('do = "type"\nstage = "s"\nlimit = 60\nfails = "media"', "(type).command: missing"),
    ('do = "type"\ncommand = "ls"\nlimit = 60\nfails = "media"', "(type).stage: missing"),
    ('do = "type"\ncommand = "ls\\necho pwned"\nstage = "s"\nlimit = 60\nfails = "media"',
     "(type).command: 'ls\\necho pwned' not allowed"),
    ('do = "type"\ncommand = 7\nstage = "s"\nlimit = 60\nfails = "media"',
     "(type).command: the number 7, expected text"),
    ('do = "follow-install"\nlimit = 60', "this step times the stages kernel, media"),
    ('do = "follow-install"\nlimits = { kernel = 1 }', "(follow-install).limits.packages: missing"),
    ('do = "change-media"\nmedia = "old"\nlimit = 30',
     "(change-media).media: 'old' is no input of kind product-iso or previous-release"),
    ('do = "boot-disk"\nnetwork = "iso"\nlimit = 60',
     "(boot-disk).network: 'iso' is no input of kind online-tree"),
    ('do = "login"\naccount = "ghost"\nlimit = 30',
     "'ghost' is no input of kind product-iso or previous-release or server-dvd"),
    ('do = "login"\naccount = "iso"\nlands = "\\u001b[2J"\nlimit = 30',
     "(login).lands: '\\x1b[2J' not allowed"),
    ('do = "answer-page"\npage = "Time Zone"\nanswers = ["UTC"]\nstage = "s"\nlimit = 30',
     "(answer-page).then: missing"),
    ('do = "answer-page"\npage = "Time Zone"\nanswers = []\nthen = "x"\nstage = "s"\n'
     'limit = 30', "(answer-page).answers: a list, expected a list of 1..50 texts"),
    ('do = "answer-page"\npage = "Time Zone"\nanswers = ["a\\nb"]\nthen = "x"\n'
     'stage = "s"\nlimit = 30', "(answer-page).answers: 'a\\nb' not allowed"),
    ('do = "answer-page"\npage = "  "\nanswers = ["UTC"]\nthen = "x"\nstage = "s"\n'
     'limit = 30', "(answer-page).page: '  ' not allowed"),
    ('do = "answer-page"\npage = "Time Zone"\nanswers = ["UTC"]\nthen = "x"\nlimit = 30',
     "(answer-page).stage: missing"),
    ('do = "answer-page"\npage = "cs-admin Password"\nanswers = ["{new-password}"]\n'
     'then = "Repository Mode"\nstage = "s"\nlimit = 30',
     "answers {new-password}, the new password of the account logged in: no login step"),
    ('do = "check"\nnames = ["gateway-version", "vibes"]\nlimit = 30',
     "'vibes' not allowed (allowed: gateway-version"),
    ('do = "check"\nnames = "gateway-version"\nlimit = 30', "expected a list of 1..50 texts"),
    ('do = "check"\nnames = ["config-kept"]\nlimit = 30',
     "config-kept compares with an earlier reading: an inventory step must come first"),
    ('do = "screenshot"\nfile = "x.png"\nlimit = 5', "(screenshot).limit: this step has no stage"),
    ('do = "screenshot"\nfile = "../x.png"', "'../x.png' not allowed"),
    ('do = "boot-media"\nlimit = 90', "stage 'firmware' is timed by steps[0] already"),
]


@pytest.mark.parametrize(("step", "message"), BAD_STEPS, ids=[m for _, m in BAD_STEPS])
def test_a_bad_step_is_one_line_naming_the_file_and_key(
    tmp_path: Path, step: str, message: str
) -> None:
    path = _file(tmp_path, HEAD + BOOT + f"\n[[steps]]\n{step}\n")
    with pytest.raises(InputError) as caught:
        read_scenario(path)
    exc = caught.value
    lines = exc.problems if isinstance(exc, ValidationFailed) else [exc.message]
    assert any(message in line for line in lines), lines
    assert all(line.startswith(f"{path}: steps[1]") for line in lines)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (HEAD.replace('name = "mine"', 'name = "Mine!"') + BOOT, "scenario.name: 'Mine!' not"),
        (HEAD + "[extra]\n" + BOOT, "extra: unknown key (allowed: cells, inputs, scenario, steps)"),
        (HEAD.replace('"bios-dvd"]', '"bios-floppy"]') + BOOT,
         "cells.allowed[0]: 'bios-floppy' is no cell"),
        (HEAD.replace('allowed = ["bios-dvd"]', 'allowed = ["bios-dvd"]\nmatrix = ["uefi-dvd"]')
         + BOOT, "cells.matrix: uefi-dvd is not in cells.allowed"),
        (HEAD.replace('allowed = ["bios-dvd"]',
                      'allowed = ["bios-dvd"]\nexpected_s = { bios-dvd = "slow" }') + BOOT,
         "cells.expected_s.bios-dvd: 'slow', expected seconds"),
        (HEAD.replace('iso = "product-iso"', 'iso = "dvd"') + BOOT, "inputs.iso: 'dvd' is no"),
        (HEAD.replace('iso = "product-iso"', 'old = "previous-release"') + BOOT,
         "0 inputs of kind product-iso (allowed: 1..1"),
        (HEAD + '\n[[steps]]\ndo = "choose-entry"\nlimit = 60\n',
         "steps[0] (choose-entry): no machine is running here"),
        ("steps = []\n" + HEAD, "steps: a list, expected 1..200 [[steps]] tables"),
        (HEAD + "steps = []\n" + BOOT, "inputs.steps: a list is no input kind"),
        (HEAD + BOOT.replace('do = "boot-media"', 'do = "boot-media"\nmedia = "nope"'),
         "(boot-media).media: 'nope' is no input"),
    ],
)  # fmt: skip
def test_a_bad_file_is_one_line(tmp_path: Path, text: str, message: str) -> None:
    with pytest.raises(InputError) as caught:
        read_scenario(_file(tmp_path, text))
    assert message in str(caught.value)
    assert "\n" not in caught.value.message


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xff\xfe" + HEAD.encode(), "not UTF-8 (byte 0)"),
        (b"[scenario\n", "not valid TOML"),
        (b"x = " + b"[" * 20000 + b"]" * 20000, "nested too deeply"),
        (b"# " + b"x" * MAX_BYTES, f"larger than {MAX_BYTES} bytes"),
    ],
    ids=["not-utf8", "not-toml", "deep", "big"],
)
def test_a_file_that_is_no_scenario_at_all(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "x.toml"
    path.write_bytes(data)
    with pytest.raises(InputError, match=re.escape(message)):
        read_scenario(path)


def test_several_problems_are_listed_together(tmp_path: Path) -> None:
    path = _file(tmp_path, HEAD + '\n[[steps]]\ndo = "boot-media"\n\n[[steps]]\ndo = "warp"\n')
    with pytest.raises(ValidationFailed) as caught:
        read_scenario(path)
    assert len(caught.value.problems) == 2
    assert all(p.startswith(f"{path}: steps[") for p in caught.value.problems)


def test_the_cli_refuses_a_bad_scenario_file_before_booting(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iso = tmp_path / "x.iso"
    iso.write_bytes(b"not booted")
    path = _file(tmp_path, HEAD + BOOT.replace("limit = 90", "limit = -1"))
    code = main(["boot-test", str(iso), "--scenario", str(path), "--accel", "tcg",
                 "--artifacts", str(tmp_path / "a")])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert f"{path}: steps[0] (boot-media).limit: -1 s out of range" in err
    assert not (tmp_path / "a").exists()


def test_a_new_password_is_typed_only_after_a_login_on_the_same_machine(tmp_path: Path) -> None:
    page = '''
[[steps]]
do = "answer-page"
page = "cs-admin Password"
answers = ["{new-password}", "{new-password}"]
then = "Repository Mode"
stage = "fbc-password"
limit = 60
'''
    login = '''
[[steps]]
do = "login"
account = "iso"
lands = "Locale Configuration"
limit = 60
'''
    scenario = read_scenario(_file(tmp_path, HEAD + BOOT + login + page))
    assert scenario.steps[1].params == {"account": "iso", "lands": "Locale Configuration"}
    assert scenario.steps[2].params["answers"] == ("{new-password}", "{new-password}")
    restart = '''
[[steps]]
do = "boot-disk"
limit = 60
'''
    with pytest.raises(InputError) as caught:
        read_scenario(_file(tmp_path, HEAD + BOOT + login + restart + page))
    exc = caught.value
    lines = exc.problems if isinstance(exc, ValidationFailed) else [exc.message]
    assert len(lines) == 1 and "steps[3] (answer-page)" in lines[0], lines
