"""``buildiso build``: RHEL 6.10 base + gateway RPMs -> EMAIL_490_190.iso, stage by stage:

1. **inputs** (``buildinputs.check_inputs``): tools, profile, base + its checksums, RPM
   headers and signatures — every check before anything is written;
2. **render** (``render.templates``): ks.cfg and the boot menus for the base's boot-loader
   flavours; an unchanged rebuild (same fingerprint, ISO untouched) stops here;
3. **compose** (``compose.stage``): ``cs-repo/`` and the kickstart's install set; the online
   repository tree of Appendix B from the same ``cs-repo/`` (``compose.online``);
4. **master** (``master.stage``): the overlay of new/changed files, the ISO written by
   xorriso with the MD5 implanted while streaming, its SHA-256;
5. **publish** (``publish``): SHA256SUM, ISO, online tree and manifest renamed into place
   together.

The manifest is a pure function of the inputs and outputs: two builds of the same inputs
give byte-identical manifests (the nightly job diffs them). Any error or Ctrl-C removes the
scratch folder: no partial ISO is ever left under its final name.
"""

from __future__ import annotations

import errno
import re
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import click

from buildiso import __version__, buildinputs, outdir, paths, publish, run
from buildiso.buildinputs import SigningKey
from buildiso.compose import online
from buildiso.compose.stage import (
    Composed,
    compose_media,
    refuse_file_conflicts,
    unresolved_problems,
    why_entry,
)
from buildiso.config import Variant
from buildiso.errors import BuildError, InputError
from buildiso.inputidentity import BuildIdentity, identify, repo_package_entry
from buildiso.log import step
from buildiso.manifest import SCHEMA, Manifest, load_manifest
from buildiso.master import iso
from buildiso.master.basepackages import verify_base_packages
from buildiso.master.basetree import open_base
from buildiso.master.stage import Mastered, master_media
from buildiso.master.staging import OverlayReader
from buildiso.publish import BuildResult, Outputs
from buildiso.render.password import admin_password_hash, profile_salt
from buildiso.render.profile import Profile, load_profile
from buildiso.render.templates import CHAIN_C32, KS_PATH, render_media_files

if TYPE_CHECKING:
    from buildiso.sample.base import SampleBase

__all__ = ["BuildResult", "build_command", "build_iso", "build_sample_iso"]


def build_iso(
    *,
    base_path: Path,
    gateway_rpms: Path,
    profile: Profile,
    password_file: Path | None,
    out_dir: Path,
    key: SigningKey,
    allow_unsigned: bool,
    allow_unresolved: bool = False,
) -> BuildResult:
    """The pipeline: inputs → render → compose → master → publish."""
    started = time.monotonic()
    outputs = Outputs(out_dir=out_dir, iso_name=profile.iso_name)
    outdir.check(out_dir)
    step("checking tools and inputs")
    run.require_tools(*buildinputs.REQUIRED_TOOLS)
    iso.check_volume_label(profile.volume_label, source=str(profile.path))
    online.check_public_key(key.public_key)
    password_hash = admin_password_hash(
        default_hash=profile.admin_password_hash,
        salt=profile_salt(profile),
        password_file=password_file,
    )
    outdir.make(out_dir)
    with open_base(base_path) as base:
        step(f"base: {base.label} ({base.kind}, {base.isolinux_flavour}, {base.efi_flavour})")
        checked = buildinputs.check_inputs(
            base=base, gateway_rpms=gateway_rpms, profile=profile, password_hash=password_hash,
            key=key, allow_unsigned=allow_unsigned, allow_unresolved=allow_unresolved,
        )  # fmt: skip
        rendered = render_media_files(
            profile,
            isolinux=base.isolinux_flavour,
            efi=base.efi_flavour,
            password_hash=checked.password_hash,
            base_has_chain=base.exists(CHAIN_C32),
        )
        need = buildinputs.base_size(base) + sum(h.size for h in checked.headers)
        inodes = buildinputs.inodes_needed(base, checked.headers)
        buildinputs.check_free_space(out_dir, need=need, inodes=inodes)
        identity = identify(
            checked, rendered=rendered, profile=profile, key=key,
            allow_unsigned=allow_unsigned, allow_unresolved=allow_unresolved,
        )  # fmt: skip
        previous = publish.previous_build(outputs, fingerprint=identity.fingerprint)
        if previous is not None:
            step(f"inputs unchanged since the last build: keeping {outputs.iso}")
            return publish.result_from(previous, outputs, started, skipped=True)

        with out_of_room_is_one_line(out_dir):
            with publish.locked_work_dir(out_dir, profile.iso_name) as work:
                overlay = work / "overlay"
                composed = compose_media(
                    rpm_files=checked.rpm_files, overlay=overlay,
                    media=OverlayReader(overlay, base), ks_text=rendered[KS_PATH],
                    epoch=checked.epoch, allow_unresolved=allow_unresolved,
                )  # fmt: skip
                with step(f"online repository {outputs.online.name}/{online.REPO_PATH}"):
                    tree = online.compose_online_tree(
                        gateway_repo=composed.repo_dir, public_key=key.public_key,
                        dest=work / "online", epoch=checked.epoch,
                    )  # fmt: skip
                with step("install set: base packages' digests (rpm -K), file conflicts"):
                    base_files = verify_base_packages(
                        base=base, packages=composed.closure.packages, scratch=work
                    )
                    refuse_file_conflicts(composed, base_files)
                mastered = master_media(
                    base=base, overlay=overlay, scratch=work, profile=profile, rendered=rendered,
                    epoch=checked.epoch, content_seed=identity.content_seed,
                )  # fmt: skip
                manifest = _manifest(profile, identity, composed, mastered, tree)
                publish.publish(
                    outputs=outputs, tmp_iso=mastered.image, sha256=mastered.sha256,
                    manifest=manifest, fingerprint=identity.fingerprint, tmp_online=tree.root,
                )  # fmt: skip
    return publish.result_from(manifest, outputs, started, skipped=False)


