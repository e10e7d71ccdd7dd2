"""``buildiso build``: RHEL 6.10 base + gateway RPMs -> EMAIL_490_190.iso, in order:

1. check every input before writing anything (tools, profile, base + its checksums, RPM
   headers, signatures, the kickstart's install-set closure, free space);
2. stage only what is new or changed (ks.cfg, menus, the edited efiboot.img, .treeinfo,
   .discinfo, media.repo, cs-repo/) in a work folder inside the output folder;
3. master with xorriso, base grafted from where it is, MD5 implanted while streaming;
4. SHA256SUM and the manifest, then rename everything into place.

Any error or Ctrl-C removes the work folder: no partial ISO is ever left under its final
name. An unchanged rebuild (same inputs fingerprint, ISO untouched since) is skipped.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from buildiso import __version__, iso, paths, run
from buildiso.basetree import BaseTree, open_base
from buildiso.config import Variant
from buildiso.depsolve import Closure, resolve_install_set
from buildiso.efiboot import edit_efiboot
from buildiso.errors import BuildError, InputError, ValidationFailed
from buildiso.kspackages import parse_packages
from buildiso.log import step
from buildiso.manifest import SCHEMA, Manifest, load_manifest, write_manifest
from buildiso.password import admin_password_hash
from buildiso.profile import Profile, load_profile
from buildiso.render import KS_PATH, render_media_files
from buildiso.repo import GATEWAY_REPO_DIR, RepoPackage, compose_gateway_repo, load_media
from buildiso.rpms import (
    RpmHeader,
    SignatureResult,
    read_rpms,
    refuse_bad_signatures,
    verify_signatures,
)

if TYPE_CHECKING:
    from buildiso.sample.base import SampleBase

log = logging.getLogger("buildiso.build")

REQUIRED_TOOLS = ("xorriso", "mcopy", "mmd", "mtype", "mdir", "createrepo_c", "rpmkeys", "rpm")
REPO_CONF_RPM = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
GATEWAY_ARCHES = ("x86_64", "noarch", "i686", "i386")
EFIBOOT = "images/efiboot.img"
BASE_ISOHDPFX = "isolinux/isohdpfx.bin"
GATEWAY_COMPS = paths.COMPS_DIR / "cs-email-comps.xml"
_SPACE_MARGIN = 64 * 2**20  # metadata, efiboot copy, repodata: generous


@dataclass(frozen=True)
class SigningKey:
    key_id: str
    public_key: Path | None  # None: not available (only allowed with --allow-unsigned)


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


def _signing_key(profile: Profile, *, gpg_key: Path | None, key_id: str | None) -> SigningKey:
    if gpg_key is not None or key_id is not None:
        if gpg_key is None or key_id is None:
            raise InputError("--gpg-key and --key-id go together", hint="give both or neither")
        return SigningKey(key_id=key_id, public_key=gpg_key)
    key = profile.signing.public_key
    return SigningKey(key_id=profile.signing.key_id, public_key=key if key.is_file() else None)


def _gateway_rpm_files(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise InputError(f"{folder}: not a folder", hint="--gateway-rpms takes the folder of RPMs")
    rpms = sorted(p for p in folder.iterdir() if p.name.endswith(".rpm") and p.is_file())
    if not rpms:
        raise InputError(
            f"{folder}: holds no *.rpm files", hint="point --gateway-rpms at the gateway RPMs"
        )
    return rpms


def _check_headers(headers: list[RpmHeader]) -> None:
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


def _check_signatures(
    rpms: list[Path], *, key: SigningKey, allow_unsigned: bool
) -> list[SignatureResult]:
    if key.public_key is None:
        if allow_unsigned:
            return []
        raise InputError(
            f"no public key for signing key {key.key_id}",
            hint="put the vendor key where the profile's [signing] public_key says, pass "
            "--gpg-key FILE --key-id ID, or --allow-unsigned for a development build",
        )
    results = verify_signatures(rpms, public_key=key.public_key, key_id=key.key_id)
    if not allow_unsigned:
        refuse_bad_signatures(results)
    return results


def _check_free_space(out_dir: Path, *, need: int) -> None:
    free = shutil.disk_usage(out_dir).free
    if free < need + _SPACE_MARGIN:
        raise BuildError(
            f"not enough free space in {out_dir}: the ISO needs about {need // 2**20} MiB, "
            f"{free // 2**20} MiB free",
            hint="free space there or pass --out to a folder with room",
        )


def _base_size(base: BaseTree) -> int:
    if base.kind == "iso":
        return base.source.stat().st_size
    return sum((base.source / rel).stat().st_size for rel in base.iter_files())


def _epoch(headers: list[RpmHeader], base: BaseTree) -> int:
    env = os.environ.get("SOURCE_DATE_EPOCH")
    if env:
        try:
            return int(env)
        except ValueError as exc:
            raise InputError(f"SOURCE_DATE_EPOCH={env!r} is not a number of seconds") from exc
    # Derived from the inputs: the newest gateway package or the base's compose time.
    try:
        base_time = int(float(base.discinfo.timestamp))
    except ValueError:
        base_time = 0
    return max([base_time, *(h.build_time for h in headers)])


# --- identity of the inputs (manifest + "unchanged rebuild" check) ------------------------


def _sha256_bytes(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _base_identity(base: BaseTree) -> dict[str, Any]:
    ident: dict[str, Any] = {"source": str(base.source), "kind": base.kind, "label": base.label}
    if base.kind == "iso":
        ident["sha256"] = _cached_file_sha256(base.source)
    else:
        # A tree has no single checksum: .treeinfo (which checksums the images, verified
        # above) and repomd.xml (which checksums the package metadata) stand for it.
        ident["sha256"] = _sha256_bytes(
            base.read_bytes(".treeinfo") + b"\0" + base.read_bytes("repodata/repomd.xml")
        )
    return ident


def _cached_file_sha256(path: Path) -> str:
    """sha256 of a big input file, remembered by (path, size, mtime, inode) in out/cache."""
    st = path.stat()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}|{st.st_ino}"
    cache = paths.DEFAULT_OUT / "cache" / "sha256.json"
    try:
        known = json.loads(cache.read_text())
    except (OSError, ValueError):
        known = {}
    if isinstance(known, dict) and isinstance(known.get(key), str):
        return str(known[key])
    step(f"hashing {path.name} ({st.st_size // 2**20} MiB)")
    digest = iso.sha256_file(path)
    known = {key: digest} if not isinstance(known, dict) else {**known, key: digest}
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        write_manifest(cache, known)
    except OSError:
        pass  # only a cache
    return digest


def tool_versions() -> dict[str, str]:
    def first_line(cmd: list[str]) -> str:
        proc = run.run(cmd, check=False)
        text = (proc.stdout or proc.stderr or "").strip()
        return text.splitlines()[0] if text else "unknown"

    return {
        "xorriso": first_line(["xorriso", "-version"]),
        "createrepo_c": first_line(["createrepo_c", "--version"]),
        "mtools": first_line(["mtools", "--version"]),
        "rpm": first_line(["rpm", "--version"]),
    }


def _package_entry(nevra: str, name: str, arch: str, evr: str, **extra: str) -> dict[str, str]:
    return {"nevra": nevra, "name": name, "arch": arch, "evr": evr, **extra}


def _repo_package_entry(pkg: RepoPackage) -> dict[str, str]:
    return _package_entry(pkg.nevra, pkg.name, pkg.arch, str(pkg.evr), repo=pkg.repo)


def _header_entry(h: RpmHeader) -> dict[str, str]:
    evr = f"{h.epoch}:{h.version}-{h.release}" if h.epoch else f"{h.version}-{h.release}"
    return _package_entry(h.nevra, h.name, h.arch, evr, file=h.filename, sha256=h.sha256)


# --- staging --------------------------------------------------------------------------------


class _OverlayReader:
    """The media as the ISO will show it: the staged overlay over the base tree."""

    def __init__(self, overlay: Path, base: BaseTree) -> None:
        self.overlay, self.base = overlay, base

    def read_bytes(self, rel: str) -> bytes:
        staged = self.overlay / rel
        return staged.read_bytes() if staged.is_file() else self.base.read_bytes(rel)

    def exists(self, rel: str) -> bool:
        return (self.overlay / rel).is_file() or self.base.exists(rel)


def _write(root: Path, rel: str, data: str | bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(data, str):
        path.write_text(data, encoding="utf-8")
    else:
        path.write_bytes(data)
    return path


def _media_repo(profile: Profile, base: BaseTree) -> str:
    # yum's media.repo for the installed system reading this disc (RHEL's own layout:
    # mediaid is the .discinfo timestamp).
    return (
        "[InstallMedia]\n"
        f"name={profile.product} {profile.version} (build {profile.build}) on "
        f"{base.treeinfo.family} {base.treeinfo.version}\n"
        f"mediaid={base.discinfo.timestamp}\n"
        "metadata_expire=-1\n"
        "gpgcheck=0\n"
        "cost=500\n"
    )


def _stamp_tree(root: Path, epoch: int) -> None:
    for path in sorted(root.rglob("*"), reverse=True):
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    os.utime(root, (epoch, epoch))


def _closure(overlay: Path, base: BaseTree, ks_text: str) -> Closure:
    selection = parse_packages(ks_text, filename=KS_PATH)
    media = load_media(_OverlayReader(overlay, base))
    closure = resolve_install_set(ks_packages=selection, media=media)
    if not closure.ok:
        raise ValidationFailed(closure.problems(filename=KS_PATH), what="install set check failed")
    return closure


@contextmanager
def _work_dir(out_dir: Path, iso_name: str) -> Iterator[Path]:
    """A scratch folder inside ``out_dir`` (same file system: renames are atomic)."""
    work = Path(tempfile.mkdtemp(prefix=f".{iso_name}.work-", dir=out_dir))
    try:
        yield work
    finally:
        shutil.rmtree(work, ignore_errors=True)


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
) -> BuildResult:
    started = time.monotonic()
    step("checking tools and inputs")
    run.require_tools(*REQUIRED_TOOLS)
    iso.check_volume_label(profile.volume_label, source=str(profile.path))
    out_dir.mkdir(parents=True, exist_ok=True)
    final_iso = out_dir / profile.iso_name
    stem = profile.iso_name.removesuffix(".iso")
    manifest_path = out_dir / f"{stem}.manifest.json"
    sums_path = out_dir / "SHA256SUM"
    password_hash = admin_password_hash(
        default_hash=profile.admin_password_hash,
        product=profile.product,
        password_file=password_file,
    )
    rpm_files = _gateway_rpm_files(gateway_rpms)
    if base_path.is_file():
        iso.check_complete(base_path)
    with open_base(base_path) as base:
        step(f"base: {base.label} ({base.kind}, {base.isolinux_flavour}, {base.efi_flavour})")
        base.verify_checksums()
        for rel in (EFIBOOT, "isolinux/isolinux.bin"):
            if not base.exists(rel):
                raise InputError(
                    f"{base.source}: {rel} missing", hint="the base must be a bootable DVD"
                )
        headers = read_rpms(rpm_files)
        _check_headers(headers)
        step(f"signatures: {len(rpm_files)} gateway package(s) against key {key.key_id}")
        signatures = _check_signatures(rpm_files, key=key, allow_unsigned=allow_unsigned)
        unverified = sorted(r.path.name for r in signatures if not r.ok)
        if allow_unsigned:
            unverified = unverified or ([p.name for p in rpm_files] if not signatures else [])
            log.warning(
                "!!! --allow-unsigned: DEVELOPMENT BUILD, gateway signatures not enforced "
                "(%d package(s) unverified: %s) — recorded in the manifest",
                len(unverified),
                ", ".join(unverified) or "none",
            )
        epoch = _epoch(headers, base)
        rendered = render_media_files(
            profile,
            isolinux=base.isolinux_flavour,
            efi=base.efi_flavour,
            password_hash=password_hash,
        )
        need = _base_size(base) + sum(h.size for h in headers)
        _check_free_space(out_dir, need=need)

        inputs: dict[str, Any] = {
            "base": _base_identity(base),
            "gateway_packages": [
                _header_entry(h) for h in sorted(headers, key=lambda h: h.filename)
            ],
            "signing": {
                "key_id": key.key_id,
                "public_key_sha256": _sha256_bytes(key.public_key.read_bytes())
                if key.public_key
                else None,
                "allow_unsigned": allow_unsigned,
                "unverified": unverified,
            },
            "profile": {
                "path": str(profile.path),
                "sha256": _sha256_bytes(profile.path.read_bytes()),
                "variant": str(profile.variant),
            },
            "source_date_epoch": epoch,
        }
        rendered_entries = {
            rel: {"sha256": _sha256_bytes(text.encode()), "text": text}
            for rel, text in sorted(rendered.items())
        }
        tools = tool_versions()
        fingerprint = _sha256_bytes(
            json.dumps(
                {
                    "inputs": inputs,
                    "rendered": rendered_entries,
                    "tools": tools,
                    "buildiso": __version__,
                },
                sort_keys=True,
            ).encode()
        )
        unchanged = _unchanged_build(manifest_path, final_iso, sums_path, fingerprint)
        if unchanged is not None:
            step(f"inputs unchanged since the last build: keeping {final_iso}")
            return _result_from(unchanged, final_iso, manifest_path, started, skipped=True)

        with _work_dir(out_dir, profile.iso_name) as work:
            overlay = work / "overlay"
            step("gateway repository cs-repo/ (createrepo_c --compatibility)")
            repo = compose_gateway_repo(
                rpms=rpm_files,
                dest=overlay / GATEWAY_REPO_DIR,
                comps=GATEWAY_COMPS,
                timestamp=epoch,
            )
            step("install set: %packages closure over base + cs-repo")
            closure = _closure(overlay, base, rendered[KS_PATH])
            log.info("    %d packages install, no conflicts", len(closure.packages))

            step("staging kickstart, menus, efiboot.img, .treeinfo, .discinfo, media.repo")
            for rel, text in rendered.items():
                _write(overlay, rel, text)
            efi_cfg = next(rel for rel in rendered if rel.startswith("EFI/"))
            base.extract(EFIBOOT, work / "base-efiboot.img")
            edit_efiboot(
                source=work / "base-efiboot.img",
                dest=overlay / EFIBOOT,
                files={efi_cfg: rendered[efi_cfg]},
                mtime=epoch,
            )
            changed = {
                rel: iso.sha256_file(overlay / rel)
                for rel in (EFIBOOT, *rendered)
                if rel in base.treeinfo.checksums or rel == EFIBOOT
            }
            treeinfo = base.treeinfo.with_updated_checksums(changed).with_gateway_repo(
                repository=GATEWAY_REPO_DIR,
                name=f"{profile.product} {profile.version}",
                repomd_sha256=iso.sha256_file(repo.repomd),
            )
            _write(overlay, ".treeinfo", treeinfo.render())
            _write(overlay, ".discinfo", base.discinfo.render())
            _write(overlay, "media.repo", _media_repo(profile, base))
            hybrid_mbr = iso.DEBIAN_ISOHDPFX
            if base.exists(BASE_ISOHDPFX):
                hybrid_mbr = work / "isohdpfx.bin"
                base.extract(BASE_ISOHDPFX, hybrid_mbr)
            elif not hybrid_mbr.is_file():
                raise BuildError(
                    f"{hybrid_mbr} not found", hint="install the Debian package isolinux"
                )
            _stamp_tree(overlay, epoch)

            plan = iso.MasterPlan(
                base=base.source,
                overlay=overlay,
                volume_label=profile.volume_label,
                hybrid_mbr=hybrid_mbr,
                gpt_disk_guid=iso.gpt_guid_from(_content_seed(inputs, rendered_entries)),
                source_date_epoch=epoch,
            )
            step(f"mastering {profile.iso_name} (xorriso; MD5 implanted while writing)")
            tmp_iso = work / profile.iso_name
            mastered = iso.master_iso(plan, dest=tmp_iso, progress=_progress_logger("writing"))
            step("SHA-256")
            sha256 = iso.sha256_file(tmp_iso)

            manifest: Manifest = {
                "schema": SCHEMA,
                "buildiso_version": __version__,
                "fingerprint": fingerprint,
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
                "install_set": [_repo_package_entry(p) for p in closure.packages],
                "rendered": rendered_entries,
                "tools": tools,
            }
            tmp_sums = work / "SHA256SUM"
            tmp_sums.write_text(f"{sha256}  {profile.iso_name}\n", encoding="ascii")
            # Rename the ISO last, then record its stat so an unchanged rebuild is cheap.
            os.replace(tmp_sums, sums_path)
            os.replace(tmp_iso, final_iso)
            st = final_iso.stat()
            manifest["iso"]["stat"] = {
                "size": st.st_size,
                "mtime_ns": st.st_mtime_ns,
                "ino": st.st_ino,
            }
            write_manifest(manifest_path, manifest)
    return _result_from(manifest, final_iso, manifest_path, started, skipped=False)


def _content_seed(inputs: Mapping[str, Any], rendered: Mapping[str, Any]) -> bytes:
    """What the GPT GUID derives from: contents only, so moving the inputs changes nothing."""
    content = {
        "base": inputs["base"]["sha256"],
        "gateway": [p["sha256"] for p in inputs["gateway_packages"]],
        "rendered": {rel: entry["sha256"] for rel, entry in rendered.items()},
        "epoch": inputs["source_date_epoch"],
    }
    return json.dumps(content, sort_keys=True).encode()


def _unchanged_build(
    manifest_path: Path, iso_path: Path, sums: Path, fingerprint: str
) -> Manifest | None:
    """The previous manifest when it was built from the same inputs and the ISO is untouched."""
    if not (manifest_path.is_file() and iso_path.is_file() and sums.is_file()):
        return None
    try:
        old = load_manifest(manifest_path)
    except InputError:
        return None
    recorded = old.get("iso", {}).get("stat", {})
    st = iso_path.stat()
    same_file = recorded == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}
    sums_ok = f"{old['iso'].get('sha256')}  {iso_path.name}" in sums.read_text(errors="replace")
    if old.get("fingerprint") == fingerprint and same_file and sums_ok:
        return old
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
        f"  install set    {len(manifest['install_set'])} packages",
        f"  implanted MD5  {result.implanted_md5}",
        f"  sha256         {result.sha256}  (SHA256SUM)",
        f"  manifest       {result.manifest}",
        f"  time           {result.seconds:.1f} s",
    ]
    return "\n".join(lines)


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
) -> BuildResult:
    """The ``build`` verb. No --base/--gateway-rpms: build from the sample base."""
    profile = load_profile(profile_path, variant)
    if base is None and gateway_rpms is None:
        base, gateway_rpms, sample_key = _sample_inputs()
        key = (
            sample_key
            if gpg_key is None and key_id is None
            else _signing_key(profile, gpg_key=gpg_key, key_id=key_id)
        )
    elif base is None or gateway_rpms is None:
        raise InputError(
            "--base and --gateway-rpms go together",
            hint="give both, or neither to build from the sample base",
        )
    else:
        key = _signing_key(profile, gpg_key=gpg_key, key_id=key_id)
    result = build_iso(
        base_path=base,
        gateway_rpms=gateway_rpms,
        profile=profile,
        password_file=password_file,
        out_dir=out_dir,
        key=key,
        allow_unsigned=allow_unsigned,
    )
    click.echo(_summary(result, load_manifest(result.manifest)))
    return result
