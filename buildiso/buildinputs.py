"""The inputs of a build: which key, which RPMs, whether they pass, and their identity.

Checks here raise InputError/BuildError with the file or package at fault; they run before
anything is written. The identity functions give the manifest its ``inputs`` section and
the fingerprint that lets an unchanged rebuild be skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import fingerprint as fingerprint_mod
from buildiso import paths
from buildiso.compose.depsolve import SOLVER
from buildiso.compose.repo import RepoPackage
from buildiso.compose.rhel6compat import check_rhel6_compat
from buildiso.compose.rpms import (
    RpmHeader,
    SignatureResult,
    read_rpms,
    refuse_bad_signatures,
    verify_signatures,
)
from buildiso.errors import BuildError, InputError
from buildiso.fingerprint import fingerprint
from buildiso.log import step
from buildiso.manifest import write_manifest
from buildiso.master import iso
from buildiso.master.basetree import BaseTree
from buildiso.master.staging import EFIBOOT
from buildiso.render.profile import Profile
from buildiso.sourcedate import epoch_from_env

log = logging.getLogger(__name__)

REPO_CONF_RPM = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
GATEWAY_ARCHES = ("x86_64", "noarch", "i686", "i386")
_SPACE_MARGIN = 64 * 2**20  # metadata, efiboot copy, repodata: generous


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


REQUIRED_TOOLS = ("xorriso", "mcopy", "mmd", "mtype", "mdir", "createrepo_c", "rpmkeys", "rpm")
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
    base's checksums and boot files, every gateway RPM's header and signature."""
    rpm_files = gateway_rpm_files(gateway_rpms)
    base.verify_checksums()
    for rel in (EFIBOOT, BIOS_LOADER):
        if not base.exists(rel):
            raise InputError(
                f"{base.source}: {rel} missing", hint="the base must be a bootable DVD"
            )
    headers = read_rpms(rpm_files)
    check_headers(headers)
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


def check_headers(headers: list[RpmHeader]) -> None:
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


def check_free_space(out_dir: Path, *, need: int) -> None:
    free = shutil.disk_usage(out_dir).free
    if free < need + _SPACE_MARGIN:
        raise BuildError(
            f"not enough free space in {out_dir}: the ISO needs about {need // 2**20} MiB, "
            f"{free // 2**20} MiB free",
            hint="free space there or pass --out to a folder with room",
        )


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


# --- identity of the inputs (manifest, fingerprint, GPT GUID) ---------------------------


def sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def base_identity(base: BaseTree) -> dict[str, Any]:
    ident: dict[str, Any] = {"source": str(base.source), "kind": base.kind, "label": base.label}
    if base.kind == "iso":
        ident["sha256"] = cached_file_sha256(base.source, verify=check_base_implant)
    else:
        # A tree has no single checksum: .treeinfo (which checksums the images, verified
        # above) and repomd.xml (which checksums the package metadata) stand for it.
        ident["sha256"] = sha256_bytes(
            base.read_bytes(".treeinfo") + b"\0" + base.read_bytes("repodata/repomd.xml")
        )
    return ident


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
    cache = paths.DEFAULT_OUT / "cache" / "verified-sha256.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if not isinstance(known, dict):
        known = {}
    if known.get(digest) is True:
        return digest
    verify(path)
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_manifest(cache, {**known, digest: True})
    except OSError:
        pass  # only a cache
    return digest


# The build tools the manifest names (their version lines; the fingerprint has them all).
MANIFEST_TOOLS = ("xorriso", "createrepo_c", "mtools", "rpm")


