"""The identity of a build's inputs: the manifest's ``inputs`` section, the rebuild
fingerprint, and the seed of the GPT GUID, from inputs ``buildinputs`` has checked."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import fingerprint as fingerprint_mod
from buildiso.buildinputs import CheckedInputs, SigningKey, sha256_bytes
from buildiso.compose.depsolve import SOLVER
from buildiso.compose.repo import RepoPackage
from buildiso.compose.rpms import RpmHeader
from buildiso.errors import InputError
from buildiso.fingerprint import fingerprint
from buildiso.master.basetree import BaseTree
from buildiso.render.profile import Profile

MAX_PUBLIC_KEY_BYTES = 1024 * 1024  # an armoured RSA-4096 key is ~3 KB


def public_key_sha256(path: Path) -> str:
    """sha256 of the signing key file, read bounded (a key is a few KB)."""
    try:
        with path.open("rb") as f:
            data = f.read(MAX_PUBLIC_KEY_BYTES + 1)
    except OSError as exc:
        raise InputError(f"{path}: cannot read the public key ({exc.strerror})",
                         hint="check the file and its permissions") from None  # fmt: skip
    if len(data) > MAX_PUBLIC_KEY_BYTES:
        raise InputError(f"{path}: larger than {MAX_PUBLIC_KEY_BYTES // 2**20} MiB: not a key",
                         hint="export the key with `gpg --armor --export KEYID`")  # fmt: skip
    return sha256_bytes(data)


def base_identity(base: BaseTree, sha256: str) -> dict[str, Any]:
    """The manifest's ``inputs.base`` (``sha256`` from ``check_base``)."""
    return {"source": str(base.source), "kind": base.kind, "label": base.label, "sha256": sha256}


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
    base_sha256: str,
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
        "base": base_identity(base, base_sha256),
        "gateway_packages": [header_entry(h) for h in sorted(headers, key=lambda h: h.filename)],
        "signing": {
            "key_id": key.key_id,
            "public_key_sha256": public_key_sha256(key.public_key) if key.public_key else None,
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
        base_sha256=checked.base_sha256,
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
        base_tree=base.source if base.kind == "dir" else None,
        base_files=base.iter_files(),
        base_sums=checked.base_sums,
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
