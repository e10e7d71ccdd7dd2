"""MD5 crypt (``$1$``), the hash anaconda 13 gives plain-text kickstart passwords when the
``authconfig`` line says ``--enablemd5`` or ``--passalgo=md5`` (users.py ``cryptPassword``,
instdata.py ``getPassAlgo``), in pure Python.

Why not the ``crypt`` module: it was removed in Python 3.13 (see shacrypt.py). The
algorithm is Poul-Henning Kamp's FreeBSD MD5-crypt (1994), which glibc's crypt(3) follows:
an MD5 of password, magic and salt fed with a digest of password + salt + password and with
bits of the password's length, then 1000 rounds mixing password, salt and the previous
digest, then the 16 bytes written in its own order with crypt's 64-character alphabet.
Only hashlib's MD5 is used. tests/render/test_md5crypt.py checks it against OpenSSL's
(``openssl passwd -1``).
"""

from __future__ import annotations

import hashlib

from buildiso.render.shacrypt import ALPHABET, crypt64

SALT_MAX = 8
ROUNDS = 1000
MAGIC = b"$1$"
# The output: each triple of digest bytes becomes four characters, the last byte two.
_TRIPLES = ((0, 6, 12), (1, 7, 13), (2, 8, 14), (3, 9, 15), (4, 10, 5))


def md5_crypt(password: str, salt: str) -> str:
    """``crypt(password, "$1$" + salt)`` as glibc computes it (salt: up to 8 characters)."""
    if any(c not in ALPHABET for c in salt):
        raise ValueError("salt characters must be from [./0-9A-Za-z]")
    key = password.encode("utf-8")
    salt_bytes = salt[:SALT_MAX].encode("ascii")
    alternate = hashlib.md5(key + salt_bytes + key).digest()
    digest = hashlib.md5(key + MAGIC + salt_bytes)
    for left in range(len(key), 0, -16):  # the alternate digest, as long as the password
        digest.update(alternate[: min(16, left)])
    n = len(key)
    while n:  # each bit of the length: a NUL byte (1) or the password's first byte (0)
        digest.update(b"\0" if n & 1 else key[:1])
        n >>= 1
    final = digest.digest()
    for i in range(ROUNDS):
        step = hashlib.md5(key if i & 1 else final)
        if i % 3:
            step.update(salt_bytes)
        if i % 7:
            step.update(key)
        step.update(final if i & 1 else key)
        final = step.digest()
    encoded = "".join(crypt64((final[x] << 16) | (final[y] << 8) | final[z], 4)
                      for x, y, z in _TRIPLES)  # fmt: skip
    encoded += crypt64(final[11], 2)
    return f"$1${salt_bytes.decode()}${encoded}"
