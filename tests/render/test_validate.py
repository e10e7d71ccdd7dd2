"""buildiso.render.validate: every problem at its FILE:LINE, labelled with its kind, counted.

The kinds and ``--rules`` (rhel6 / product / all), the product-rule messages that say where
the data really is, and #22's profile rules applied to a hand-written kickstart.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import KsRules, Variant
from buildiso.errors import ValidationFailed
from buildiso.render.profile import load_profile
from buildiso.render.validate import (
    Kind,
    Problem,
    check_kickstart,
    counts,
    validate_command,
    validate_kickstart_text,
)

DATA = Path(__file__).parents[1] / "data"
KS = DATA / "ks"
CORPUS = DATA / "ks-corpus"
GOOD = DATA / "golden" / "test" / "ks.cfg.expected"
# A line of GOOD's gateway %post: the tests add script lines after it.
POST_LINE = "# 4. The web UI keeps TLS 1.2 only (profile: tls10 = false).\n"
PROFILE = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)


def _problems(path: Path, variant: Variant = Variant.TEST) -> list[str]:
    profile = load_profile(paths.DEFAULT_PROFILE, variant)
    text = path.read_bytes().decode()  # not read_text(): it would turn CR LF into LF
    problems = validate_kickstart_text(text, filename=path.name, profile=profile)
    return [str(p) for p in problems]


def _check(text: str, rules: KsRules = KsRules.ALL) -> list[str]:
    return [str(p) for p in check_kickstart(text, filename="ks.cfg", profile=PROFILE, rules=rules)]


def _line_of(text: str, needle: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if needle in line)


def _starting(text: str, start: str) -> int:
    return next(n for n, line in enumerate(text.splitlines(), 1) if line.startswith(start))


def test_problem_format_names_the_kind() -> None:
    assert str(Problem(12, "bad thing", "ks.cfg")) == "ks.cfg:12: product-rule: bad thing"
    assert str(Problem(3, "x", "ks.cfg", Kind.RHEL6_SYNTAX)) == "ks.cfg:3: rhel6-syntax: x"
    assert str(Problem(3, "... and 2 more", "ks.cfg", None)) == "ks.cfg:3: ... and 2 more"


def test_counts_in_kind_order() -> None:
    kinds = [Kind.PRODUCT, Kind.RHEL6_SYNTAX, Kind.PRODUCT, Kind.RHEL6_WARNING]
    assert counts(kinds) == "1 rhel6-syntax, 1 rhel6-warning, 2 product-rule"
    assert counts([]) == "no problems"


def test_rendered_kickstart_is_clean() -> None:
    assert _problems(GOOD) == []
    for rules in KsRules:
        assert _check(GOOD.read_text(), rules) == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "rhel7-syntax.ks",
            ["rhel7-syntax.ks:25: rhel6-syntax: bootloader: no such option: --boot-drive"],
        ),
        (
            "missing-end.ks",
            ["missing-end.ks:44: product-rule: section %packages is not closed with %end (it ends "
             "where the next section starts, line 51)"],
        ),
        (
            "unknown-command.ks",
            ["unknown-command.ks:21: rhel6-syntax: unknown command 'flibbertigibbet'"],
        ),
        (
            "forbidden-package.ks",
            ["forbidden-package.ks:47: product-rule: forbidden package postfix is installed"],
        ),
        (
            "small-var.ks",
            ["small-var.ks:39: product-rule: /var partition of 10240 MB is too small for the test "
             "variant"],
        ),
        (
            "inst-ks.ks",
            ["inst-ks.ks:25: product-rule: inst.ks is a RHEL 7+ boot option that RHEL 6 ignores"],
        ),
        (
            "deprecated-option.ks",
            ["deprecated-option.ks:25: rhel6-warning: bootloader: The --lba32 option has been "
             "deprecated"],
        ),
        (
            "several-problems.ks",
            [
                "several-problems.ks:13: product-rule: rootpw: password is not a SHA-512 crypt",
                "several-problems.ks:28: product-rule: no 'reboot' command anywhere in the file",
                "several-problems.ks:43: product-rule: forbidden package rsyslog is not excluded "
                "(add -rsyslog",
                "several-problems.ks:47: product-rule: forbidden package rsyslog is installed",
            ],
        ),
    ],
)  # fmt: skip
def test_broken_fixture_reports_exact_lines(fixture: str, expected: list[str]) -> None:
    problems = _problems(KS / fixture)
    assert len(problems) == len(expected), problems
    for got, want in zip(problems, expected, strict=True):
        assert got.startswith(want), (got, want)


def test_plaintext_password_never_echoed() -> None:
    problems = "\n".join(_problems(KS / "several-problems.ks"))
    assert "changeme" not in problems


def test_production_variant_needs_bigger_var() -> None:
    problems = _problems(GOOD, Variant.PRODUCTION)
    assert problems == [
        "ks.cfg.expected:39: product-rule: /var partition of 61440 MB guaranteed (--grow adds "
        "only what the disk has left) is too small for the production variant (minimum 204800 MB)"
    ]


def test_user_plaintext_password_and_missing_parts(tmp_path: Path) -> None:
    text = GOOD.read_text()
    text = text.replace("--iscrypted --password=$6$", "--password=$6$")
    text = text.replace("  echo 'part / --fstype=ext4 --size=20480'\n", "")
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    problems = _problems(path)
    assert any(
        p.startswith("ks.cfg:14: product-rule: user: password is not a SHA-512") for p in problems
    ), problems
    # / is not among what the %pre writes: named at the %include of the file it writes
    include = _line_of(text, "%include /tmp/part-include")
    pre = _starting(text, "%pre")
    assert (
        f"ks.cfg:{include}: product-rule: no separate / partition, logical volume or RAID device "
        f"among the storage lines, those %include /tmp/part-include (line {include}), a file the "
        f"%pre at line {pre} writes at install time included (the installation guide asks for "
        "separate / and /var)"
    ) in problems


# --- kinds and --rules --------------------------------------------------------------------
def _broken(text: str) -> str:
    """GOOD with a RHEL 6 syntax error, a RHEL 6 warning and a product-rule problem."""
    text = text.replace("bootloader --location=mbr\n", "bootloader --location=mbr --lba32\n")
    text = text.replace("zerombr\n", "zerombr yes\n")
    return text.replace("-postfix\n", "")


def test_each_problem_labelled_and_filtered_by_rules() -> None:
    text = _broken(GOOD.read_text())
    every = _check(text)
    kinds = [re.match(r"ks\.cfg:\d+: ([a-z0-9-]+): ", p).group(1) for p in every]  # type: ignore[union-attr]
    assert sorted(set(kinds)) == ["product-rule", "rhel6-syntax", "rhel6-warning"], every
    assert [p for p in every if "rhel6-" in p] == _check(text, KsRules.RHEL6)
    assert [p for p in every if "product-rule" in p] == _check(text, KsRules.PRODUCT)
    zerombr = _line_of(text, "zerombr yes")
    assert f"ks.cfg:{zerombr}: rhel6-syntax: zerombr: unrecognized arguments: yes" in every


def test_rules_rhel6_exit_0_with_warnings_printed(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ks.cfg"
    # a deprecated option and a product problem: RHEL 6 accepts it, the product does not
    path.write_text(GOOD.read_text().replace("--location=mbr\n", "--location=mbr --lba32\n"))
    with caplog.at_level(logging.INFO, logger="buildiso"):
        validate_command(path, None, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.RHEL6)
    messages = [r.getMessage() for r in caplog.records]
    assert any(": rhel6-warning: bootloader: The --lba32 option" in m for m in messages)
    assert messages[-1].endswith("OK (RHEL 6 (anaconda 13) accepts it; 1 rhel6-warning)")
    with pytest.raises(ValidationFailed) as info:  # all: warnings fail too
        validate_command(path, None, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.ALL)
    assert info.value.message.endswith("kickstart check failed (1 rhel6-warning): 1 problem(s)")


@pytest.mark.parametrize(
    ("line", "product_problem"),
    [("firewall --enabled --telnet --port=22:tcp", True), ("firewall --tel --ssh", True),
     ("firewall --telnet --disabled", False), ("firewall --telnet\nfirewall --port=22:tcp", False)],
)  # fmt: skip
def test_firewall_telnet_leaves_every_port_closed(line: str, product_problem: bool) -> None:
    """RHEL 6 accepts --telnet with a warning; the product rules say what it does: the
    service telnet makes RHEL 6's lokkit refuse the whole firewall (the last line wins)."""
    text = GOOD.read_text()
    start = _starting(text, "firewall ")
    lines = text.split("\n")
    lines[start - 1] = line
    text = "\n".join(lines)
    rhel6 = _check(text, KsRules.RHEL6)
    assert [p for p in rhel6 if "rhel6-syntax" in p] == []
    assert f"ks.cfg:{start}: rhel6-warning: firewall --telnet is deprecated yet RHEL 6's " \
           "parser still adds the service telnet (which RHEL 6's lokkit refuses)" in rhel6
    product = [p for p in _check(text, KsRules.PRODUCT) if "telnet" in p]
    assert product == ([f"ks.cfg:{start}: product-rule: firewall --telnet: RHEL 6's parser turns "
                        "it into the service telnet, which RHEL 6's lokkit refuses, so the "
                        "install writes no firewall rules at all (every port stays closed, the "
                        "product's too) and its SELinux setting is not applied either; drop it "
                        "(open 23/tcp with --port=23:tcp if telnet is really wanted)"]
                       if product_problem else [])  # fmt: skip


