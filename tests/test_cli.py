"""buildiso.cli: every verb's --help has an example; exit codes 0 / 2 for render and validate."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.cli import cli, main
from buildiso.render.password import ENV_VAR

DATA = Path(__file__).parent / "data"


@pytest.mark.parametrize("verb", sorted(cli.commands))
def test_every_verb_help_has_an_example(verb: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([verb, "--help"]) == 0
    out = capsys.readouterr().out
    assert "Example:" in out
    assert f"buildiso {verb}" in out.split("Example:", 1)[1]


def test_top_level_help(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    assert "render" in capsys.readouterr().out


def test_render_ok(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    out = tmp_path / "menus"
    rc = main(["render", "--variant", "production", "--isolinux-flavour", "syslinux6",
               "--efi-flavour", "grub2", "--out", str(out)])  # fmt: skip
    assert rc == 0
    assert (out / "ks.cfg").is_file()
    assert (out / "isolinux" / "isolinux.cfg").is_file()
    assert (out / "EFI" / "BOOT" / "grub.cfg").is_file()
    assert "ui vesamenu.c32" in (out / "isolinux" / "isolinux.cfg").read_text()
    assert "--size=204800" in (out / "ks.cfg").read_text()
    assert not list(out.rglob(".*tmp*"))  # no temporary files left behind


def test_render_then_validate_roundtrip(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    assert main(["render", "--out", str(tmp_path)]) == 0
    assert main(["validate", str(tmp_path / "ks.cfg")]) == 0


def test_validate_broken_exit_2_with_file_line(capsys: pytest.CaptureFixture[str]) -> None:
    ks = DATA / "ks" / "several-problems.ks"
    assert main(["validate", str(ks)]) == 2
    err = capsys.readouterr().err.splitlines()
    assert err[0].startswith(f"{ks}:13: product-rule: rootpw:")
    assert len([line for line in err if line.startswith(f"{ks}:")]) == 4
    assert err[-1] == f"buildiso: {ks}: kickstart check failed (4 product-rule): 4 problem(s)"


@pytest.mark.parametrize(
    ("corpus_file", "rules", "code", "summary"),
    [
        # RHEL 6 accepts it with a deprecation warning; the product's rules do not
        ("04-veewee-centos63-reallyminimal.ks", "rhel6", 0,
         "OK (RHEL 6 (anaconda 13) accepts it; 1 rhel6-warning)"),
        ("04-veewee-centos63-reallyminimal.ks", "product", 2, "check failed (1"),
        ("04-veewee-centos63-reallyminimal.ks", "all", 2, "check failed (1 rhel6-warning, 1"),
        # network --domain: RHEL 6 knows it (modern pykickstart's RHEL6 handler does not)
        ("36-matrixlab-rh6clnt01.ks", "rhel6", 0,
         "OK (RHEL 6 (anaconda 13) accepts it; no problems)"),
        # zerombr yes: refused by RHEL 6
        ("24-centos-cloudstack-6.ks", "rhel6", 2,
         "kickstart RHEL 6 (anaconda 13) refuses it (1 rhel6-syntax): 1 problem(s)"),
    ],
)  # fmt: skip
def test_validate_rules_exit_codes_and_summary(
    corpus_file: str, rules: str, code: int, summary: str, capsys: pytest.CaptureFixture[str]
) -> None:
    ks = DATA / "ks-corpus" / corpus_file
    assert main(["validate", str(ks), "--rules", rules]) == code
    err = capsys.readouterr().err.splitlines()
    assert summary in err[-1], err
    listed = [line for line in err if line.startswith(f"{ks}:")]
    if rules == "rhel6":
        assert all(": rhel6-" in line for line in listed), listed
    if rules == "product":
        assert all(": product-rule: " in line for line in listed), listed


def test_validate_rules_choice_checked(capsys: pytest.CaptureFixture[str]) -> None:
    ks = DATA / "ks" / "several-problems.ks"
    assert main(["validate", str(ks), "--rules", "pedantic"]) == 2
    assert "'pedantic' is not one of 'rhel6', 'product', 'all'" in capsys.readouterr().err


def test_validate_missing_file_exit_2(tmp_path: Path) -> None:
    assert main(["validate", str(tmp_path / "nope.ks")]) == 2


def test_weak_password_exit_2_never_echoed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(ENV_VAR, raising=False)
    secret = tmp_path / "pw"
    secret.write_text("Summer2024\n")
    out = tmp_path / "out"
    assert main(["render", "--password-file", str(secret), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Summer2024" not in err
    assert "password policy" in err and str(secret) in err
    assert not out.exists()


def test_hostile_profile_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = paths.DEFAULT_PROFILE.read_text().replace(
        'title = "Welcome to Clearswift Email Solutions"',
        'title = "Welcome\\n%pre\\nreboot\\n%end"',
    )
    assert "%pre" in tomllib.loads(text)["menu"]["title"]
    profile = tmp_path / "evil.toml"
    profile.write_text(text)
    out = tmp_path / "out"
    assert main(["render", "--profile", str(profile), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert f"{profile}: menu.title:" in err and "not allowed" in err
    assert not out.exists()
