"""RPM packages: read a header (rpmfile, no rpm database needed) and check signatures.

Signatures are checked by rpm itself (``rpmkeys --checksig -v``) against a private,
throw-away rpm database holding only the configured public key, so neither the host's
keyring nor its rpm database can make an untrusted package pass.
"""

from __future__ import annotations

import enum
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rpmfile

from buildiso import tmpdirs
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.errors import InputError
from buildiso.run import run


@dataclass(frozen=True)
class RpmHeader:
    """What buildiso needs from one RPM file's header."""

    path: Path
    name: str
    epoch: int | None
    version: str
    release: str
    arch: str
    requires: tuple[Relation, ...]
    provides: tuple[Relation, ...]
    conflicts: tuple[Relation, ...]
    obsoletes: tuple[Relation, ...]
    files: tuple[str, ...]
    sha256: str
    size: int
    source_rpm: str | None
    build_time: int

    @property
    def filename(self) -> str:
        """The canonical file name, ``N-V-R.A.rpm`` (the epoch is never in file names)."""
        return f"{self.name}-{self.version}-{self.release}.{self.arch}.rpm"

    @property
    def nevra(self) -> str:
        epoch = f"{self.epoch}:" if self.epoch else ""
        return f"{self.name}-{epoch}{self.version}-{self.release}.{self.arch}"


# rpm's own sanity limits on a header (lib/header.c, hdrchkTags/hdrchkData), lowered for
# the data: a real package's header is a few MB at most.
_MAX_TAGS = 0xFFFF
_MAX_HEADER_DATA = 64 * 2**20
_LEAD = 96
_HEADER_MAGIC = b"\x8e\xad\xe8\x01"


def _check_header_sizes(path: Path) -> None:
    """The signature and main headers' sizes, read before rpmfile allocates for them: a
    damaged or hostile file claiming 4 GB of header is refused, not read into memory."""
    with path.open("rb") as f:
        offset = _LEAD
        for which in ("signature", "main"):
            f.seek(offset)
            intro = f.read(16)
            if len(intro) < 16 or intro[:4] != _HEADER_MAGIC:
                raise _corrupt(path, f"no {which} header where one belongs")
            tags, size = int.from_bytes(intro[8:12], "big"), int.from_bytes(intro[12:16], "big")
            if tags > _MAX_TAGS or size > _MAX_HEADER_DATA:
                raise _corrupt(path, f"{which} header claims {tags} tags, {size} bytes")
            offset += 16 + tags * 16 + size
            if which == "signature":
                offset += -offset % 8  # the signature header is padded to 8 bytes


def read_header_tags(path: Path) -> dict[str, Any]:
    """The header of the RPM at ``path`` as rpmfile's tag dictionary (bounded reads)."""
    try:
        _check_header_sizes(path)
        with rpmfile.open(str(path)) as rpm:
            return dict(rpm.headers)
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read: {exc.strerror}", hint="check the file and its permissions"
        ) from exc
    except InputError:
        raise
    except Exception as exc:  # rpmfile raises assorted errors (even AssertionError) on junk
        raise _corrupt(path, str(exc) or type(exc).__name__) from exc


def read_rpm(path: Path) -> RpmHeader:
    """Read ``path``'s header; a file that is not a readable binary RPM → InputError."""
    headers = read_header_tags(path)
    try:
        name = _text(headers["name"])
        version = _text(headers["version"])
        release = _text(headers["release"])
        arch = _text(headers["arch"])
    except KeyError as exc:
        raise _corrupt(path, f"header has no {exc.args[0]} tag") from exc
    if "sourcerpm" not in headers:
        raise InputError(
            f"{path}: is a source RPM, not a binary package",
            hint="give the gateway's built binary RPMs (*.x86_64.rpm / *.noarch.rpm)",
        )
    epoch = headers.get("serial")
    sha256, size = _file_digest(path)
    return RpmHeader(
        path=path,
        name=name,
        epoch=_ints(epoch)[0] if epoch is not None else None,
        version=version,
        release=release,
        arch=arch,
        requires=_relations(headers, "requirename", "requireflags", "requireversion"),
        provides=_relations(headers, "provides", "provideflags", "provideversion"),
        conflicts=_relations(headers, "conflictname", "conflictflags", "conflictversion"),
        obsoletes=_relations(headers, "obsoletes", "obsoleteflags", "obsoleteversion"),
        files=_file_list(headers),
        sha256=sha256,
        size=size,
        source_rpm=_text(headers["sourcerpm"]),
        build_time=(_ints(headers.get("buildtime")) or [0])[0],
    )


