"""md5crypt.py against OpenSSL's MD5 crypt (``openssl passwd -1``), a third party."""

from __future__ import annotations

import random
import subprocess

import pytest

from buildiso.render.md5crypt import md5_crypt
from buildiso.render.shacrypt import ALPHABET


def _openssl(password: str, salt: str) -> str:
    return subprocess.run(["openssl", "passwd", "-1", "-salt", salt, "-stdin"], input=password,
                          capture_output=True, text=True, check=True).stdout.strip()


@pytest.mark.parametrize(
    ("password", "salt"),
    [("vagrant", "abcdefgh"), ("a" * 17, "saltsalt"), ("pässwörd", "./09AZaz"),
     ("x" * 64, "12345678"), ("Secr3t!pass", "longersaltthan8")],
)  # fmt: skip
def test_same_hash_as_openssl(password: str, salt: str) -> None:
    assert md5_crypt(password, salt) == _openssl(password, salt[:8])


def test_random_passwords_and_salts_agree_with_openssl() -> None:
    rng = random.Random(18)
    for _ in range(20):
        password = "".join(rng.choice(ALPHABET + " !@#") for _ in range(rng.randint(1, 40)))
        salt = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 8)))
        assert md5_crypt(password, salt) == _openssl(password, salt), (password, salt)


def test_salt_outside_the_alphabet_is_refused() -> None:
    with pytest.raises(ValueError):
        md5_crypt("pw", "bad$")


def test_empty_password_as_glibc() -> None:
    """openssl reads no line from empty input: glibc's crypt(3) referees (Python < 3.13)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")
    assert md5_crypt("", "x") == crypt.crypt("", "$1$x")
