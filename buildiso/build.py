"""``buildiso build``: RHEL 6.10 base + gateway RPMs -> EMAIL_490_190.iso, in order:

1. check every input before writing anything (tools, profile, base + its checksums, RPM
   headers, signatures, the kickstart's install-set closure, free space);
2. stage only what is new or changed (ks.cfg, menus, the edited efiboot.img, .treeinfo,
   .discinfo, media.repo, cs-repo/) in a work folder inside the output folder;
3. master with xorriso, base grafted from where it is, MD5 implanted while streaming;
4. SHA256SUM and the manifest, then rename everything into place.

The manifest is a pure function of the inputs and outputs: two builds of the same inputs
give byte-identical manifests (the nightly job diffs them). What lets an unchanged rebuild
be skipped — the inputs fingerprint and the ISO's inode/mtime — is machine state, kept
apart in a hidden state file beside it (``.EMAIL_490_190.buildstate.json``).

Any error or Ctrl-C removes the work folder: no partial ISO is ever left under its final
name (a SIGKILLed build's work folder is removed by the next build into that folder).
An unchanged rebuild (same inputs fingerprint, ISO untouched since) is skipped.
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import logging
import os
import shutil
import signal
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

import click

from buildiso import __version__, buildinputs, paths, run
from buildiso.buildinputs import SigningKey
from buildiso.compose.depsolve import Closure, resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import GATEWAY_REPO_DIR, compose_gateway_repo, load_media
from buildiso.compose.rpms import read_rpms
from buildiso.config import Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.log import step
from buildiso.manifest import SCHEMA, Manifest, load_manifest, write_manifest
from buildiso.master import iso
from buildiso.master.basetree import BaseTree, open_base
from buildiso.master.staging import EFIBOOT, OverlayReader, stage_overlay
from buildiso.render.password import admin_password_hash
from buildiso.render.profile import Profile, load_profile
from buildiso.render.templates import CHAIN_C32, KS_PATH, render_media_files

if TYPE_CHECKING:
    from buildiso.sample.base import SampleBase

log = logging.getLogger("buildiso.build")

REQUIRED_TOOLS = ("xorriso", "mcopy", "mmd", "mtype", "mdir", "createrepo_c", "rpmkeys", "rpm")
BIOS_LOADER = "isolinux/isolinux.bin"
GATEWAY_COMPS = paths.COMPS_DIR / "cs-email-comps.xml"
STATE_SCHEMA = 1  # the hidden .<stem>.buildstate.json


@dataclass(frozen=True)
class BuildResult:
    iso: Path
    size: int
    sha256: str
    implanted_md5: str
    manifest: Path
    seconds: float
    skipped: bool  # unchanged inputs: the existing ISO was kept


# --- inputs -----------------------------------------------------------------------------


def _sample_inputs() -> tuple[Path, Path, SigningKey]:
    """The main job's default: the sample base (built first when needed) and its key."""
    from buildiso.sample.base import build_sample_base

    step("sample base (built once, then cached)")
    return _sample_parts(build_sample_base(paths.DEFAULT_SAMPLE_BASE))


def _sample_parts(sample: SampleBase) -> tuple[Path, Path, SigningKey]:
    key = SigningKey(key_id=sample.key_id, public_key=sample.gpg_public_key)
    return sample.tree, sample.gateway_rpms, key


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


def _closure(overlay: Path, base: BaseTree, ks_text: str, *, allow_unresolved: bool) -> Closure:
    """The install set; any problem refuses the build, except unresolved Requires with
    ``--allow-unresolved`` (development builds: warned about and recorded, never conflicts)."""
    selection = parse_packages(ks_text, filename=KS_PATH)
    media = load_media(OverlayReader(overlay, base))
    closure = resolve_install_set(ks_packages=selection, media=media)
    fatal = closure
    if allow_unresolved:
        fatal = dataclasses.replace(closure, unresolved=())
        for problem in unresolved_problems(closure):
            log.warning("!!! --allow-unresolved: shipping %s", problem)
    if not fatal.ok:
        raise ValidationFailed(fatal.problems(filename=KS_PATH), what="install set check failed")
    return closure


def unresolved_problems(closure: Closure) -> list[str]:
    """The unresolved Requires as ``ks.cfg:LINE: unresolved dependency: ...`` lines."""
    return [f"{KS_PATH}:{u.line}: unresolved dependency: {u}" for u in closure.unresolved]


@contextmanager
def _work_dir(out_dir: Path, iso_name: str) -> Iterator[Path]:
    """A scratch folder inside ``out_dir`` (same file system: renames are atomic).

    One build per output folder at a time (flock on the folder itself, so no lock file is
    left behind); holding it, scratch folders of a killed build (SIGKILL, power loss: no
    cleanup ran) are removed, or each would keep a partial ISO's worth of disk.
    """
    folder = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("    waiting for the other build writing into %s", out_dir)
            fcntl.flock(folder, fcntl.LOCK_EX)
        for stale in sorted(out_dir.glob(f".{iso_name}.work-*")):
            log.info("    removing %s, left by a killed build", stale.name)
            _remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix=f".{iso_name}.work-", dir=out_dir))
        try:
            yield work
        finally:
            _remove_tree(work)
    finally:
        os.close(folder)  # releases the lock


