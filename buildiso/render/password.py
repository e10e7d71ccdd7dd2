"""The cs-admin password: vendor policy and reproducible SHA-512 crypt hashing.

A custom initial password comes from ``BUILDISO_CS_ADMIN_PASSWORD`` or ``--password-file``,
never from the profile. It must pass the vendor policy (docs/product-facts.md): at least 8
characters; three of upper case, lower case, digits, symbols; no sequences such as ``1234``;
not resembling a dictionary word even with digit/letter swaps (``Pa55word``). A rejection
names the rules that failed and never shows the password.

Without a custom password the profile's hash of the vendor default is used: the build
never needs the plaintext default (the installation guide prints it; the boot test logs in
with it as the guide's reader does, ``boottest/inputs.py``).

The hash's salt is derived from the build's *non-secret* identity (product, version, build,
variant) rather than random, so the same inputs give a byte-identical ks.cfg and ISO. It
must not be derived from the password: ks.cfg publishes the salt, and a salt computed from
the password would let a guess be checked with one cheap HMAC instead of the 5,000 SHA-512
rounds of the hash. The cost of a fixed salt: two builds of the same release with the same
password show the same hash. The First Boot Console asks for a new one at the first
login anyway (docs/product-facts.md, "After the install").

``BUILDISO_CS_ADMIN_PASSWORD`` never stays in the process's environment: the CLI takes it
out before any work (``secretenv``: it re-executes itself without it, the password passed
through a pipe, since ``/proc/<pid>/environ`` keeps what ``os.environ`` forgets); programs
we start get ``run.child_env()``'s minimal environment in any case. The SHA-512 crypt
itself is ``shacrypt`` (the ``crypt`` module is gone in Python 3.13).

Bounded: a password file is read no further than a password of ``MAX_LENGTH`` characters
can be (``/dev/zero`` is one line, not a MemoryError), and the policy's costly checks
(dictionary words with swaps, sequences) only run on a password of allowed length, so
checking any input is linear in its size.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from functools import cache
from pathlib import Path

from buildiso import secretenv
from buildiso.errors import InputError
from buildiso.render.profile import Profile
from buildiso.render.shacrypt import sha512_crypt

ENV_VAR = secretenv.ENV_VAR
WORDS_FILE = Path(__file__).resolve().parent / "data" / "words.txt"

MIN_LENGTH = 8
MAX_LENGTH = 128
# What a password file may hold: MAX_LENGTH characters of UTF-8 and a line end.
MAX_FILE_BYTES = 4 * MAX_LENGTH + 2
assert MAX_FILE_BYTES <= secretenv.MAX_BYTES
_SEQUENCE_LENGTH = 4
# Rows of a US keyboard and the digit row: "qwer", "asdf", "7890" are sequences too.
_KEYBOARD_ROWS = ("1234567890", "qwertyuiop", "asdfghjkl", "zxcvbnm")
# Digit/symbol -> letter swaps people use to dodge dictionary checks. Ambiguous ones
# (1 = i or l) are tried both ways.
_LEET: dict[str, tuple[str, ...]] = {
    "0": ("o",), "1": ("i", "l"), "!": ("i", "l"), "|": ("l", "i"), "3": ("e",),
    "4": ("a",), "@": ("a",), "5": ("s",), "$": ("s",), "7": ("t",), "+": ("t",),
    "8": ("b",), "9": ("g",), "6": ("g",), "2": ("z",),
}  # fmt: skip
_CRYPT_ALPHABET = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_SHA512_CRYPT = re.compile(r"\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}")


@cache
def _words() -> frozenset[str]:
    lines = WORDS_FILE.read_text(encoding="utf-8").splitlines()
    return frozenset(w.strip() for w in lines if w.strip() and not w.startswith("#"))


def _classes(password: str) -> int:
    return sum(
        (
            any(c.isupper() for c in password),
            any(c.islower() for c in password),
            any(c.isdigit() for c in password),
            any(not c.isalnum() for c in password),
        )
    )


def _has_sequence(password: str) -> bool:
    text = password.lower()
    n = _SEQUENCE_LENGTH
    for i in range(len(text) - n + 1):
        chunk = text[i : i + n]
        if len(set(chunk)) == 1:  # "aaaa", "1111"
            return True
        if chunk.isalnum():
            steps = {ord(b) - ord(a) for a, b in zip(chunk, chunk[1:], strict=False)}
            if steps in ({1}, {-1}):  # "abcd", "1234", "dcba", "4321"
                return True
        for row in _KEYBOARD_ROWS:
            if chunk in row or chunk in row[::-1]:
                return True
    return False


def _unleet(text: str) -> set[str]:
    """Every reading of ``text`` with digit/symbol swaps undone (lower case)."""
    readings = {""}
    for char in text.lower():
        options = _LEET.get(char, (char,))
        readings = {r + o for r in readings for o in options}
        if len(readings) > 256:  # pathological input: keep the check bounded
            readings = set(list(sorted(readings))[:256])
    return readings


def _dictionary_word(password: str) -> bool:
    words = _words()
    for reading in _unleet(password) | {password.lower()}:
        letters = re.sub(r"[^a-z]", "", reading)
        core = reading.strip("0123456789!@#$%^&*()_+-=.,;:?~ ")
        if letters in words or core in words:
            return True
        # a long word anywhere inside ("MyPassword#9") also counts as resembling it
        if any(len(w) >= 5 and w in reading for w in words):
            return True
    return False


def policy_failures(password: str) -> list[str]:
    """The vendor rules ``password`` breaks (empty list = acceptable). Never echoes it.

    A password over ``MAX_LENGTH`` fails on its length alone: the other rules are not
    looked at (their cost grows with the length; the length rule already refuses it)."""
    if len(password) > MAX_LENGTH:
        return [f"at most {MAX_LENGTH} characters"]
    failures = []
    if len(password) < MIN_LENGTH:
        failures.append(f"at least {MIN_LENGTH} characters")
    if any(not c.isprintable() for c in password):
        failures.append("printable characters only (no newline, tab or control characters)")
    if _classes(password) < 3:
        failures.append("at least three of: upper case, lower case, digits, symbols")
    if _has_sequence(password):
        failures.append(f"no sequences of {_SEQUENCE_LENGTH} (such as 1234, abcd, qwer or aaaa)")
    if _dictionary_word(password):
        failures.append("must not resemble a dictionary word (even with swaps like Pa55word)")
    return failures


def check_policy(password: str, *, source: str) -> None:
    """InputError naming every failed rule and where the password came from."""
    failures = policy_failures(password)
    if failures:
        raise InputError(
            f"the cs-admin password from {source} breaks the vendor password policy: "
            + "; ".join(failures),
            hint="choose another password (it is never shown or stored in plain text)",
        )


def salt_for(*, product: str, version: str, build: int | str, variant: str) -> str:
    """16 salt characters from the build's non-secret identity (never from the password)."""
    identity = "\0".join(("buildiso cs-admin salt", product, version, str(build), variant))
    digest = hashlib.sha256(identity.encode()).digest()
    # 16 characters from the crypt alphabet (96 bits of the digest)
    return "".join(_CRYPT_ALPHABET[b % 64] for b in digest[:16])


