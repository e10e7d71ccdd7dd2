"""ks6reader / ks6commands: a kickstart read as RHEL 6's pykickstart 1.74.22 reads it.

One test per row of docs/anaconda13-parser.md (where modern pykickstart's RHEL6 handler and
1.74.22 differ), each also showing that modern pykickstart differs, and the stored verdicts
of RHEL 6's parser on 1435 generated snippets (tests/data/ks-rhel6-cases.json), re-derived
with RHEL 6's own code when it is installed.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import pytest
import rhel6_pykickstart

from buildiso.render.ks6reader import Reading, read_kickstart

CASES = json.loads(
    (Path(__file__).parents[1] / "data" / "ks-rhel6-cases.json").read_text(encoding="utf-8")
)["cases"]


def _errors(reading: Reading) -> list[tuple[int, str]]:
    return [(f.line, f.message) for f in reading.findings if not f.warning]


def _warnings(reading: Reading) -> list[tuple[int, str]]:
    return [(f.line, f.message) for f in reading.findings if f.warning]


def _accepts(text: str) -> bool:
    return not _errors(read_kickstart(text))


def _modern_accepts(text: str) -> bool:
    """Modern pykickstart's RHEL6 handler, as validate used it before (the row's contrast)."""
    from pykickstart.errors import KickstartError
    from pykickstart.parser import KickstartParser
    from pykickstart.version import RHEL6, makeVersion

    parser = KickstartParser(makeVersion(RHEL6), followIncludes=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            parser.readKickstartFromString(text)
        except KickstartError:
            return False
    return True


# --- rows of docs/anaconda13-parser.md ----------------------------------------------------
def test_missing_end_at_end_of_file_is_a_warning_naming_the_header() -> None:
    text = "install\n%packages\n@core\n%post\necho hi\n"
    reading = read_kickstart(text)
    assert _errors(reading) == []
    assert _warnings(reading) == [(4, (
        "%post runs to the end of the file without %end: RHEL 6 accepts it with a deprecation "
        "warning (script does not end with %end)"
    ))]  # fmt: skip
    assert [(s.name, s.end, s.end_line) for s in reading.sections] == [
        ("%packages", "next", 4),
        ("%post", "eof", 5),
    ]
    assert not _modern_accepts(text)


def test_section_closed_by_the_next_header_without_a_word() -> None:
    text = "install\n%pre\nx\n%packages\n@core\n%end\n"
    assert read_kickstart(text).findings == []
    assert not _modern_accepts(text)


def test_percent_lines_in_a_script_body_are_script_text() -> None:
    text = (
        "install\n%post\ncat > /etc/sudoers.d/wheel <<EOF\n%wheel ALL=(ALL) ALL\n"
        "%admin ALL=(ALL) NOPASSWD: ALL\nEOF\n%end\nreboot\n"
    )
    reading = read_kickstart(text)
    assert reading.findings == []
    assert [line for _, line in reading.sections[0].body] == [
        "cat > /etc/sudoers.d/wheel <<EOF", "%wheel ALL=(ALL) ALL",
        "%admin ALL=(ALL) NOPASSWD: ALL", "EOF",
    ]  # fmt: skip
    assert [c.name for c in reading.commands] == ["install", "reboot"]


def test_percent_line_in_packages_stops_the_parser() -> None:
    text = "install\n%packages\n%wheel\n%end\nreboot\n"
    reading = read_kickstart(text)
    assert reading.stopped_at == 3 and not _accepts(text)
    assert _modern_accepts(text)


@pytest.mark.parametrize(
    "header",
    ["%post foo", "%pre foo bar", "%post -- foo", "%packages foo",
     "%post --nochroot --log=/root/x.log --erroronfail trailing words here"],
)  # fmt: skip
def test_stray_words_on_section_lines_ignored(header: str) -> None:
    body = "@core" if header.startswith("%packages") else "echo hi"
    text = f"install\n{header}\n{body}\n%end\n"
    assert read_kickstart(text).findings == []
    assert not _modern_accepts(text)


def test_packages_nocore_exists() -> None:
    text = "install\n%packages --nocore\n@core\n%end\n"
    assert _accepts(text) and not _modern_accepts(text)
    assert not _accepts("install\n%packages --default --nocore\n%end\n")


@pytest.mark.parametrize(
    "command",
    [
        "network --domain example.com --bootproto dhcp",
        "network --ipv6gateway=fe80::1 --ipv6=auto",
        "bootloader --location=mbr --disabled",
        "clearpart --all --cdl",
        "fcoe --nic=eth0 --autovlan",
        "xconfig --server=x",
    ],
)
def test_options_rhel6_has_and_modern_pykickstart_dropped(command: str) -> None:
    assert _accepts(command + "\n") and not _modern_accepts(command + "\n")


def test_zerombr_takes_no_arguments() -> None:
    reading = read_kickstart("zerombr yes\n")
    assert _errors(reading) == [(1, "zerombr: unrecognized arguments: yes")]
    assert _accepts("zerombr\n")


@pytest.mark.parametrize(
    "command",
    ["autopart extra", "bootloader --location=mbr extra", "network --bootproto=dhcp extra",
     "logvol / --name=a --vgname=v --size=1 extra", "reboot extra", "user --name=u extra",
     "url --url=http://x/ extra1 extra2"],
)  # fmt: skip
def test_words_after_the_options_ignored_where_rhel6_ignores_them(command: str) -> None:
    assert _accepts(command + "\n") and not _modern_accepts(command + "\n")


@pytest.mark.parametrize("command", ["lang en_US extra", "rootpw a b", "skipx extra"])
def test_words_after_the_options_refused_where_rhel6_refuses_them(command: str) -> None:
    assert not _accepts(command + "\n")


def test_double_dash_ends_the_options() -> None:
    assert _accepts("skipx --\n") and not _modern_accepts("skipx --\n")
    assert not _accepts("skipx -- extra\n")


def test_option_abbreviations_as_optparse() -> None:
    assert _accepts("network --dom=example.com --bootp=dhcp\n")
    # --ipv is ambiguous in RHEL 6 (--ipv6, --ipv6gateway); modern pykickstart takes --ipv6
    reading = read_kickstart("network --ipv=auto\n")
    assert _errors(reading) == [(1, "network: ambiguous option: --ipv (--ipv6, --ipv6gateway?)")]
    assert _modern_accepts("network --ipv=auto\n")
    assert not _accepts("key --skip -x\n") and _modern_accepts("key --skip -x\n")


def test_firewall_telnet_is_a_deprecated_flag() -> None:
    """1.74.22 warns that --telnet has no effect, yet its callback adds the service telnet
    (run with RHEL 6's own code: services ['telnet']); a value is refused, as for a flag."""
    reading = read_kickstart("firewall --enabled --telnet\n")
    assert _errors(reading) == []
    assert _warnings(reading) == [(1, "firewall --telnet is deprecated yet RHEL 6's parser still "
                                      "adds the service telnet (which RHEL 6's lokkit refuses)")]
    assert not _modern_accepts("firewall --enabled --telnet\n")
    assert _errors(read_kickstart("firewall --tel=x\n")) == [
        (1, "firewall: --telnet option does not take a value")]
    assert _modern_accepts("firewall --telnet=x\n")


def test_iscsi_port_is_any_string() -> None:
    assert _accepts("iscsi --ipaddr=1.2.3.4 --port=abc\n")
    assert not _modern_accepts("iscsi --ipaddr=1.2.3.4 --port=abc\n")


def test_checks_rhel6_makes_and_modern_pykickstart_does_not() -> None:
    for text in (
        "sshpw --username=root a b\n",
        "logvol / --name=a --vgname=v --size=10 --percent=10\n",  # --grow missing
        "logvol / --name=a --vgname=v --percent=10 --grow\n",  # --size missing
        "logvol / --name=a --vgname=v --size=0 --percent=10 --grow\n",  # a size of 0 is none
        "sshpw --username=u x\nsshpw --username=u y\n",  # 1.74.22's duplicate check crashes
        "zfcp --devnum=1 --wwpn=2 --fcplun=3\nzfcp --devnum=1 --wwpn=2 --fcplun=3\n",
    ):
        assert not _accepts(text) and _modern_accepts(text), text
    assert _accepts("logvol / --name=a --vgname=v --size=10 --percent=10 --grow\n")


def test_network_lines_without_a_device_are_never_duplicates() -> None:
    reading = read_kickstart("network --hostname=a\nnetwork --hostname=b\n")
    assert reading.findings == []
    twice = read_kickstart("network --device=eth0\nnetwork --device=eth0\n")
    assert [f.warning for f in twice.findings] == [True]


def test_lines_end_at_line_feed_only() -> None:
    # "install\r" + "lang en_US" is one line to RHEL 6: install with a stray argument
    assert not _accepts("install\rlang en_US\r\n") and _modern_accepts("install\rlang en_US\r\n")
    assert _accepts("install\r\nlang en_US\r\n%packages\r\n@core\r\n%end\r\n")


def test_backslash_newline_joins_as_shlex_does() -> None:
    assert _accepts("lang en_US\\\n")


def test_unknown_command_and_modern_only_command() -> None:
    reading = read_kickstart("install\nftp --server=x --dir=/y\nmethod\n")
    assert _errors(reading) == [
        (2, "unknown command 'ftp' (RHEL 6 has no such command)"),
        (3, "unknown command 'method' (RHEL 6 has no such command)"),
    ]


@pytest.mark.parametrize(
    ("text", "line", "why"),
    [
        ("install\n%end\nreboot\n", 2, "%end is not a section RHEL 6 knows"),
        ("install\n%Post\nx\n%end\n", 2, "%Post is not a section RHEL 6 knows"),
        ('install\nrootpw "abc\nreboot\n', 2, "cannot split the line into words"),
        ("install\n%packages\n@core --nodefaults --optional\n%end\n", 3, "a group cannot have"),
        ("install\n%packages\n@core --foo\n%end\n", 3, "%packages group line: no such option"),
        ("install\n%packages\n-\n%end\n", 3, "'-' without a package name"),
        ("install\n%packages\nfoo's\n%end\n", 3, "cannot split the line into words"),
        ("install\n%include\n", 2, "%include without a file name"),
    ],
)
def test_what_stops_rhel6s_parser(text: str, line: int, why: str) -> None:
    reading = read_kickstart(text + "reboot\nbogus-command\n")
    assert reading.stopped_at == line
    (error,) = _errors(reading)  # nothing after the stop is read
    assert error[0] == line and why in error[1]
    assert error[1].endswith("RHEL 6's parser stops here, the rest of the file is not read")


def test_include_taken_out_of_a_script_and_recorded() -> None:
    reading = read_kickstart(
        "%include /tmp/part-include\ninstall\n%post --nochroot\n%include /tmp/post.ks\nx\n%end\n"
        "%packages\n%include /tmp/pkgs\n%end\n%ksappend http://host/more.ks\n"
    )
    assert reading.findings == []
    assert [(i.line, i.path, i.section, i.directive) for i in reading.includes] == [
        (1, "/tmp/part-include", None, "%include"),
        (4, "/tmp/post.ks", "%post", "%include"),
        (8, "/tmp/pkgs", "%packages", "%include"),
        (10, "http://host/more.ks", None, "%ksappend"),
    ]
    assert [line for _, line in reading.sections[0].body] == ["x"]


def test_ksappend_is_not_parsed_even_inside_a_script() -> None:
    # anaconda fetches %ksappend files into the kickstart before parsing (preprocessKickstart)
    assert _accepts("install\n%post\nx\n%ksappend http://h/y\n%end\n")


def test_commands_past_the_limits_are_not_checked() -> None:
    reading = read_kickstart("".join(f"junk{n}\n" for n in range(300)), limit=200)
    assert len(reading.findings) == 200 and reading.checked_until == 200
    assert len(reading.commands) == 300
    many = read_kickstart("".join(f"part /p{n} --size=1\n" for n in range(1500)))
    assert many.checked_until == 1000 and many.unchecked_why == "1000 commands"


# --- RHEL 6's verdicts on generated snippets ----------------------------------------------
def test_stored_cases_cover_the_rows() -> None:
    texts = {c["ks"] for c in CASES}
    assert len(CASES) > 1400
    for needed in ("network --domain example.com --bootproto dhcp\n", "install\n%post foo\n",
                   "zerombr yes\n", "install\n%packages --nocore\n"):  # fmt: skip
        assert any(t.startswith(needed) for t in texts), needed


def test_reader_agrees_with_rhel6_on_every_stored_case() -> None:
    wrong = []
    for case in CASES:
        reading = read_kickstart(case["ks"])
        errors = _errors(reading)
        verdict = "refuse" if errors else "accept"
        line = errors[0][0] if errors else None
        if (
            verdict != case["rhel6"]
            or (case["line"] is not None and line != case["line"])
            or len(_warnings(reading)) != case["warnings"]
        ):
            wrong.append((case, errors, _warnings(reading)))
    assert wrong == []


def test_stored_cases_are_rhel6s_own_verdicts() -> None:
    """Referee: RHEL 6's pykickstart under Python 2.7 gives the stored verdicts (when installed)."""
    found = rhel6_pykickstart.referee([c["ks"] for c in CASES])
    for case, result in zip(CASES, found, strict=True):
        lines = [e[0] for e in result["errors"]] + ([result["fatal"][0]] if result["fatal"] else [])
        assert (case["rhel6"] == "refuse") == bool(lines), case
        assert case["line"] == (lines[0] if lines else None), case
        assert case["warnings"] == len(result["warnings"]), case


@pytest.mark.parametrize(
    "text",
    [
        "method\n",  # modern pykickstart's handler raises a TypeError on it
        "part / --size=99999999999999999999999\n",
        "raid / --device=md0 --level=RAID1 --spares=-5 raid.1\n",
        "logvol / --name=a --vgname=v --size=0 --percent=10 --grow\n",
        "network --bootproto=dhcp --device=\x00\n",
        "user --name=é --uid=-1\n",
        "%packages\n@\n-@\n%end\n",
        "part / --onpart=\n",
    ],
)
def test_odd_input_is_a_finding_never_a_traceback(text: str) -> None:
    read_kickstart(text)  # no exception escapes
