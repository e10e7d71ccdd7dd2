"""Can RHEL 6.10's rpm (4.8.0) install this gateway RPM? Checked before anything is written.

A package built by a modern rpm (Debian's 4.18, Fedora's) can carry features rpm 4.8 does
not have: a zstd payload, rich (boolean) dependencies, file triggers, rpmlib() features
added later. rpm 4.8 refuses such a package at install time — on the customer's machine —
so the build refuses it first, naming the file, the feature and how to rebuild it.

The base's own packages are RHEL's and are not gated here.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import rpmfile

from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.errors import InputError

# The rpmlib() features rpm 4.8.0 provides, with their versions: the rpmlibProvides[]
# table of rpm-4.8.0-release's lib/rpmds.c (github.com/rpm-software-management/rpm, tag
# rpm-4.8.0-release). PayloadIsBzip2 needs HAVE_BZLIB_H, PayloadIsXz/PayloadIsLzma need
# HAVE_LZMA_H, BuiltinLuaScripts WITH_LUA and FileCaps WITH_CAP: RHEL 6's rpm-4.8.0 is
# built with all four (its own packages use xz payloads and file capabilities).
RPM48_RPMLIB_PROVIDES: dict[str, str] = {
    "rpmlib(VersionedDependencies)": "3.0.3-1",
    "rpmlib(CompressedFileNames)": "3.0.4-1",
    "rpmlib(PayloadIsBzip2)": "3.0.5-1",
    "rpmlib(PayloadIsXz)": "5.2-1",
    "rpmlib(PayloadIsLzma)": "4.4.2-1",
    "rpmlib(PayloadFilesHavePrefix)": "4.0-1",
    "rpmlib(ExplicitPackageProvide)": "4.0-1",
    "rpmlib(HeaderLoadSortsTags)": "4.0.1-1",
    "rpmlib(ScriptletInterpreterArgs)": "4.0.3-1",
    "rpmlib(PartialHardlinkSets)": "4.0.4-1",
    "rpmlib(ConcurrentAccess)": "4.1-1",
    "rpmlib(BuiltinLuaScripts)": "4.2.2-1",
    "rpmlib(FileDigests)": "4.6.0-1",
    "rpmlib(FileCaps)": "4.6.1-1",
}

# Payload compressors rpm 4.8's rpmio opens (rpmio.c: gzdio, bzdio, xzdio, lzdio).
RPM48_PAYLOAD_COMPRESSORS = ("gzip", "bzip2", "xz", "lzma")

# Digest algorithms rpm 4.8 computes (rpmio/digest.c getHashType, over NSS), as the
# pgpHashAlgo numbers stored in FILEDIGESTALGO: MD5, SHA1, SHA256, SHA384, SHA512
# (MD2 exists too, but no rpm ever wrote file digests with it).
RPM48_DIGEST_ALGOS: dict[int, str] = {1: "MD5", 2: "SHA1", 8: "SHA256", 9: "SHA384", 10: "SHA512"}

# Signature header digests rpm 4.8 verifies (lib/signature.c): the header SHA1 and the
# header+payload MD5. A package with neither (rpm >= 4.14 built with only SHA256 digests)
# cannot be checked by RHEL 6's rpm and yum refuses it with gpgcheck on.
_SIG_DIGEST_TAGS = ("md5", "sigmd5")  # rpmfile names: "md5" is the SHA1 header (269)

# Public-key algorithms rpm 4.8 verifies signatures with (lib/signature.c: RSA and DSA).
_RPM48_PUBKEY_ALGOS = {1: "RSA", 17: "DSA"}
_SIGNATURE_TAGS = ("rsaheader", "signature", "pgp", "gpg")  # RSA/DSA header, pgp/gpg

_REBUILD = (
    'rebuild it for RHEL 6 (rpmbuild --define "_binary_payload w9.xzdio" '
    '--define "_source_payload w9.xzdio" on an el6 build host or mock el6 chroot)'
)


@dataclass(frozen=True)
class Incompatibility:
    """One thing in one package RHEL 6's rpm cannot handle, and what to do about it."""

    path: Path
    feature: str
    fix: str

    def __str__(self) -> str:
        return f"{self.path.name}: {self.feature} — {self.fix}"


def check_rhel6_compat(rpm_files: Sequence[Path]) -> None:
    """Refuse (InputError, exit 2) any package rpm 4.8.0 cannot install, all named at once.

    No flag waives this: an ISO whose packages fail to install is never useful.
    """
    found = [issue for path in rpm_files for issue in rhel6_incompatibilities(path)]
    if found:
        raise InputError(
            f"{len(found)} RHEL 6 incompatibilit{'y' if len(found) == 1 else 'ies'} in the "
            "gateway RPMs (RHEL 6.10's rpm 4.8.0 cannot install them): "
            + "; ".join(str(i) for i in found),
            hint="rebuild the named packages on/for EL6; --allow-unsigned does not waive this",
        )