def profile_salt(profile: Profile) -> str:
    return salt_for(
        product=profile.product,
        version=profile.version,
        build=profile.build,
        variant=str(profile.variant),
    )


def hash_password(password: str, *, salt: str) -> str:
    """SHA-512 crypt (``$6$``) of ``password`` with ``salt`` (see ``salt_for``)."""
    hashed = sha512_crypt(password, salt)
    if not _SHA512_CRYPT.fullmatch(hashed):
        raise InputError("SHA-512 crypt gave a malformed hash", hint="report this bug")
    return hashed


def _decode(data: bytes, *, limit: int, source: str) -> str:
    if len(data) > limit:
        raise InputError(
            f"{source}: longer than {MAX_LENGTH} characters, the password policy's most "
            f"(read no further than {limit} bytes)",
            hint="a password file holds one line: the password",
        )
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(f"{source}: the password is not UTF-8 text",
                         hint="a UTF-8 text file holding one line") from None  # fmt: skip


def _read_password_file(path: Path) -> str:
    try:
        with path.open("rb") as f:  # a FIFO (``<(pass show x)``) works too: read once
            data = f.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read the password file ({exc.strerror or type(exc).__name__})",
            hint="a UTF-8 text file holding one line",
        ) from None
    text = _decode(data, limit=MAX_FILE_BYTES, source=str(path))
    # one trailing newline is how editors save a one-line file; anything else is content
    text = text[:-1] if text.endswith("\n") else text
    return text[:-1] if text.endswith("\r") else text


def read_custom_password(
    *, password_file: Path | None, environ: Mapping[str, str] | None = None
) -> tuple[str, str] | None:
    """(password, where it came from) or None when no custom password was given."""
    from_env = secretenv.environment_password(environ)
    if password_file is not None and from_env is not None:
        raise InputError(
            f"both --password-file and {ENV_VAR} are set",
            hint="give the custom cs-admin password one way only",
        )
    if password_file is not None:
        return _read_password_file(password_file), str(password_file)
    if from_env is not None:
        source = f"${ENV_VAR}"
        return _decode(from_env, limit=secretenv.MAX_BYTES, source=source), source
    return None


def admin_password_hash(
    *,
    default_hash: str,
    salt: str,
    password_file: Path | None,
    environ: Mapping[str, str] | None = None,
) -> str:
    """The hash for ks.cfg: a checked custom password's, or the profile's default hash."""
    custom = read_custom_password(password_file=password_file, environ=environ)
    if custom is None:
        return default_hash
    password, source = custom
    check_policy(password, source=source)
    return hash_password(password, salt=salt)