def _corrupt(path: Path, detail: str) -> InputError:
    return InputError(
        f"{path.name}: not a valid RPM package ({detail})",
        hint=f"the file {path} is corrupt or truncated: fetch or rebuild it",
    )


def tag_texts(value: Any) -> list[str]:
    """A string-array tag's values (rpmfile gives bytes, or one value bare)."""
    return _texts(value)


def tag_ints(value: Any) -> list[int]:
    """An integer-array tag's values (rpmfile gives a bare int for one element)."""
    return _ints(value)


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list) and value:
        return _text(value[0])
    return str(value)


def _texts(value: Any) -> list[str]:
    """rpmfile gives a list of bytes for string arrays."""
    if value is None:
        return []
    if isinstance(value, list):
        return [_text(v) for v in value]
    return [_text(value)]


def _ints(value: Any) -> list[int]:
    """rpmfile gives a bare int for a one-element integer array, a tuple otherwise."""
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    return [int(v) for v in value]


def _relations(
    headers: dict[Any, Any], names: str, flags: str, versions: str
) -> tuple[Relation, ...]:
    name_list = _texts(headers.get(names))
    flag_list = _ints(headers.get(flags)) or [0] * len(name_list)
    version_list = _texts(headers.get(versions)) or [""] * len(name_list)
    result = []
    for name, sense, version in zip(name_list, flag_list, version_list, strict=False):
        flag = Flag.from_sense(sense)
        if flag is None or not version:
            result.append(Relation(name))
        else:
            result.append(Relation(name, flag, Evr.parse(version)))
    return tuple(result)


def _file_list(headers: dict[Any, Any]) -> tuple[str, ...]:
    basenames = _texts(headers.get("basenames"))
    dirnames = _texts(headers.get("dirnames"))
    indexes = _ints(headers.get("dirindexes"))
    return tuple(sorted(dirnames[i] + b for i, b in zip(indexes, basenames, strict=False)))


def _file_digest(path: Path) -> tuple[str, int]:
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def read_rpms(paths: Sequence[Path]) -> list[RpmHeader]:
    """Read every header; report every unreadable package at once."""
    headers: list[RpmHeader] = []
    problems: list[str] = []
    for path in sorted(paths):
        try:
            headers.append(read_rpm(path))
        except InputError as exc:
            problems.append(exc.message)
    if problems:
        raise InputError(
            "; ".join(problems),
            hint="replace the corrupt package(s) with good copies",
        )
    return headers


# --- signatures -----------------------------------------------------------------------


class SignatureStatus(enum.StrEnum):
    OK = "ok"
    UNSIGNED = "unsigned"
    WRONG_KEY = "wrong-key"
    CORRUPT = "corrupt"


@dataclass(frozen=True)
class SignatureResult:
    path: Path
    status: SignatureStatus
    key_id: str | None  # the key that signed it, if it is signed
    detail: str  # rpm's own words, for the error message

    @property
    def ok(self) -> bool:
        return self.status is SignatureStatus.OK

    def describe(self) -> str:
        """One line naming the package and what is wrong with it."""
        name = self.path.name
        if self.status is SignatureStatus.OK:
            return f"{name}: signed by key {self.key_id}: OK"
        if self.status is SignatureStatus.UNSIGNED:
            return f"{name}: not signed"
        if self.status is SignatureStatus.WRONG_KEY:
            return f"{name}: signed by another key ({self.detail})"
        return f"{name}: corrupt ({self.detail})"


_SIG_LINE = re.compile(r"Signature, key ID ([0-9a-fA-F]+): (\w+)")
_DIGEST_BAD = re.compile(r"^\s*(.*(?:digest|Signature).*): BAD\b", re.MULTILINE)


def verify_signatures(
    rpms: Sequence[Path], *, public_key: Path | None, key_id: str
) -> list[SignatureResult]:
    """Check every package's signature against ``public_key`` (whose ID must be ``key_id``).

    Returns one result per package, in the order given; the caller decides what to do
    with failures (refuse, or go on with ``--allow-unsigned``). A public key file that is
    unreadable or is not the key ``key_id`` → InputError. With no public key (a development
    build without the vendor key) the digests are still checked: a damaged package reads as
    CORRUPT, a signed one as signed by an unknown key.
    """
    want = _short_key_id(key_id)
    with tmpdirs.private_dir("rpmdb") as dbpath:
        if public_key is not None:
            _import_key(dbpath=dbpath, public_key=public_key, key_id=want)
        return [_check_one(path, dbpath=dbpath, key_id=want) for path in rpms]