def test_rules_rhel6_exit_2_on_syntax_with_counts(tmp_path: Path) -> None:
    path = tmp_path / "ks.cfg"
    path.write_text(_broken(GOOD.read_text()))
    with pytest.raises(ValidationFailed) as info:
        validate_command(path, None, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.RHEL6)
    assert info.value.exit_code == 2
    assert info.value.message == (
        f"{path}: kickstart RHEL 6 (anaconda 13) refuses it (1 rhel6-syntax, 1 rhel6-warning): "
        "2 problem(s)"
    )
    with pytest.raises(ValidationFailed) as info:
        validate_command(path, None, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.PRODUCT)
    assert info.value.message == f"{path}: kickstart check failed (1 product-rule): 1 problem(s)"
    assert [p.split(": ")[1] for p in info.value.problems] == ["product-rule"]


def test_media_problems_labelled(tmp_path: Path) -> None:
    path = tmp_path / "ks.cfg"
    path.write_text(GOOD.read_text())

    def media(ks_text: str, *, filename: str) -> list[str]:
        return [f"{filename}:44: package cs-email not on the media", f"{filename}: no repodata"]

    with pytest.raises(ValidationFailed) as info:
        validate_command(path, media, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.ALL)
    assert info.value.problems == [
        f"{path}:44: media: package cs-email not on the media",
        f"{path}: media: no repodata",
    ]
    assert "(2 media)" in info.value.message
    # --rules rhel6 asks RHEL 6's parser only: the media check is not run
    validate_command(path, media, paths.DEFAULT_PROFILE, Variant.TEST, KsRules.RHEL6)