def _remove_tree(path: Path) -> None:
    """rmtree that a Ctrl-C or SIGTERM arriving meanwhile cannot leave half done: the
    interrupt is raised again once the folder is gone."""
    interrupted = False
    for _attempt in range(5):
        try:
            shutil.rmtree(path, ignore_errors=True)
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt


def _progress_logger(label: str) -> Callable[[int, int | None], None]:
    state = {"next": 0.0, "t": time.monotonic()}

    def report(done: int, total: int | None) -> None:
        now = time.monotonic()
        # Small images are written in a blink: progress lines only for big ones.
        if total and total >= 256 * 2**20 and (done >= state["next"] or now - state["t"] > 10):
            pct = 100 * done // total
            log.info("    %s: %3d%% (%d of %d MiB)", label, pct, done // 2**20, total // 2**20)
            state["next"] = done + total / 10
            state["t"] = now

    return report


# --- the pipeline ---------------------------------------------------------------------------


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
    started = time.monotonic()
    step("checking tools and inputs")
    run.require_tools(*REQUIRED_TOOLS)
    iso.check_volume_label(profile.volume_label, source=str(profile.path))
    out_dir.mkdir(parents=True, exist_ok=True)
    final_iso = out_dir / profile.iso_name
    stem = profile.iso_name.removesuffix(".iso")
    manifest_path = out_dir / f"{stem}.manifest.json"
    state_path = out_dir / f".{stem}.buildstate.json"
    sums_path = out_dir / "SHA256SUM"
    password_hash = admin_password_hash(
        default_hash=profile.admin_password_hash,
        product=profile.product,
        password_file=password_file,
    )
    rpm_files = buildinputs.gateway_rpm_files(gateway_rpms)
    with open_base(base_path) as base:
        step(f"base: {base.label} ({base.kind}, {base.isolinux_flavour}, {base.efi_flavour})")
        base.verify_checksums()
        for rel in (EFIBOOT, BIOS_LOADER):
            if not base.exists(rel):
                raise InputError(
                    f"{base.source}: {rel} missing", hint="the base must be a bootable DVD"
                )
        headers = read_rpms(rpm_files)
        buildinputs.check_headers(headers)
        step(f"signatures: {len(rpm_files)} gateway package(s) against key {key.key_id}")
        signatures = buildinputs.check_signatures(rpm_files, key=key, allow_unsigned=allow_unsigned)
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
        epoch = buildinputs.source_date_epoch(headers, base)
        rendered = render_media_files(
            profile,
            isolinux=base.isolinux_flavour,
            efi=base.efi_flavour,
            password_hash=password_hash,
            base_has_chain=base.exists(CHAIN_C32),
        )
        need = buildinputs.base_size(base) + sum(h.size for h in headers)
        buildinputs.check_free_space(out_dir, need=need)

        inputs = buildinputs.describe_inputs(
            base=base,
            headers=headers,
            key=key,
            allow_unsigned=allow_unsigned,
            unverified=unverified,
            allow_unresolved=allow_unresolved,
            profile=profile,
            epoch=epoch,
        )
        rendered_entries = {
            rel: {"sha256": buildinputs.sha256_bytes(text.encode()), "text": text}
            for rel, text in sorted(rendered.items())
        }
        tools = buildinputs.tool_versions()
        fingerprint = buildinputs.fingerprint(inputs=inputs, rendered=rendered_entries, tools=tools)
        unchanged = _unchanged_build(
            manifest_path=manifest_path,
            iso_path=final_iso,
            sums=sums_path,
            state_path=state_path,
            fingerprint=fingerprint,
        )
        if unchanged is not None:
            step(f"inputs unchanged since the last build: keeping {final_iso}")
            return _result_from(unchanged, final_iso, manifest_path, started, skipped=True)

        with _work_dir(out_dir, profile.iso_name) as work:
            overlay = work / "overlay"
            step("gateway repository cs-repo/ (createrepo_c --compatibility)")
            compose_gateway_repo(
                rpms=rpm_files,
                dest=overlay / GATEWAY_REPO_DIR,
                comps=GATEWAY_COMPS,
                timestamp=epoch,
            )
            step("install set: %packages closure over base + cs-repo")
            closure = _closure(
                overlay, base, rendered[KS_PATH], allow_unresolved=allow_unresolved
            )
            log.info("    %d packages install, no conflicts", len(closure.packages))

            step("staging kickstart, menus, efiboot.img, .treeinfo, .discinfo, media.repo")
            staged = stage_overlay(
                overlay=overlay,
                scratch=work,
                base=base,
                profile=profile,
                rendered=rendered,
                epoch=epoch,
            )

            plan = iso.MasterPlan(
                base=base.source,
                overlay=overlay,
                volume_label=profile.volume_label,
                hybrid_mbr=staged.hybrid_mbr,
                gpt_disk_guid=iso.gpt_guid_from(buildinputs.content_seed(inputs, rendered_entries)),
                source_date_epoch=epoch,
            )
            step(f"mastering {profile.iso_name} (xorriso; MD5 implanted while writing)")
            tmp_iso = work / profile.iso_name
            mastered = iso.master_iso(plan, dest=tmp_iso, progress=_progress_logger("writing"))
            step("SHA-256")
            sha256 = iso.sha256_file(tmp_iso, progress=_progress_logger("hashing"))

            manifest: Manifest = {
                "schema": SCHEMA,
                "buildiso_version": __version__,
                "product": {
                    "name": profile.product,
                    "version": profile.version,
                    "build": profile.build,
                },
                "iso": {
                    "name": profile.iso_name,
                    "volume_label": profile.volume_label,
                    "size": mastered.size,
                    "sha256": sha256,
                    "implanted_md5": mastered.implant.md5,
                },
                "inputs": inputs,
                "install_set": [buildinputs.repo_package_entry(p) for p in closure.packages],
                # shipped anyway (--allow-unresolved); always [] in a release build
                "install_set_unresolved": unresolved_problems(closure),
                "rendered": rendered_entries,
                "staged": staged.files,
                "tools": tools,
            }
            tmp_sums = work / "SHA256SUM"
            tmp_sums.write_text(f"{sha256}  {profile.iso_name}\n", encoding="ascii")
            # Publish all three together: an interrupt waits until they agree.
            with _signals_held():
                # The old state goes first: it never vouches for a half-published set.
                state_path.unlink(missing_ok=True)
                os.replace(tmp_sums, sums_path)
                os.replace(tmp_iso, final_iso)
                write_manifest(manifest_path, manifest)
                # Recorded last, so an unchanged rebuild is cheap (no re-hash of the ISO).
                _record_state(
                    state_path=state_path,
                    iso_path=final_iso,
                    manifest_path=manifest_path,
                    fingerprint=fingerprint,
                )
    return _result_from(manifest, final_iso, manifest_path, started, skipped=False)


def _file_state(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def _record_state(
    *, state_path: Path, iso_path: Path, manifest_path: Path, fingerprint: str
) -> None:
    """The hidden rebuild-skip state: machine facts that must stay out of the manifest."""
    state = {
        "schema": STATE_SCHEMA,
        "fingerprint": fingerprint,
        "iso": _file_state(iso_path),
        "manifest_sha256": buildinputs.sha256_bytes(manifest_path.read_bytes()),
    }
    write_manifest(state_path, state)


def _unchanged_build(
    *, manifest_path: Path, iso_path: Path, sums: Path, state_path: Path, fingerprint: str
) -> Manifest | None:
    """The previous manifest when it was built from the same inputs and neither the ISO nor
    the manifest was touched since. A state file that does not match is removed."""
    if not state_path.is_file():
        return None
    if not (manifest_path.is_file() and iso_path.is_file() and sums.is_file()):
        state_path.unlink(missing_ok=True)
        return None
    try:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        old = load_manifest(manifest_path)
    except (OSError, ValueError, InputError):
        state_path.unlink(missing_ok=True)
        return None
    sums_line = f"{old.get('iso', {}).get('sha256')}  {iso_path.name}"
    manifest_sha256 = buildinputs.sha256_bytes(manifest_path.read_bytes())
    if (
        isinstance(state, dict)
        and state.get("schema") == STATE_SCHEMA
        and state.get("fingerprint") == fingerprint
        and state.get("iso") == _file_state(iso_path)
        and state.get("manifest_sha256") == manifest_sha256
        and sums_line in sums.read_text(errors="replace")
    ):
        return old
    state_path.unlink(missing_ok=True)
    return None


def _result_from(
    manifest: Mapping[str, Any],
    iso_path: Path,
    manifest_path: Path,
    started: float,
    *,
    skipped: bool,
) -> BuildResult:
    return BuildResult(
        iso=iso_path,
        size=int(manifest["iso"]["size"]),
        sha256=str(manifest["iso"]["sha256"]),
        implanted_md5=str(manifest["iso"]["implanted_md5"]),
        manifest=manifest_path,
        seconds=time.monotonic() - started,
        skipped=skipped,
    )


def _summary(result: BuildResult, manifest: Manifest) -> str:
    inputs = manifest["inputs"]
    signing = inputs["signing"]
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
            if (unresolved := manifest.get("install_set_unresolved"))
            else ""
        ),
        f"  implanted MD5  {result.implanted_md5}",
        f"  sha256         {result.sha256}  (SHA256SUM)",
        f"  manifest       {result.manifest}",
        f"  time           {result.seconds:.1f} s",
    ]
    return "\n".join(lines)


@contextmanager
def _sigterm_as_interrupt() -> Iterator[None]:
    """A killed build (CI cancel, systemd stop) cleans up like Ctrl-C does."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


@contextmanager
def _signals_held() -> Iterator[None]:
    """Ctrl-C and SIGTERM are held (not lost) until the block ends, then delivered."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


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
    if base is None and gateway_rpms is None:
        base, gateway_rpms, sample_key = _sample_inputs()
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
    with _sigterm_as_interrupt():
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
    click.echo(_summary(result, load_manifest(result.manifest)))
    return result
