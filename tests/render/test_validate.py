"""buildiso.render.validate: every broken kickstart gets its FILE:LINE; all problems at once."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.errors import ValidationFailed
from buildiso.render.profile import load_profile
from buildiso.render.validate import Problem, validate_command, validate_kickstart_text

DATA = Path(__file__).parents[1] / "data"
KS = DATA / "ks"
GOOD = DATA / "golden" / "test" / "ks.cfg.expected"


def _problems(path: Path, variant: Variant = Variant.TEST) -> list[str]:
    profile = load_profile(paths.DEFAULT_PROFILE, variant)
    text = path.read_bytes().decode()  # not read_text(): it would turn CR LF into LF
    problems = validate_kickstart_text(text, filename=path.name, profile=profile)
    return [str(p) for p in problems]


def test_problem_format() -> None:
    assert str(Problem(12, "bad thing", "ks.cfg")) == "ks.cfg:12: bad thing"


def test_rendered_kickstart_is_clean() -> None:
    assert _problems(GOOD) == []


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "rhel7-syntax.ks",
            ["rhel7-syntax.ks:25: pykickstart RHEL6: unrecognized arguments: --boot-drive=sda"],
        ),
        ("missing-end.ks", ["missing-end.ks:44: section %packages is not closed with %end"]),
        (
            "unknown-command.ks",
            ["unknown-command.ks:21: pykickstart RHEL6: Unknown command: flibbertigibbet"],
        ),
        (
            "forbidden-package.ks",
            ["forbidden-package.ks:47: forbidden package postfix is installed"],
        ),
        (
            "small-var.ks",
            ["small-var.ks:39: /var partition of 10240 MB is too small for the test variant"],
        ),
        ("inst-ks.ks", ["inst-ks.ks:25: inst.ks is a RHEL 7+ boot option that RHEL 6 ignores"]),
        (
            "deprecated-option.ks",
            [
                "deprecated-option.ks:25: pykickstart RHEL6: warning (treated as error): "
                "Ignoring deprecated option on line 25: The --lba32 option"
            ],
        ),
        (
            "several-problems.ks",
            [
                "several-problems.ks:13: rootpw: password is not a SHA-512 crypt hash",
                "several-problems.ks:28: no 'reboot' command",
                "several-problems.ks:43: forbidden package rsyslog is not excluded (add -rsyslog",
                "several-problems.ks:47: forbidden package rsyslog is installed",
            ],
        ),
    ],
)
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
        "ks.cfg.expected:39: /var partition of 61440 MB guaranteed (--grow adds only what the "
        "disk has left) is too small for the production variant (minimum 204800 MB)"
    ]


def test_user_plaintext_password_and_missing_parts(tmp_path: Path) -> None:
    text = GOOD.read_text()
    text = text.replace("--iscrypted --password=$6$", "--password=$6$")
    text = text.replace("  echo 'part / --fstype=ext4 --size=20480'\n", "")
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    problems = _problems(path)
    assert any(p.startswith("ks.cfg:14: user: password is not a SHA-512") for p in problems), (
        problems
    )
    assert any("no separate / partition, logical volume or RAID device" in p for p in problems), (
        problems
    )


def test_validate_command_exit_path(tmp_path: Path) -> None:
    validate_command(
        ks_file=GOOD, media=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
    )
    with pytest.raises(ValidationFailed) as info:
        validate_command(
            ks_file=KS / "several-problems.ks",
            media=None,
            profile_path=paths.DEFAULT_PROFILE,
            variant=Variant.TEST,
        )
    assert info.value.exit_code == 2
    assert len(info.value.problems) == 4
    assert all(p.startswith(f"{KS / 'several-problems.ks'}:") for p in info.value.problems)


def test_plaintext_password_in_post_script(tmp_path: Path) -> None:
    text = GOOD.read_text().replace(
        'echo "expired the cs-admin password"\n',
        'echo "expired the cs-admin password"\necho secret | passwd --stdin cs-admin\n'
        "echo cs-admin:$6$abc | chpasswd -e\n",
    )
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    problems = _problems(path)
    line = text.splitlines().index("echo secret | passwd --stdin cs-admin") + 1
    assert problems == [f"ks.cfg:{line}: %post sets a password from plain text (use a hash)"]


def test_windows_line_endings_are_one_problem(tmp_path: Path) -> None:
    # RHEL 6 keeps the CR: "%pre" shells then fail on "$'\r'" and part sizes read "20480\r".
    path = tmp_path / "ks.cfg"
    path.write_bytes(GOOD.read_bytes().replace(b"\n", b"\r\n"))
    lines = GOOD.read_text().count("\n")
    assert _problems(path) == [
        f"ks.cfg:1: Windows line endings (CR LF) on {lines} line(s): RHEL 6's installer and "
        "its %pre/%post shells need LF (convert with dos2unix)"
    ]
    with pytest.raises(ValidationFailed) as info:
        validate_command(
            ks_file=path, media=None, profile_path=paths.DEFAULT_PROFILE, variant=Variant.TEST
        )
    assert info.value.exit_code == 2 and "CR LF" in info.value.problems[0]