# --- RHEL 6's parser, through validate ----------------------------------------------------
def test_wheel_here_document_is_script_text() -> None:
    text = GOOD.read_text().replace(
        POST_LINE,
        POST_LINE + "cat > /etc/sudoers.d/wheel <<EOF\n"
        "%wheel ALL=(ALL) ALL\n%admin ALL=(ALL) NOPASSWD: ALL\nEOF\n",
    )
    assert _check(text) == []


def test_missing_end_at_end_of_file_is_a_warning_naming_the_line() -> None:
    text = GOOD.read_text().rstrip("\n")
    assert text.endswith("%end")
    text = text[: -len("%end")]
    header = max(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("%post"))
    warning = (
        f"ks.cfg:{header}: rhel6-warning: %post runs to the end of the file without %end: RHEL 6 "
        "accepts it with a deprecation warning (script does not end with %end)"
    )
    assert _check(text, KsRules.RHEL6) == [warning]
    assert _check(text) == [warning]  # not a second time as a product rule
    assert _check(text, KsRules.PRODUCT) == [
        f"ks.cfg:{header}: product-rule: section %post is not closed with %end"
    ]


def test_parser_stop_noted_under_rules_product() -> None:
    text = GOOD.read_text().replace("%end\n", "%end\n%end\n", 1)
    rhel6 = _check(text, KsRules.RHEL6)
    assert len(rhel6) == 1 and "rhel6-syntax: %end is not a section RHEL 6 knows" in rhel6[0]
    assert "RHEL 6's parser stops here, the rest of the file is not read" in rhel6[0]
    line = int(rhel6[0].split(":")[1])
    product = _check(text, KsRules.PRODUCT)
    assert f"ks.cfg:{line}: product-rule: RHEL 6's parser stops reading at this line (see " in (
        "\n".join(product)
    )
    # what RHEL 6 never read is not called missing
    assert not any("anywhere in the file" in p or "no %packages" in p for p in product), product