_FULL = ("No space left on device", "Disk quota exceeded")  # strerror(ENOSPC), (EDQUOT)
_HINT_FULL = "free space and inodes there (df -h, df -i) or pass --out to another file system"


@contextmanager
def out_of_room_is_one_line(out_dir: Path) -> Iterator[None]:
    """The file system filling up (space or inodes) while the build writes is the machine's
    state, not a bug: one line naming the folder, exit 1, whether our own write or a tool's
    (createrepo_c, xorriso) ran into it. The scratch folder goes with the failure and the
    previous outputs stay (publish renames them last)."""
    try:
        yield
    except OSError as exc:
        if exc.errno not in (errno.ENOSPC, errno.EDQUOT):
            raise
        where = f" ({exc.filename})" if exc.filename else ""
        raise BuildError(
            f"{out_dir}: no space or inodes left on its file system{where}: {exc.strerror}",
            hint=_HINT_FULL,
        ) from exc
    except BuildError as exc:
        full = next((text for text in _FULL if text in exc.message), None)
        if full is None:
            raise
        tool = re.search(r"exit code \d+: (\S+)", exc.message)
        name = Path(tool.group(1)).name if tool else "a tool"
        raise BuildError(
            f"{out_dir}: no space or inodes left on its file system: {name} failed ({full})",
            hint=_HINT_FULL,
        ) from exc


def _manifest(
    profile: Profile,
    identity: BuildIdentity,
    composed: Composed,
    mastered: Mastered,
    tree: online.OnlineTree,
) -> Manifest:
    return {
        "schema": SCHEMA,
        "buildiso_version": __version__,
        "product": {"name": profile.product, "version": profile.version, "build": profile.build},
        "iso": {
            "name": profile.iso_name,
            "volume_label": profile.volume_label,
            "size": mastered.size,
            "sha256": mastered.sha256,
            "implanted_md5": mastered.implanted_md5,
        },
        "inputs": identity.inputs,
        "install_set": [
            {**repo_package_entry(p), **why_entry(composed.closure, p.name)}
            for p in composed.closure.packages
        ],
        # shipped anyway (--allow-unresolved); always [] in a release build
        "install_set_unresolved": unresolved_problems(composed.closure),
        "rendered": identity.rendered,
        "staged": mastered.staged.files,
        # base files the ISO leaves out, and those its .treeinfo lists but it lacks
        "base_pruning": mastered.staged.pruned.manifest_entry(),
        "tools": identity.tools,
        # the online repository next to the ISO (docs/online-repo.md), file by file
        "online": tree.manifest_entry(),
    }


# --- the verb ---------------------------------------------------------------------------------


def _sample_parts(sample: SampleBase) -> tuple[Path, Path, SigningKey]:
    key = SigningKey(key_id=sample.key_id, public_key=sample.gpg_public_key)
    return sample.tree, sample.gateway_rpms, key