def tool_versions(identities: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """The manifest's ``tools``: version lines taken from the fingerprint's probes."""
    return {name: identities.get(name, {}).get("version", "absent") for name in MANIFEST_TOOLS}


def _package_entry(nevra: str, name: str, arch: str, evr: str, **extra: str) -> dict[str, str]:
    return {"nevra": nevra, "name": name, "arch": arch, "evr": evr, **extra}


def repo_package_entry(pkg: RepoPackage) -> dict[str, str]:
    return _package_entry(pkg.nevra, pkg.name, pkg.arch, str(pkg.evr), repo=pkg.repo)


def header_entry(h: RpmHeader) -> dict[str, str]:
    evr = f"{h.epoch}:{h.version}-{h.release}" if h.epoch else f"{h.version}-{h.release}"
    return _package_entry(h.nevra, h.name, h.arch, evr, file=h.filename, sha256=h.sha256)


def content_seed(inputs: Mapping[str, Any], rendered: Mapping[str, Any]) -> bytes:
    """What the GPT GUID derives from: contents only, so moving the inputs changes nothing."""
    content = {
        "base": inputs["base"]["sha256"],
        "gateway": [p["sha256"] for p in inputs["gateway_packages"]],
        "rendered": {rel: entry["sha256"] for rel, entry in rendered.items()},
        "epoch": inputs["source_date_epoch"],
    }
    return json.dumps(content, sort_keys=True).encode()


def describe_inputs(
    *,
    base: BaseTree,
    headers: list[RpmHeader],
    key: SigningKey,
    allow_unsigned: bool,
    unverified: list[str],
    profile: Profile,
    epoch: int,
    allow_unresolved: bool = False,
) -> dict[str, Any]:
    """The manifest's ``inputs`` section."""
    return {
        "base": base_identity(base),
        "gateway_packages": [header_entry(h) for h in sorted(headers, key=lambda h: h.filename)],
        "signing": {
            "key_id": key.key_id,
            "public_key_sha256": sha256_bytes(key.public_key.read_bytes())
            if key.public_key
            else None,
            "allow_unsigned": allow_unsigned,
            "unverified": unverified,
        },
        # --allow-unresolved: unresolved Requires shipped (a development build)
        # the solver too: another libsolv could resolve another set from the same inputs
        "depsolve": {"allow_unresolved": allow_unresolved, "solver": SOLVER},
        # createrepo_c --groupfile: the gateway group as cs-repo/ carries it
        "gateway_comps": {"sha256": fingerprint_mod.read_files()["gateway_comps"]},
        "profile": {
            "path": str(profile.path),
            "sha256": sha256_bytes(profile.path.read_bytes()),
            "variant": str(profile.variant),
        },
        "source_date_epoch": epoch,
    }


@dataclass(frozen=True)
class BuildIdentity:
    """What the build is made of, as the manifest records it, and its fingerprint."""

    inputs: dict[str, Any]  # the manifest's "inputs"
    rendered: dict[str, dict[str, str]]  # rel path -> sha256 + text
    tools: dict[str, str]
    fingerprint: str  # equal fingerprints: an unchanged rebuild

    @property
    def content_seed(self) -> bytes:
        return content_seed(self.inputs, self.rendered)


def identify(
    checked: CheckedInputs,
    *,
    rendered: Mapping[str, str],
    profile: Profile,
    key: SigningKey,
    allow_unsigned: bool,
    allow_unresolved: bool,
) -> BuildIdentity:
    inputs = describe_inputs(
        base=checked.base,
        headers=checked.headers,
        key=key,
        allow_unsigned=allow_unsigned,
        unverified=checked.unverified,
        allow_unresolved=allow_unresolved,
        profile=profile,
        epoch=checked.epoch,
    )
    entries = {
        rel: {"sha256": sha256_bytes(text.encode()), "text": text}
        for rel, text in sorted(rendered.items())
    }
    base = checked.base
    environment = fingerprint_mod.environment(
        base_tree=base.source if base.kind == "dir" else None, base_files=base.iter_files()
    )
    tools = tool_versions(environment["tools"])  # one probe per tool per build
    return BuildIdentity(
        inputs=inputs,
        rendered=entries,
        tools=tools,
        fingerprint=fingerprint(
            inputs=inputs, rendered=entries, tools=tools, environment=environment
        ),
    )
