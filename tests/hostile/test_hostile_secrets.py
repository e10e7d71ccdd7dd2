"""Hostile audit #10 and #11: the salt reveals nothing about the password, the password
leaves our environment once read and never reaches a child, and nothing needs ``crypt``."""

from __future__ import annotations

import ast
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hostile.hostile_build import build_into

from buildiso import paths
from buildiso.master.basetree import open_base
from buildiso.render.password import ENV_VAR, admin_password_hash, profile_salt
from buildiso.render.profile import Profile
from buildiso.sample.base import SampleBase

SECRET = "Xk9#mRq2vL-Tz7w"
PACKAGE = Path(__file__).resolve().parents[2] / "buildiso"
# Guest code runs inside the sample's VM on the sample's own Python (Debian 12's 3.11),
# never on the build host.
GUEST = PACKAGE / "sample" / "installer" / "guest"


def _salt(hashed: str) -> str:
    return hashed.split("$")[2]


def test_salt_does_not_depend_on_the_password(
    profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    hashes = [
        admin_password_hash(
            default_hash=profile.admin_password_hash,
            salt=profile_salt(profile),
            password_file=None,
            environ={ENV_VAR: password},
        )  # fmt: skip
        for password in (SECRET, "Other#Pa55phrase-9")
    ]
    assert _salt(hashes[0]) == _salt(hashes[1])  # the salt gives no shortcut to a guess
    assert hashes[0] != hashes[1]


def test_password_leaves_os_environ_once_read(
    profile: Profile, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, SECRET)
    hashed = admin_password_hash(
        default_hash=profile.admin_password_hash, salt=profile_salt(profile), password_file=None
    )
    assert hashed != profile.admin_password_hash  # it was read
    assert ENV_VAR not in os.environ


def _openssl_hash(password: str, salt: str) -> str:
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout.strip()


@pytest.mark.integration
def test_children_of_a_real_build_never_see_the_password(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # createrepo_c, as every program the build starts, records the environment it got.
    dumps = tmp_path / "env-dumps"
    dumps.mkdir()
    wrappers = tmp_path / "bin"
    wrappers.mkdir()
    for tool in ("createrepo_c", "xorriso", "rpmkeys"):
        real = shutil.which(tool)
        assert real is not None
        script = wrappers / tool
        script.write_text(
            f'#!/bin/sh\ncat /proc/$$/environ > "{dumps}/{tool}.$$"\nexec {real} "$@"\n'
        )
        script.chmod(0o755)
    monkeypatch.setenv("PATH", f"{wrappers}:{os.environ['PATH']}")
    monkeypatch.setenv(ENV_VAR, SECRET)
    result = build_into(sample_base, tmp_path / "out")
    assert ENV_VAR not in os.environ
    seen = sorted(dumps.iterdir())
    assert {p.name.split(".")[0] for p in seen} == {"createrepo_c", "xorriso", "rpmkeys"}
    for dump in seen:
        environ = dump.read_bytes()
        assert SECRET.encode() not in environ and ENV_VAR.encode() not in environ, dump.name
    # The ISO carries the hash of that password (openssl as referee), never the password.
    with open_base(result.iso) as media:
        ks = media.read_bytes("ks.cfg").decode()
    match = re.search(r"--iscrypted --password=(\$6\$[^ \n]+)", ks)
    assert match is not None and SECRET not in ks
    hashed = match.group(1)
    assert _openssl_hash(SECRET, _salt(hashed)) == hashed
    assert SECRET.encode() not in result.iso.read_bytes()


def _imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), filename=str(path))):
        if isinstance(node, ast.Import):
            names |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_nothing_on_the_host_imports_crypt() -> None:
    """``crypt`` is gone in Python 3.13; pyproject allows >= 3.11."""
    offenders = [
        str(path.relative_to(PACKAGE))
        for path in sorted(PACKAGE.rglob("*.py"))
        if GUEST not in path.parents and {"crypt", "crypt_r", "passlib"} & _imports(path)
    ]
    assert offenders == []
    assert paths.PROJECT_ROOT == PACKAGE.parent
