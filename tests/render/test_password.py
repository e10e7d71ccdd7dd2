"""buildiso.render.password: the vendor policy, reproducible SHA-512 hashes, no plaintext leaks."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildiso import paths
from buildiso.config import Variant
from buildiso.errors import InputError
from buildiso.render.password import (
    ENV_VAR,
    admin_password_hash,
    check_policy,
    hash_password,
    policy_failures,
    read_custom_password,
    salt_for,
)
from buildiso.render.profile import load_profile

PRODUCT = "Secure Email Gateway"


SALT = salt_for(product=PRODUCT, version="4.9.0", build=190, variant="test")


def _verify(password: str, hashed: str) -> bool:
    """glibc's crypt(3) as openssl uses it is the referee (not our own shacrypt)."""
    salt = hashed.split("$")[2]
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password, capture_output=True, text=True, check=True,
    )  # fmt: skip
    return proc.stdout.strip() == hashed


@pytest.mark.parametrize("password", ["Xk9#mRq2vL", "Tr0ub4dor&3", "Gh7!kPz2", "blue-Otter-58"])
def test_good_passwords_pass(password: str) -> None:
    assert policy_failures(password) == []


@pytest.mark.parametrize(
    ("password", "rule"),
    [
        ("Ab1!xyz", "at least 8 characters"),
        ("abcdefgh", "three of"),
        ("lowerUPPERonly", "three of"),
        ("Zx9!1234Q", "no sequences"),
        ("Qz8!abcdK", "no sequences"),
        ("Mm7!dcbaR", "no sequences"),
        ("Vr5#qwerB", "no sequences"),
        ("Jk3$aaaaW", "no sequences"),
        ("Pa55word", "dictionary word"),
        ("P@ssw0rd!", "dictionary word"),
        ("Dr4g0n!x", "dictionary word"),
        ("MyW3lc0me#", "dictionary word"),
        ("Cl3arsw1ft!", "dictionary word"),
        ("Good\npass9!X", "printable"),
    ],
)
def test_bad_passwords_name_the_rule(password: str, rule: str) -> None:
    failures = policy_failures(password)
    assert any(rule in f for f in failures), failures


def test_rejection_never_echoes_the_password() -> None:
    secret = "P@55w0rd!"
    with pytest.raises(InputError) as info:
        check_policy(secret, source="$" + ENV_VAR)
    message = str(info.value)
    assert secret not in message and secret.lower() not in message
    assert ENV_VAR in message and "dictionary word" in message


def test_hash_is_sha512_reproducible_and_verifies() -> None:
    first = hash_password("Xk9#mRq2vL", salt=SALT)
    assert first.startswith("$6$") and len(first.split("$")[2]) == 16
    assert hash_password("Xk9#mRq2vL", salt=SALT) == first  # same inputs, same bytes
    # The salt comes from the release's identity, never from the password.
    assert hash_password("Xk9#mRq2vM", salt=SALT).split("$")[2] == first.split("$")[2]
    others = {
        salt_for(product="Other", version="4.9.0", build=190, variant="test"),
        salt_for(product=PRODUCT, version="4.9.1", build=190, variant="test"),
        salt_for(product=PRODUCT, version="4.9.0", build=191, variant="test"),
        salt_for(product=PRODUCT, version="4.9.0", build=190, variant="production"),
    }
    assert SALT not in others and len(others) == 4
    assert _verify("Xk9#mRq2vL", first)
    assert not _verify("Xk9#mRq2vM", first)


def test_profile_default_hash_is_the_vendor_default() -> None:
    profile = load_profile(paths.DEFAULT_PROFILE, Variant.TEST)
    # The vendor's documented default (installation guide 3.3), which the boot test types
    # at the first login; the First Boot Console then asks for a new one.
    assert _verify("password", profile.admin_password_hash)
    from buildiso.boottest.inputs import GUIDE_PASSWORD

    assert _verify(GUIDE_PASSWORD, profile.admin_password_hash)


def test_custom_password_from_env_and_file(tmp_path: Path) -> None:
    assert read_custom_password(password_file=None, environ={}) is None
    assert read_custom_password(password_file=None, environ={ENV_VAR: "Xk9#mRq2vL"}) == (
        "Xk9#mRq2vL",
        "$" + ENV_VAR,
    )
    pw = tmp_path / "pw"
    pw.write_text("Xk9#mRq2vL\n")
    assert read_custom_password(password_file=pw, environ={}) == ("Xk9#mRq2vL", str(pw))
    with pytest.raises(InputError, match="one way only"):
        read_custom_password(password_file=pw, environ={ENV_VAR: "x"})


def test_admin_password_hash_default_and_custom(tmp_path: Path) -> None:
    default = "$6$abc$" + "x" * 86
    assert (
        admin_password_hash(default_hash=default, salt=SALT, password_file=None, environ={})
        == default
    )
    custom = admin_password_hash(
        default_hash=default, salt=SALT, password_file=None, environ={ENV_VAR: "Xk9#mRq2vL"}
    )
    assert custom == hash_password("Xk9#mRq2vL", salt=SALT)
    weak = tmp_path / "weak"
    weak.write_text("Pa55word\n")
    with pytest.raises(InputError, match=str(weak)):
        admin_password_hash(default_hash=default, salt=SALT, password_file=weak, environ={})