def rhel6_incompatibilities(path: Path) -> list[Incompatibility]:
    """Everything in ``path``'s headers that rpm 4.8.0 cannot handle."""
    with rpmfile.open(str(path)) as rpm:
        headers: dict[Any, Any] = dict(rpm.headers)
    found: list[Incompatibility] = []

    def bad(feature: str, fix: str) -> None:
        found.append(Incompatibility(path, feature, fix))

    compressor = _text(headers.get("archive_compression")) or "gzip"
    if compressor not in RPM48_PAYLOAD_COMPRESSORS:
        bad(f"payload compressed with {compressor}", _REBUILD)
    # rpmlib() requirements that only restate a feature reported on its own below.
    explained = {"rpmlib(PayloadIsZstd)"} if compressor == "zstd" else set()
    for kind in ("requirename", "provides", "conflictname", "obsoletes"):
        for name in _texts(headers.get(kind)):
            if name.startswith("("):
                explained.add("rpmlib(RichDependencies)")
                bad(
                    f"rich dependency {name!r}",
                    "rpm 4.8 has no boolean dependencies: write plain Requires "
                    "(one per line) or a virtual Provides both alternatives carry",
                )
    if any(tag in headers for tag in _FILE_TRIGGER_TAGS):
        explained.add("rpmlib(FileTriggers)")
        bad(
            "file triggers (%filetriggerin/%transfiletriggerin)",
            "rpm 4.8 has no file triggers: use %post scripts or classic %triggerin",
        )
    for req in _relations(headers, "requirename", "requireflags", "requireversion"):
        if req.name.startswith("rpmlib(") and req.name not in explained:
            if not _rpmlib_provided(req):
                bad(f"requires {req} (rpm 4.8 does not provide it)", _rpmlib_fix(req.name))
    algo = _ints(headers.get("filedigestalgo"))
    if algo and algo[0] not in RPM48_DIGEST_ALGOS:
        bad(
            f"file digest algorithm {algo[0]}",
            'rebuild with --define "_source_filedigest_algorithm 8" '
            '--define "_binary_filedigest_algorithm 8" (SHA256)',
        )
    if not any(tag in headers for tag in _SIG_DIGEST_TAGS):
        bad(
            "no SHA1 header or MD5 digest (the only digests rpm 4.8 verifies)",
            "rebuild with an rpm that writes them (rpm < 4.19 does by default)",
        )
    for tag in _SIGNATURE_TAGS:
        algo_name = _pubkey_algo(headers.get(tag))
        if algo_name is not None and algo_name not in _RPM48_PUBKEY_ALGOS.values():
            bad(
                f"signed with {algo_name} (rpm 4.8 verifies RSA and DSA signatures only)",
                "sign with the vendor's RSA key",
            )
    return found


_FILE_TRIGGER_TAGS = ("filetriggerscripts", "filetriggername", "transfiletriggerscripts")


def _rpmlib_provided(req: Relation) -> bool:
    version = RPM48_RPMLIB_PROVIDES.get(req.name)
    if version is None:
        return False
    return req.matches(Relation(req.name, Flag.EQ, Evr.parse(version)))


def _rpmlib_fix(name: str) -> str:
    fixes = {
        "rpmlib(RichDependencies)": "drop the boolean dependencies",
        "rpmlib(FileTriggers)": "drop the file triggers",
        "rpmlib(TildeInVersions)": "use a version without '~'",
        "rpmlib(CaretInVersions)": "use a version without '^'",
        "rpmlib(LargeFiles)": "keep every file under 4 GiB",
    }
    return fixes.get(name, _REBUILD)


def _pubkey_algo(value: Any) -> str | None:
    """The public-key algorithm of an OpenPGP signature packet (v3 or v4), by name."""
    if not isinstance(value, bytes) or len(value) < 3:
        return None
    tag_byte = value[0]
    # Old-format packet: length type in the low two bits; new format: one length octet here.
    if tag_byte & 0x40:
        body = value[2:] if value[1] < 192 else value[3:] if value[1] < 224 else value[6:]
    else:
        body = value[1 + (1, 2, 4, 0)[tag_byte & 3] :]
    if not body:
        return None
    if body[0] == 3 and len(body) > 15:
        algo = body[15]  # version, hashed length 5, type, time(4), key id(8), algo
    elif body[0] in (4, 5) and len(body) > 2:
        algo = body[2]  # version, type, algo
    else:
        return None
    return _RPM48_PUBKEY_ALGOS.get(algo, {19: "ECDSA", 22: "EdDSA"}.get(algo, f"algorithm {algo}"))


def _text(value: Any) -> str:
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, list) and value:
        return _text(value[0])
    return "" if value is None else str(value)


def _texts(value: Any) -> list[str]:
    if value is None:
        return []
    return [_text(v) for v in value] if isinstance(value, list) else [_text(value)]


def _ints(value: Any) -> list[int]:
    if value is None:
        return []
    return [value] if isinstance(value, int) else [int(v) for v in value]


def _relations(
    headers: dict[Any, Any], names: str, flags: str, versions: str
) -> Iterable[Relation]:
    flag_list = _ints(headers.get(flags))
    version_list = _texts(headers.get(versions))
    for i, name in enumerate(_texts(headers.get(names))):
        flag = Flag.from_sense(flag_list[i]) if i < len(flag_list) else None
        version = version_list[i] if i < len(version_list) else ""
        yield Relation(name, flag, Evr.parse(version)) if flag and version else Relation(name)
