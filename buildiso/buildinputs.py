"""The inputs of a build: which key, which RPMs, and whether they pass.

Checks here raise InputError/BuildError with the file or package at fault; they run before
anything is written (docs/build-checks.md): the base (checksums, boot files, repository
metadata, every package), the gateway RPMs (headers, the product's identity, protected
packages, no base package's NEVRA, rpm 4.8, signatures), room on the output's file
system. ``inputidentity.py`` turns the checked inputs into the manifest's ``inputs`` and
the rebuild fingerprint.
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import boundedjson, paths
from buildiso import fingerprint as fingerprint_mod
from buildiso.compose.protected import replacements
from buildiso.compose.repo import ListedPackage
from buildiso.compose.rhel6compat import check_rhel6_compat
from buildiso.compose.rpms import (
    RpmHeader,
    SignatureResult,
    read_rpms,
    refuse_bad_signatures,
    verify_signatures,
)
from buildiso.errors import BuildError, InputError
from buildiso.log import step
from buildiso.manifest import write_manifest
from buildiso.master import iso, pruning
from buildiso.master.basepackages import verify_base_repository
from buildiso.master.basetree import BaseTree
from buildiso.master.staging import EFIBOOT
from buildiso.render.profile import Profile
from buildiso.sourcedate import epoch_from_env

log = logging.getLogger(__name__)

REPO_CONF_RPM = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
# The product's own package: its version and release are the profile's version and build.
PRODUCT_PACKAGE = "cs-email"
GATEWAY_ARCHES = ("x86_64", "noarch", "i686", "i386")
_SPACE_MARGIN = 64 * 2**20  # metadata, efiboot copy, repodata: generous
_INODE_MARGIN = 200  # repodata, overlay, work folders, outputs (the sample build: ~70)


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    public_key: Path | None  # None: not available (only allowed with --allow-unsigned)


@dataclass(frozen=True)
class CheckedInputs:
    """The inputs of one build, every check passed (nothing written yet)."""

    base: BaseTree
    rpm_files: list[Path]
    headers: list[RpmHeader]
    unverified: list[str]  # packages whose signature was not verified (--allow-unsigned)
    epoch: int  # SOURCE_DATE_EPOCH, given or derived from the inputs
    password_hash: str
    base_sha256: str  # of the ISO file, or of a tree's .treeinfo + repomd.xml
    base_sums: dict[str, str] | None  # a tree's files by path (hashed once per build)


REQUIRED_TOOLS = (
    "xorriso", "mcopy", "mmd", "mtype", "mdir", "mkfs.fat", "createrepo_c", "rpmkeys", "rpm",
)
BIOS_LOADER = "isolinux/isolinux.bin"


def check_inputs(
    *,
    base: BaseTree,
    gateway_rpms: Path,
    profile: Profile,
    password_hash: str,
    key: SigningKey,
    allow_unsigned: bool,
    allow_unresolved: bool,
) -> CheckedInputs:
    """Everything about the inputs that can be checked before anything is written: the
    base's checksums, boot files, metadata and packages, every gateway RPM's header (and
    what it claims to be) and signature."""
    rpm_files = gateway_rpm_files(gateway_rpms)
    # a mismatch is refused; a listed file the product leaves out anyway may be absent
    pruning.verify_base_checksums(base)
    for rel in (EFIBOOT, BIOS_LOADER):
        if not base.exists(rel):
            raise InputError(
                f"{base.source}: {rel} missing", hint="the base must be a bootable DVD"
            )
    base_sha256, base_sums, listed = check_base(base)
    headers = read_rpms(rpm_files)
    check_headers(headers, profile=profile)
    check_base_twins(headers, listed)
    check_rhel6_compat(rpm_files)  # no flag waives it: rpm 4.8 must install every package
    with step(f"signatures: {len(rpm_files)} gateway package(s) against key {key.key_id}"):
        signatures = check_signatures(rpm_files, key=key, allow_unsigned=allow_unsigned)
    unverified = sorted(r.path.name for r in signatures if not r.ok)
    if allow_unsigned:
        log.warning(
            "!!! --allow-unsigned: DEVELOPMENT BUILD, gateway signatures not enforced "
            "(%d package(s) unverified: %s) — recorded in the manifest",
            len(unverified),
            ", ".join(unverified) or "none",
        )
    if allow_unresolved:
        log.warning(
            "!!! --allow-unresolved: DEVELOPMENT BUILD, unresolved Requires are shipped "
            "(conflicts still refused) — recorded in the manifest"
        )
    return CheckedInputs(
        base=base,
        rpm_files=rpm_files,
        headers=headers,
        unverified=unverified,
        epoch=source_date_epoch(headers, base),
        password_hash=password_hash,
        base_sha256=base_sha256,
        base_sums=base_sums,
    )


def check_base(base: BaseTree) -> tuple[str, dict[str, str] | None, tuple[ListedPackage, ...]]:
    """The base's identity and its packages, checked: an ISO hashed (and checkisomd5'd once
    per content), a tree's files hashed (once per build: the fingerprint reuses the sums);
    the repository's metadata against repomd.xml and every package on it (basepackages.py),
    once per content of the base (the verified-digest cache remembers it)."""
    sums: dict[str, str] | None = None
    if base.kind == "iso":
        digest = content = cached_file_sha256(base.source, verify=check_base_implant)
    else:
        with step(f"hashing the base tree ({len(base.iter_files())} files)"):
            sums = fingerprint_mod.tree_sums(base.source, base.iter_files())
        content = fingerprint_mod.sums_digest(sums)
        # A tree has no single checksum: .treeinfo (which checksums the images, verified
        # above) and repomd.xml (which checksums the package metadata) stand for it.
        treeinfo, index = base.read_bytes(".treeinfo"), base.read_bytes("repodata/repomd.xml")
        digest = sha256_bytes(treeinfo + b"\0" + index)
    key = f"packages:{content}"
    checked = _verified_cache().get(key) is True
    with step(f"base repository: metadata{'' if checked else ' and every package'}"):
        listed = verify_base_repository(base, file_sums=sums, packages=not checked)
    if not checked:
        _remember_verified(key)
    return digest, sums, listed


def check_base_twins(headers: list[RpmHeader], listed: tuple[ListedPackage, ...]) -> None:
    """A gateway package with a base package's name-epoch-version-release-arch: two files
    claim to be one package (yum would take either), refused."""
    base = {p.nevra: p for p in listed}
    twins = [
        f"{h.filename}: is {h.nevra}, as the base's {base[h.nevra].location}"
        for h in headers
        if h.nevra in base
    ]
    if twins:
        raise InputError(
            "; ".join(twins) + " (one name-epoch-version-release-arch, two packages)",
            hint="give the gateway package another release (or leave it out: the base "
            "already has it)",
        )


def signing_key(profile: Profile, *, gpg_key: Path | None, key_id: str | None) -> SigningKey:
    if gpg_key is not None or key_id is not None:
        if gpg_key is None or key_id is None:
            raise InputError("--gpg-key and --key-id go together", hint="give both or neither")
        return SigningKey(key_id=key_id, public_key=gpg_key)
    key = profile.signing.public_key
    return SigningKey(key_id=profile.signing.key_id, public_key=key if key.is_file() else None)


def gateway_rpm_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder", hint="--gateway-rpms takes the folder of RPMs")
    links = sorted(p.name for p in folder.iterdir() if p.name.endswith(".rpm") and p.is_symlink())
    if links:
        # a link may point anywhere: only files the user put in the folder are read
        raise InputError(
            f"{folder}: {', '.join(links)}: symbolic link(s), not package files",
            hint="copy the packages into the folder instead of linking them",
        )
    rpms = sorted(p for p in folder.iterdir() if p.name.endswith(".rpm") and p.is_file())
    if not rpms:
        raise InputError(
            f"{folder}: holds no *.rpm files", hint="point --gateway-rpms at the gateway RPMs"
        )
    return rpms


def duplicate_packages(headers: list[RpmHeader]) -> list[str]:
    """One problem per name.arch given by more than one file (two builds of cs-email: the
    install set would take the newer while the manifest names the profile's build)."""
    by_name: dict[str, list[RpmHeader]] = {}
    for h in headers:
        by_name.setdefault(f"{h.name}.{h.arch}", []).append(h)
    return [
        f"{key} is given {len(found)} times: "
        + ", ".join(f"{h.path.name} ({h.nevra})" for h in sorted(found, key=lambda h: h.path.name))
        for key, found in sorted(by_name.items())
        if len(found) > 1
    ]


def check_headers(headers: list[RpmHeader], *, profile: Profile | None = None) -> None:
    duplicates = duplicate_packages(headers)
    if duplicates:
        raise InputError(
            "; ".join(duplicates),
            hint="keep exactly one build of each gateway package in --gateway-rpms "
            "(move the others out of that folder)",
        )
    problems = [
        f"{h.path.name}: architecture {h.arch} (expected one of {', '.join(GATEWAY_ARCHES)})"
        for h in headers
        if h.arch not in GATEWAY_ARCHES
    ]
    problems += [
        f"{h.path.name}: is {h.filename} by its header; the file name must match"
        for h in headers
        if h.filename == REPO_CONF_RPM and h.path.name != REPO_CONF_RPM
    ]
    if REPO_CONF_RPM not in {h.filename for h in headers}:
        problems.append(
            f"{REPO_CONF_RPM} is not among the gateway RPMs (the installation guide's "
            "Appendix A installs it from cs-repo/Packages/)"
        )
    if problems:
        raise InputError("; ".join(problems), hint="fix the gateway RPM folder")
    replaced = replacements(headers)
    if replaced:
        raise InputError(
            "; ".join(map(str, replaced)),
            hint="a gateway package may not obsolete, provide or rename these "
            "(docs/build-checks.md): rebuild it without that relation",
        )
    if profile is not None:
        check_product_identity(headers, profile)


def check_product_identity(headers: list[RpmHeader], profile: Profile) -> None:
    """The profile says which release this is; the product package must be that release.
    Both ways round: a 4.8.0 profile with 4.9.0 RPMs, or a 4.9.0 profile with 4.8.0 RPMs."""
    product = [h for h in headers if h.name == PRODUCT_PACKAGE]
    want = f"version {profile.version} build {profile.build}"
    if not product:
        raise InputError(
            f"{PRODUCT_PACKAGE} is not among the gateway RPMs ({profile.path.name} is "
            f"{profile.product} {want})",
            hint=f"point --gateway-rpms at the {profile.version}-{profile.build} release's RPMs",
        )
    wrong = [h for h in product if (h.version, h.release) != (profile.version, str(profile.build))]
    if wrong:
        found = ", ".join(f"{h.path.name} ({h.version}-{h.release})" for h in wrong)
        raise InputError(
            f"{found}: not the release {profile.path.name} describes ({want}, "
            f"{PRODUCT_PACKAGE}-{profile.version}-{profile.build})",
            hint="give the gateway RPMs of the profile's release, or the profile of the RPMs' "
            "release (--profile)",
        )


def check_signatures(
    rpms: list[Path], *, key: SigningKey, allow_unsigned: bool
) -> list[SignatureResult]:
    if key.public_key is None and not allow_unsigned:
        raise InputError(
            f"no public key for signing key {key.key_id}",
            hint="put the vendor key where the profile's [signing] public_key says, pass "
            "--gpg-key FILE --key-id ID, or --allow-unsigned for a development build",
        )
    # Without a key (development build) rpmkeys still checks every digest: corrupt
    # packages are refused even with --allow-unsigned.
    results = verify_signatures(rpms, public_key=key.public_key, key_id=key.key_id)
    refuse_bad_signatures(results, allow_unsigned=allow_unsigned)
    return results


def check_free_space(out_dir: Path, *, need: int, inodes: int = 0) -> None:
    """Room for the ISO (``need`` bytes) and the files of the scratch folder (``inodes``)
    on ``out_dir``'s file system; BuildError (the machine, not the input) when short."""
    stats = os.statvfs(out_dir)
    free = stats.f_bavail * stats.f_frsize
    if free < need + _SPACE_MARGIN:
        raise BuildError(
            f"not enough free space in {out_dir}: the ISO needs about {need // 2**20} MiB, "
            f"{free // 2**20} MiB free",
            hint="free space there or pass --out to a folder with room",
        )
    # f_files is 0 where the file system has no inode limit (btrfs, some network ones)
    if stats.f_files and stats.f_favail < inodes + _INODE_MARGIN:
        raise BuildError(
            f"not enough free inodes in {out_dir}: the build writes about "
            f"{inodes + _INODE_MARGIN} files there, {stats.f_favail} inodes free",
            hint="remove files there (df -i shows inodes) or pass --out to another file system",
        )


def inodes_needed(base: BaseTree, headers: list[RpmHeader]) -> int:
    """Files and folders the scratch folder holds at most: the gateway RPMs' copies, the
    overlay, and an ISO base's packages copied out for their checks."""
    return len(headers) + (len(base.iter_files()) if base.kind == "iso" else 0)


def base_size(base: BaseTree) -> int:
    if base.kind == "iso":
        return base.source.stat().st_size
    return sum((base.source / rel).stat().st_size for rel in base.iter_files())


def source_date_epoch(headers: list[RpmHeader], base: BaseTree) -> int:
    env = epoch_from_env()
    if env is not None:
        return env
    # Derived from the inputs: the newest gateway package or the base's compose time.
    try:
        base_time = int(float(base.discinfo.timestamp))
    except ValueError:
        base_time = 0
    return max([base_time, *(h.build_time for h in headers)])


# --- the base's digest, checked once per content ------------------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def check_base_implant(image: Path) -> None:
    """A DVD with an implanted MD5 (RHEL's have one) must still match it: damage inside a
    package, which no .treeinfo checksum covers, is refused before anything is built."""
    step(f"checking {image.name} against its implanted MD5, if it has one (checkisomd5)")
    md5, check = iso.implanted_md5(image)
    if check == "FAIL":
        raise InputError(
            f"{image}: fails its implanted MD5 check (checkisomd5, MD5 {md5})",
            hint="the ISO is damaged: fetch or copy it again",
        )


def cached_file_sha256(path: Path, *, verify: Callable[[Path], None] | None = None) -> str:
    """sha256 of a big input file, read in full every time: a file patched in place with
    its mtime (and inode) kept is still seen. ``verify`` (e.g. checkisomd5, a second full
    read) runs once per *content*: out/cache/verified-sha256.json remembers the digests that
    passed it. Measured here (2 cores, load ~10 from other builds): the 65 MiB sample ISO
    0.35 s, a 1 GiB file 2.8 s from the page cache (6.8 s cold): ~12 s for a RHEL DVD."""
    step(f"hashing {path.name} ({path.stat().st_size // 2**20} MiB)")
    digest = iso.sha256_file(path)
    if verify is None:
        return digest
    if _verified_cache().get(digest) is True:
        return digest
    verify(path)
    _remember_verified(digest)
    return digest


_VERIFIED_CACHE = "verified-sha256.json"


def _verified_cache() -> dict[str, Any]:
    """out/cache/verified-sha256.json: content digests that passed a full check. Bounded,
    typed; anything else reads as empty (it is only a cache)."""
    cache = paths.DEFAULT_OUT / "cache" / _VERIFIED_CACHE
    try:
        known = boundedjson.load(cache, max_bytes=4 * 2**20, max_depth=2)
    except (OSError, InputError):
        return {}
    if not isinstance(known, dict):
        return {}
    return {k: v for k, v in known.items() if isinstance(k, str) and v is True}


def _remember_verified(key: str) -> None:
    cache = paths.DEFAULT_OUT / "cache" / _VERIFIED_CACHE
    known = _verified_cache()
    if len(known) > 1000:  # one entry per base content ever checked: keep it small
        known = {}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_manifest(cache, {**known, key: True})
    except OSError:
        pass  # only a cache