# --- product rules say where the data is ----------------------------------------------
def test_partitions_and_packages_from_a_pre_written_include() -> None:
    path = CORPUS / "33-redhatgov-ssg-rhel6.ks"
    text = path.read_text()
    problems = _check(text, KsRules.PRODUCT)
    part = _line_of(text, "%include /tmp/partitioning")
    pre = _starting(text, "%pre")
    pkgs = _line_of(text, "%include /tmp/hardening-packages")
    assert (
        f"ks.cfg:{part}: product-rule: no separate /var seen: the partitions may come from "
        f"%include /tmp/partitioning (line {part}), a file the %pre at line {pre} writes at "
        "install time, whose content this file does not show, so /var cannot be checked "
        "(the installation guide asks for separate / and /var)"
    ) in problems
    assert not any("no separate / partition" in p for p in problems), problems
    header = _starting(text, "%packages")
    assert (
        f"ks.cfg:{header}: product-rule: required package cs-email missing from %packages (it "
        f"may be in %include /tmp/hardening-packages (line {pkgs}), a file the %pre at line {pre} "
        "writes at install time: that part of %packages cannot be checked before the install)"
    ) in problems


@pytest.mark.parametrize(
    ("script", "plain"),
    [
        ("openssl rand -base64 32 | passwd --stdin root", False),
        ("dd if=/dev/urandom count=50 | md5sum | passwd --stdin root", False),
        ('echo "root:$(openssl rand -hex 16)" | chpasswd', False),
        ("echo $user:$password | chpasswd", False),  # set elsewhere: not in the file
        ("cat /root/pw | passwd --stdin root", False),  # a file's content: not in this one
        ("echo 'root:$6$x$y' | chpasswd -e", False),  # a hash
        ('echo "vagrant" | passwd --stdin vagrant', True),
        ("echo root:secret | chpasswd", True),
        ("passwd --stdin root <<< hunter2", True),
        ("PW=hunter2; echo $PW | passwd --stdin root", True),
        ("chpasswd <<EOF", True),
    ],
)
def test_script_password_rule(script: str, plain: bool) -> None:
    text = GOOD.read_text().replace(
        POST_LINE,
        f"{POST_LINE}{script}\n",
    )
    if script.startswith("PW="):
        text = text.replace(f"{script}\n", "PW=hunter2\necho $PW | passwd --stdin root\n")
        script = "echo $PW | passwd --stdin root"
    problems = _check(text, KsRules.PRODUCT)
    expected = [f"ks.cfg:{_line_of(text, script)}: product-rule: %post sets a password from "
                "plain text (use a hash)"] if plain else []  # fmt: skip
    assert problems == expected


def test_corpus_random_root_passwords_are_not_plain_text() -> None:
    for name in (
        "21-centos-docker-6.ks",
        "23-centos-cloudimg-6-hvm.ks",
        "24-centos-cloudstack-6.ks",
    ):
        problems = _check((CORPUS / name).read_text(), KsRules.PRODUCT)
        assert not any("password from plain text" in p for p in problems), (name, problems)
    text = (CORPUS / "14-craigm-centos6.ks").read_text()
    line = _line_of(text, 'echo "vagrant" | passwd --stdin vagrant')
    problems = _check(text, KsRules.PRODUCT)
    assert f"ks.cfg:{line}: product-rule: %post sets a password from plain text (use a hash)" in (
        problems
    )


def test_no_missing_thing_points_at_line_1_of_the_corpus() -> None:
    """A rule that cannot find something names where it belongs, or says "nowhere"."""
    missing = re.compile(r"product-rule: (no |required .* missing)")
    seen = 0
    for path in sorted(CORPUS.glob("*.ks")):
        for problem in _check(path.read_bytes().decode(), KsRules.PRODUCT):
            if missing.search(problem):
                seen += 1
                if problem.startswith("ks.cfg:1: "):
                    assert "anywhere in the file" in problem, (path.name, problem)
    assert seen > 100  # the corpus is full of "missing" things the product wants


