"""SHA-512 crypt (``$6$``), the password hash RHEL 6 reads in a kickstart's ``rootpw``/``user
--iscrypted``, in pure Python.

Why not the ``crypt`` module: it was removed in Python 3.13 (Debian 13's Python), and
passlib is unmaintained. The algorithm is short and fully specified by its author:
Ulrich Drepper, "Unix crypt using SHA-256 and SHA-512" (2007-2008,
https://www.akkadia.org/drepper/SHA-crypt.txt); the step numbers below are that text's.
Only hashlib's SHA-512 is used. tests/render/test_shacrypt.py checks it against glibc's
crypt(3) (``openssl passwd -6``, and Python 3.11's ``crypt`` where present) on the spec's
own test vectors and on random passwords and salts.
"""

from __future__ import annotations

import hashlib

ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
ROUNDS_DEFAULT = 5000
SALT_MAX = 16
# Step 22's byte order: each triple becomes four characters.
_TRIPLES = (
    (0, 21, 42), (22, 43, 1), (44, 2, 23), (3, 24, 45), (25, 46, 4), (47, 5, 26),
    (6, 27, 48), (28, 49, 7), (50, 8, 29), (9, 30, 51), (31, 52, 10), (53, 11, 32),
    (12, 33, 54), (34, 55, 13), (56, 14, 35), (15, 36, 57), (37, 58, 16), (59, 17, 38),
    (18, 39, 60), (40, 61, 19), (62, 20, 41),
)  # fmt: skip


def _repeat(block: bytes, length: int) -> bytes:
    return (block * (length // len(block) + 1))[:length]


def crypt64(value: int, chars: int) -> str:
    """``chars`` characters of crypt's base-64 (``ALPHABET``), least significant six bits
    first: the encoding of SHA-crypt and MD5-crypt alike."""
    out = []
    for _ in range(chars):
        out.append(ALPHABET[value & 0x3F])
        value >>= 6
    return "".join(out)


def sha512_crypt(password: str, salt: str, *, rounds: int = ROUNDS_DEFAULT) -> str:
    """``crypt(password, "$6$" + salt)`` as glibc computes it (``rounds=`` only if not 5000)."""
    if not 1000 <= rounds <= 999_999_999:
        raise ValueError("rounds must be within 1000..999999999")
    if any(c not in ALPHABET for c in salt):
        raise ValueError("salt characters must be from [./0-9A-Za-z]")
    key = password.encode("utf-8")
    salt_bytes = salt[:SALT_MAX].encode("ascii")

    # Steps 4-8: digest B of password + salt + password.
    b = hashlib.sha512(key + salt_bytes + key).digest()
    # Steps 1-3, 9-12: digest A.
    a = hashlib.sha512(key + salt_bytes)
    a.update(_repeat(b, len(key)))
    n = len(key)
    while n > 0:
        a.update(b if n & 1 else key)
        n >>= 1
    alt = a.digest()
    # Steps 13-16: byte sequence P from the password repeated len(password) times.
    p_bytes = _repeat(hashlib.sha512(key * len(key)).digest(), len(key))
    # Steps 17-20: byte sequence S from the salt repeated 16 + alt[0] times.
    s_bytes = _repeat(hashlib.sha512(salt_bytes * (16 + alt[0])).digest(), len(salt_bytes))
    # Step 21: the rounds.
    c = alt
    for i in range(rounds):
        h = hashlib.sha512(p_bytes if i & 1 else c)
        if i % 3:
            h.update(s_bytes)
        if i % 7:
            h.update(p_bytes)
        h.update(c if i & 1 else p_bytes)
        c = h.digest()
    # Step 22: the output string.
    encoded = "".join(crypt64((c[x] << 16) | (c[y] << 8) | c[z], 4) for x, y, z in _TRIPLES)
    encoded += crypt64(c[63], 2)
    prefix = "$6$" if rounds == ROUNDS_DEFAULT else f"$6$rounds={rounds}$"
    return f"{prefix}{salt_bytes.decode()}${encoded}"