def _sample_release(sample: SampleBase, profile: Profile) -> Path:
    """The sample's gateway RPMs of the profile's release (the sample builds 4.9.0-190 and
    the previous 4.8.0-150), or InputError: a sample build never mixes releases."""
    from buildiso.sample.base import sample_releases

    releases = sample_releases(sample)
    want = (profile.version, str(profile.build))
    if want in releases:
        return releases[want]
    have = ", ".join(f"{v}-{b}" for v, b in sorted(releases))
    raise InputError(
        f"no sample gateway RPMs of version {profile.version} build {profile.build} "
        f"({profile.path.name}); the sample has {have}",
        hint="pass --base and --gateway-rpms with that release's RPMs, or a profile of a "
        "release the sample has",
    )


def _sample_inputs(profile: Profile) -> tuple[Path, Path, SigningKey]:
    """The main job's default: the sample base (built first when needed), its key and the
    gateway RPMs of the profile's release."""
    from buildiso.sample.base import build_sample_base

    with step("sample base (built once, then cached)"):
        sample = build_sample_base(paths.DEFAULT_SAMPLE_BASE)
    base, _rpms, key = _sample_parts(sample)
    return base, _sample_release(sample, profile), key


def build_sample_iso(
    sample: SampleBase,
    *,
    out_dir: Path,
    profile_path: Path = paths.DEFAULT_PROFILE,
    variant: Variant = Variant.TEST,
) -> BuildResult:
    """The main job's ISO from an already built sample base (tests' ``built_iso`` fixture)."""
    base, rpms, key = _sample_parts(sample)
    return build_iso(
        base_path=base,
        gateway_rpms=rpms,
        profile=load_profile(profile_path, variant),
        password_file=None,
        out_dir=out_dir,
        key=key,
        allow_unsigned=False,
    )


def build_command(
    *,
    base: Path | None,
    gateway_rpms: Path | None,
    profile_path: Path,
    variant: Variant,
    password_file: Path | None,
    out_dir: Path,
    allow_unsigned: bool,
    gpg_key: Path | None = None,
    key_id: str | None = None,
    allow_unresolved: bool = False,
) -> BuildResult:
    """The ``build`` verb. No --base/--gateway-rpms: build from the sample base."""
    profile = load_profile(profile_path, variant)
    outdir.check(out_dir)  # before the sample base is built: minutes
    if base is None and gateway_rpms is None:
        base, gateway_rpms, sample_key = _sample_inputs(profile)
        key = (
            sample_key
            if gpg_key is None and key_id is None
            else buildinputs.signing_key(profile, gpg_key=gpg_key, key_id=key_id)
        )
    elif base is None or gateway_rpms is None:
        raise InputError(
            "--base and --gateway-rpms go together",
            hint="give both, or neither to build from the sample base",
        )
    else:
        key = buildinputs.signing_key(profile, gpg_key=gpg_key, key_id=key_id)
    with publish.sigterm_as_interrupt(), outdir.removed_if_left_empty(out_dir):
        result = build_iso(
            base_path=base,
            gateway_rpms=gateway_rpms,
            profile=profile,
            password_file=password_file,
            out_dir=out_dir,
            key=key,
            allow_unsigned=allow_unsigned,
            allow_unresolved=allow_unresolved,
        )
    click.echo(summary(result, load_manifest(result.manifest)))
    return result


def _online_line(result: BuildResult, manifest: Manifest) -> str:
    entry = manifest.get("online") or {}
    key = entry.get("public_key") or "no public key (none given)"
    return f"{result.online}/  ({entry.get('repository', '?')}, {key})"


def summary(result: BuildResult, manifest: Manifest) -> str:
    """What the user reads at the end of a build."""
    inputs = manifest["inputs"]
    signing = inputs["signing"]
    unresolved = manifest.get("install_set_unresolved")
    lines = [
        "",
        f"{'UNCHANGED' if result.skipped else 'BUILT'}  {result.iso}",
        f"  size           {result.size / 2**20:.1f} MiB",
        f"  volume label   {manifest['iso']['volume_label']}",
        f"  base           {inputs['base']['label']} "
        f"({inputs['base']['kind']}: {inputs['base']['source']})",
        f"  gateway RPMs   {len(inputs['gateway_packages'])}, signing key {signing['key_id']}"
        + ("  ** UNSIGNED ALLOWED (development build) **" if signing["allow_unsigned"] else ""),
        f"  install set    {len(manifest['install_set'])} packages"
        + (
            f"  ** {len(unresolved)} UNRESOLVED REQUIRES SHIPPED (development build) **"
            if unresolved
            else ""
        ),
        f"  online repo    {_online_line(result, manifest)}",
        f"  implanted MD5  {result.implanted_md5}",
        f"  sha256         {result.sha256}  (SHA256SUM)",
        f"  manifest       {result.manifest}",
        f"  time           {result.seconds:.1f} s",
    ]
    return "\n".join(lines)