def _short_key_id(key_id: str) -> str:
    """rpm prints the last 8 hex digits of the key ID; accept a long ID or fingerprint too."""
    clean = key_id.strip().lower().removeprefix("0x").replace(" ", "")
    if not re.fullmatch(r"[0-9a-f]{8,40}", clean):
        raise InputError(
            f"signing key ID {key_id!r} is not a hexadecimal key ID",
            hint="give the 8-digit key ID rpm prints, e.g. 5522142c",
        )
    return clean[-8:]


def _import_key(*, dbpath: Path, public_key: Path, key_id: str) -> None:
    if not public_key.is_file():
        raise InputError(
            f"{public_key}: public key file not found",
            hint="point the profile's signing key at the vendor's RPM-GPG-KEY file",
        )
    proc = run(["rpmkeys", "--dbpath", str(dbpath), "--import", str(public_key)], check=False)
    if proc.returncode != 0:
        why = _first_error(proc.stderr or "") or f"rpmkeys exit code {proc.returncode}"
        raise InputError(
            f"{public_key}: not a usable public key ({why})",
            hint="export it with `gpg --armor --export KEYID`",
        )
    # rpm stores each imported key as the pseudo-package gpg-pubkey-<short key id>-<date>.
    imported = run(
        ["rpm", "--dbpath", str(dbpath), "-q", "gpg-pubkey", "--qf", "%{VERSION}\n"],
        check=False,
    ).stdout.split()
    if key_id not in [k.lower() for k in imported]:
        raise InputError(
            f"{public_key}: holds key ID {', '.join(imported) or 'none'}, not {key_id}",
            hint="the profile's key ID and public key file must be the same key",
        )


def _check_one(path: Path, *, dbpath: Path, key_id: str) -> SignatureResult:
    proc = run(["rpmkeys", "--dbpath", str(dbpath), "--checksig", "-v", str(path)], check=False)
    text = (proc.stdout or "") + (proc.stderr or "")
    bad = _DIGEST_BAD.findall(text)
    if bad:
        return SignatureResult(path, SignatureStatus.CORRUPT, None, f"{bad[0].strip()}: BAD")
    sigs = _SIG_LINE.findall(text)
    if not sigs:
        if proc.returncode != 0:
            # Not even the digests could be read: truncated or not an RPM.
            detail = _first_error(text) or f"rpmkeys exit code {proc.returncode}"
            return SignatureResult(path, SignatureStatus.CORRUPT, None, detail)
        return SignatureResult(path, SignatureStatus.UNSIGNED, None, "no signature")
    signer = sigs[0][0].lower()
    for sig_key, status in sigs:
        if sig_key.lower() != key_id or status != "OK":
            return SignatureResult(
                path,
                SignatureStatus.WRONG_KEY,
                sig_key.lower(),
                f"key ID {sig_key.lower()}: {status}, expected key ID {key_id}",
            )
    if proc.returncode != 0:
        detail = _first_error(text) or f"rpmkeys exit code {proc.returncode}"
        return SignatureResult(path, SignatureStatus.CORRUPT, signer, detail)
    return SignatureResult(path, SignatureStatus.OK, signer, "OK")


def _first_error(text: str) -> str:
    for line in text.splitlines():
        if line.startswith("error:"):
            return line.removeprefix("error:").strip()
    return ""


def refuse_bad_signatures(
    results: Sequence[SignatureResult], *, allow_unsigned: bool = False
) -> None:
    """Raise one InputError listing every package refused: a corrupt one always (no flag
    makes a damaged package fit to ship), an unsigned or wrongly signed one unless
    ``allow_unsigned``."""
    corrupt = [r for r in results if r.status is SignatureStatus.CORRUPT]
    untrusted = [] if allow_unsigned else [r for r in results if not r.ok and r not in corrupt]
    bad = [r for r in results if r in corrupt or r in untrusted]
    if bad:
        hints = []
        if corrupt:
            hints.append("replace the corrupt package(s) with good copies")
        if untrusted:
            hints.append(
                "sign them with the vendor key, or pass --allow-unsigned for a development build"
            )
        raise InputError(
            f"{len(bad)} gateway package(s) fail the signature check: "
            + "; ".join(r.describe() for r in bad),
            hint="; ".join(hints),
        )
