"""buildiso.render.shacrypt against glibc's crypt(3): spec vectors, openssl, Python's crypt."""

from __future__ import annotations

import random
import subprocess
import warnings

import pytest

from buildiso.render.shacrypt import ALPHABET, sha512_crypt

# From Drepper's SHA-crypt.txt (the SHA-512 test vectors without an explicit rounds=5000).
SPEC_VECTORS = [
    ("Hello world!", "saltstring", 5000,
     "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"),
    ("Hello world!", "saltstringsaltstring", 10000,
     "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."),
    ("we have a short salt string but not a short password", "short", 77777,
     "$6$rounds=77777$short$WuQyW2YR.hBNpjjRhpYD/ifIw05xdfeEyQoMxIXbkvr0gge1a1x3yRULJ5CCaUeOxFmtlcGZelFl5CxtgfiAc0"),
    ("a very much longer text to encrypt.  This one even stretches over morethan one line.",
     "anotherlongsaltstring", 1400,
     "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"),
]  # fmt: skip


@pytest.mark.parametrize(("password", "salt", "rounds", "expected"), SPEC_VECTORS)
def test_spec_vectors(password: str, salt: str, rounds: int, expected: str) -> None:
    assert sha512_crypt(password, salt, rounds=rounds) == expected


def _cases() -> list[tuple[str, str]]:
    rng = random.Random(1234)
    printable = [chr(c) for c in range(33, 127)] + ["é", "ß", " "]
    cases = []
    for length in (0, 1, 7, 8, 15, 16, 17, 63, 64, 65, 127, 128, 200):
        password = "".join(rng.choice(printable) for _ in range(length))
        salt = "".join(rng.choice(ALPHABET) for _ in range(rng.randint(1, 16)))
        cases.append((password, salt))
    return cases


@pytest.mark.parametrize(("password", "salt"), _cases())
def test_agrees_with_openssl(password: str, salt: str) -> None:
    if not password:
        pytest.skip("openssl passwd -stdin reads no empty password")
    proc = subprocess.run(
        ["openssl", "passwd", "-6", "-salt", salt, "-stdin"],
        input=password.encode() + b"\n", capture_output=True, check=True,
    )  # fmt: skip
    assert sha512_crypt(password, salt) == proc.stdout.decode().strip()


@pytest.mark.parametrize(("password", "salt"), _cases())
def test_agrees_with_pythons_crypt_where_it_exists(password: str, salt: str) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        crypt = pytest.importorskip("crypt")  # gone in Python 3.13: openssl referees there
    assert sha512_crypt(password, salt) == crypt.crypt(password, f"$6${salt}")


def test_refuses_bad_salt_and_rounds() -> None:
    with pytest.raises(ValueError, match="salt"):
        sha512_crypt("x", "bad$salt")
    with pytest.raises(ValueError, match="rounds"):
        sha512_crypt("x", "salt", rounds=10)