def test_missing_things_named_where_they_belong() -> None:
    text = "\n".join(
        line for line in GOOD.read_text().splitlines()
        if not line.startswith(("repo ", "reboot"))
    ) + "\n"  # fmt: skip
    problems = _check(text, KsRules.PRODUCT)
    last = max(n for n, line in enumerate(text.splitlines(), 1) if line.startswith("bootloader"))
    assert f"ks.cfg:{last}: product-rule: no 'reboot' command anywhere in the file" in (
        "\n".join(problems)
    )
    assert any("no repo --baseurl=.../cs-repo anywhere in the file" in p for p in problems)
    assert not any(p.startswith("ks.cfg:1:") for p in problems), problems
    # a file that is all comments has no better place than line 1: it says "anywhere"
    bare = _check("# nothing here\n", KsRules.PRODUCT)
    assert bare and all("anywhere in the file" in p for p in bare), bare


# --- #22 item 5: the profile's rules in a hand-written kickstart ----------------------
@pytest.mark.parametrize("name", ["root", "daemon", "postfix"])
def test_system_account_as_user(name: str) -> None:
    text = GOOD.read_text().replace("user --name=cs-admin ", f"user --name={name} ")
    line = _line_of(text, f"user --name={name}")
    problems = _check(text, KsRules.PRODUCT)
    assert problems == [
        f"ks.cfg:{line}: product-rule: user --name={name}: {name!r} is root or a RHEL 6 system "
        "account: the console user gets a password that first boot expires and logs in (the "
        "kickstart locks root); use an ordinary user name such as cs-admin"
    ]


@pytest.mark.parametrize(
    ("mount", "why"),
    [
        ("/media/../../etc", "must not contain '..' (it could leave its place)"),
        ("/var/./log", "is not normalised (allowed: /var/log)"),
        ("/srv//x", "is not normalised (allowed: /srv/x)"),
    ],
)
def test_unsafe_mount_points(mount: str, why: str) -> None:
    text = GOOD.read_text().replace(
        "  echo 'part /var --fstype=ext4 --size=61440 --grow'\n",
        f"  echo 'part /var --fstype=ext4 --size=61440 --grow'\n"
        f"  echo 'part {mount} --fstype=ext4 --size=1024'\n",
    )
    line = _line_of(text, f"part {mount} ")
    assert _check(text, KsRules.PRODUCT) == [
        f"ks.cfg:{line}: product-rule: part {mount}: mount point {mount!r} {why}"
    ]


def test_validate_command_exit_path() -> None:
    validate_command(
        ks_file=GOOD, media_check=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
    )
    with pytest.raises(ValidationFailed) as info:
        validate_command(
            ks_file=KS / "several-problems.ks",
            media_check=None,
            profile_path=paths.DEFAULT_PROFILE,
            variant=Variant.TEST,
        )
    assert info.value.exit_code == 2
    assert len(info.value.problems) == 4
    assert all(p.startswith(f"{KS / 'several-problems.ks'}:") for p in info.value.problems)


def test_plaintext_password_in_post_script(tmp_path: Path) -> None:
    text = GOOD.read_text().replace(
        POST_LINE,
        POST_LINE + "echo secret | passwd --stdin cs-admin\n"
        "echo cs-admin:$6$abc | chpasswd -e\n",
    )
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    problems = _problems(path)
    line = text.splitlines().index("echo secret | passwd --stdin cs-admin") + 1
    assert problems == [
        f"ks.cfg:{line}: product-rule: %post sets a password from plain text (use a hash)"
    ]


def test_windows_line_endings_are_one_problem(tmp_path: Path) -> None:
    # RHEL 6 keeps the CR: "%pre" shells then fail on "$'\r'" and part sizes read "20480\r".
    path = tmp_path / "ks.cfg"
    path.write_bytes(GOOD.read_bytes().replace(b"\n", b"\r\n"))
    lines = GOOD.read_text().count("\n")
    assert _problems(path) == [
        f"ks.cfg:1: product-rule: Windows line endings (CR LF) on {lines} line(s): RHEL 6's "
        "installer and its %pre/%post shells need LF (convert with dos2unix)"
    ]
    with pytest.raises(ValidationFailed) as info:
        validate_command(
            ks_file=path, media_check=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
        )
    assert info.value.exit_code == 2 and "CR LF" in info.value.problems[0]
