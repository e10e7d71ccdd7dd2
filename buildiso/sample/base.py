"""`buildiso sample-base`: the stand-in RHEL 6.10 DVD (tree + ISO) and sample gateway RPMs.

Pipeline: kernel (Debian, extracted) -> installer stage 1 initrd -> rpmbuild of every
base spec (the kernel package carries the initrd) and gateway spec -> dependency check
-> sign the gateway RPMs -> DVD tree (+ installer stage 2) -> ISO. Everything is built in
a temporary folder next to OUT and renamed into place at the end. A stamp of every input
(sample sources, specs, installer, kernel package, host tool versions) makes an
unchanged rerun a cache hit that takes seconds.

Layout of OUT: tree/, sample-rhel-6.10-x86_64-dvd.iso, gateway-rpms/*.rpm,
gateway-rpms/RPM-GPG-KEY-buildiso-sample, gateway-rpms/KEYID.
"""

from __future__ import annotations

import fcntl
import hashlib
import importlib.metadata
import json
import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from buildiso import boundedjson, paths
from buildiso.atomicfile import replace_dir
from buildiso.errors import BuildError, InputError
from buildiso.log import log, step
from buildiso.master.basetree import open_base
from buildiso.run import output, require_tools
from buildiso.sample import closure, iso, previous, rpmbuild, signing, tree
from buildiso.sample.installer.stage2 import BUILDISO_MODULES, BUILDISO_SOURCE
from buildiso.sample.kernel import KernelTree, fetch_kernel
from buildiso.sourcedate import epoch_from_env

SAMPLE_DIR = Path(__file__).resolve().parent
ISO_NAME = "sample-rhel-6.10-x86_64-dvd.iso"
STAMP_NAME = ".buildiso-sample-stamp.json"
KEYID_NAME = "KEYID"
CONFLICTING = ("postfix", "rsyslog", "samba-common")
TOOLS = (
    "rpmbuild",
    "rpmsign",
    "rpm",
    "gpg",
    "gpgconf",
    "createrepo_c",
    "xorriso",
    "mkfs.fat",
    "mmd",
    "mcopy",
    "grub-mkimage",
    "depmod",
    "modprobe",
    "ldd",
    "dpkg-query",
    "apt-get",
    "dpkg-deb",
    "mksquashfs",
)
# Debian packages whose files end up in the sample: their versions are cache inputs.
HOST_PACKAGES = (
    "busybox-static",
    "libc6",
    "libcrypt1",
    "rpm",
    "librpm9",
    "rpm2cpio",
    "createrepo-c",
    "passwd",
    "libpam0g",
    "libpam-modules",
    "e2fsprogs",
    "isolinux",
    "syslinux-common",
    "grub-efi-amd64-bin",
    "grub-common",
    "dosfstools",
    "mtools",
    "xorriso",
    "squashfs-tools",
    "gnupg",
    "kmod",
    "efibootmgr",
    "util-linux",
    "fdisk",
    "grub-pc-bin",
    # the sample's python and yum (dnf 4): sample/yum.py
    "python3.11-minimal",
    "libpython3.11-stdlib",
    "python3-dnf",
    "python3-libdnf",
    "python3-hawkey",
    "python3-rpm",
    "python3-gpg",
    "python3-libcomps",
    "libdnf2",
    "libsolv1",
    "librepo0",
    "gpg",
)


@dataclass(frozen=True)
class SampleBase:
    """A built sample base (all paths inside OUT)."""

    tree: Path
    iso: Path
    gateway_rpms: Path
    gpg_public_key: Path
    key_id: str  # 8 lower-case hex digits, as rpm prints it


def sample_releases(sample: SampleBase) -> dict[tuple[str, str], Path]:
    """(version, release) of ``cs-email`` -> the folder of the sample's gateway RPMs of that
    release: the current one and the previous one (``previous.py``)."""
    from buildiso.compose.rpms import read_rpm

    found: dict[tuple[str, str], Path] = {}
    for folder in (sample.gateway_rpms, sample.gateway_rpms.with_name(previous.DIR_NAME)):
        for rpm in sorted(folder.glob("cs-email-[0-9]*.rpm")):
            header = read_rpm(rpm)
            if header.name == "cs-email":
                found[(header.version, header.release)] = folder
    return found


def source_date_epoch() -> int:
    env = epoch_from_env()
    return rpmbuild.DEFAULT_EPOCH if env is None else env


def cache_dir() -> Path:
    return paths.DEFAULT_OUT / "cache"


def _layout(out_dir: Path) -> SampleBase:
    gateway = out_dir / "gateway-rpms"
    key_id_file = gateway / KEYID_NAME
    key_id = key_id_file.read_text().strip() if key_id_file.is_file() else ""
    return SampleBase(
        tree=out_dir / "tree",
        iso=out_dir / ISO_NAME,
        gateway_rpms=gateway,
        gpg_public_key=gateway / signing.PUBLIC_KEY_NAME,
        key_id=key_id,
    )


def _sample_files() -> list[Path]:
    """Every file of buildiso/sample (specs, sources, installer, this code), sorted.

    Documentation (*.md) is left out: editing it changes nothing that is built.
    """
    return sorted(
        p
        for p in SAMPLE_DIR.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts and p.suffix not in (".pyc", ".md")
    )


def input_stamp(*, kernel: KernelTree, key_fingerprint: str, epoch: int) -> dict[str, object]:
    """Everything the output depends on; equal stamps mean an identical build."""
    files = {
        str(p.relative_to(SAMPLE_DIR)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in _sample_files()
    }
    # Stage 2 also carries buildiso's install-set code and the solv binding (#10).
    files |= {
        f"buildiso/{rel}": hashlib.sha256((BUILDISO_SOURCE / rel).read_bytes()).hexdigest()
        for rel in BUILDISO_MODULES
    }
    files["python:solv"] = importlib.metadata.version("solv")
    versions = output(
        ["dpkg-query", "-W", "-f", "${Package}=${Version}\\n", *HOST_PACKAGES], check=False
    )
    return {
        "schema": 1,
        "epoch": epoch,
        "files": files,
        "kernel_deb": f"{kernel.deb.name}:{kernel.deb.stat().st_size}",
        "host_packages": sorted(versions.split()),
        "signing_key": key_fingerprint,
    }


def _is_current(out_dir: Path, stamp: dict[str, object]) -> bool:
    stamp_file = out_dir / STAMP_NAME
    if not stamp_file.is_file():
        return False
    try:
        old = boundedjson.load(stamp_file, max_bytes=4 * 2**20, max_depth=4)
    except (OSError, InputError):
        return False
    layout = _layout(out_dir)
    complete = layout.tree.is_dir() and layout.iso.is_file() and layout.gpg_public_key.is_file()
    return bool(old == stamp and complete and layout.key_id) and _intact(layout)


def _intact(layout: SampleBase) -> bool:
    """A cached sample damaged since (a file edited, a disk error) is rebuilt, not handed
    to the build, which could only say "the base was modified"."""
    for source in (layout.tree, layout.iso):
        try:
            with open_base(source) as media:
                media.verify_checksums()
        except InputError as exc:
            log.warning("sample base damaged (%s): rebuilding it", exc.message)
            return False
    return True


@contextmanager
def _locked() -> Iterator[None]:
    """One sample-base build at a time on this machine: test sessions may start several
    at once, and they share the kernel and key in the cache."""
    cache_dir().mkdir(parents=True, exist_ok=True)
    with (cache_dir() / "sample-base.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _installer() -> tuple[Callable[..., Path], Callable[..., Path]]:
    """Engineer C's installer builders (stage 1 initrd, stage 2 install.img)."""
    try:
        from buildiso.sample.installer import build_initrd, build_stage2
    except ImportError as exc:
        raise BuildError(
            f"the sample installer is not available ({exc})",
            hint="buildiso/sample/installer must provide build_initrd and build_stage2",
        ) from exc
    return build_initrd, build_stage2


def _build(*, stage: Path, kernel: KernelTree, key: signing.SigningKey, epoch: int) -> None:
    """Build everything into ``stage`` (a fresh folder)."""
    build_initrd, build_stage2 = _installer()
    work = stage / ".work"
    with step("building the installer's stage 1 (initrd)"):
        initrd = build_initrd(kernel=kernel, dest=work / "initrd.img")

    with step("building the sample OS packages (rpmbuild)"):
        vendor_key = signing.export_public_key(key, work / signing.PUBLIC_KEY_NAME)
        inputs = rpmbuild.SpecInputs(
            kernel_root=kernel.root, kernel_version=kernel.version, initrd=initrd,
            vendor_key=vendor_key,
        )
        rpm_work = work / "rpmbuild"
        base_rpms = rpmbuild.build_specs(
            rpmbuild.SPECS_DIR, inputs=inputs, workdir=rpm_work, rpm_dir=work / "base-rpms",
            epoch=epoch,
        )  # fmt: skip

    with step("building the sample gateway packages (rpmbuild)"):
        gateway_dir = stage / "gateway-rpms"
        gateway_rpms = rpmbuild.build_specs(
            rpmbuild.GATEWAY_SPECS_DIR,
            inputs=inputs,
            workdir=rpm_work,
            rpm_dir=gateway_dir,
            epoch=epoch,
        )

    with step("checking dependencies and conflicts of the package set"):
        closure.require_installable(base_rpms, what="the sample base package set")
        without_conflicting = [r for r in base_rpms if _rpm_name(r) not in CONFLICTING]
        closure.require_installable(
            without_conflicting + gateway_rpms, what="the sample base + gateway package set"
        )

    with step(f"signing {len(gateway_rpms)} gateway packages (key ID {key.key_id})"):
        signing.sign_rpms(gateway_rpms, key=key, epoch=epoch)
        signing.export_public_key(key, gateway_dir / signing.PUBLIC_KEY_NAME)
        (gateway_dir / KEYID_NAME).write_text(key.key_id + "\n")

    with step("building the previous gateway release (4.8.0-150, for the offline upgrade)"):
        previous.build_previous(
            inputs=inputs,
            workdir=rpm_work,
            dest=stage / previous.DIR_NAME,
            current=gateway_rpms,
            base_without_conflicting=without_conflicting,
            key=key,
            epoch=epoch,
        )

    with step("building the installer's stage 2 (install.img)"):
        stage2 = build_stage2(kernel=kernel, dest=work / "install.img")

    with step("assembling the DVD tree (Packages, repodata, isolinux, images, EFI)"):
        parts = tree.TreeParts(
            packages=base_rpms, vmlinuz=kernel.vmlinuz, initrd=initrd, stage2=stage2
        )
        tree.assemble_tree(dest=stage / "tree", parts=parts, epoch=epoch)

    with step(f"mastering {ISO_NAME}"):
        iso.make_iso(tree=stage / "tree", iso=stage / ISO_NAME, epoch=epoch)

    shutil.rmtree(work)


def _rpm_name(rpm: Path) -> str:
    return output(["rpm", "-qp", "--nosignature", "--qf", "%{NAME}", rpm]).strip()


def _check_out_dir(out_dir: Path) -> None:
    """The output folder is replaced as a whole: never take over a folder that is not ours."""
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError(f"{out_dir} is a file", hint="give --out a folder path")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / STAMP_NAME).is_file():
        raise InputError(
            f"{out_dir} is not empty and was not made by 'buildiso sample-base'",
            hint="give --out a new or empty folder (its whole content is replaced)",
        )


def _remove_leftovers(out_dir: Path) -> None:
    """The staging and old folders a killed sample build left (hundreds of MB). Called
    holding the machine-wide lock: no other sample build is using them."""
    for name in (f".{out_dir.name}.tmp", f".{out_dir.name}.old"):
        leftover = out_dir.with_name(name)
        if leftover.exists():
            log.info("    removing %s, left by a killed sample build", leftover)
            shutil.rmtree(leftover, ignore_errors=True)


def build_sample_base(out_dir: Path, *, force: bool = False) -> SampleBase:
    """Build (or reuse, when nothing changed) the sample base in ``out_dir``."""
    require_tools(*TOOLS)
    out_dir = out_dir.resolve()
    _check_out_dir(out_dir)
    epoch = source_date_epoch()
    with _locked():
        _remove_leftovers(out_dir)
        step("checking the sample base's inputs (Debian kernel, signing key, sources)")
        kernel = fetch_kernel(cache_dir())
        key = signing.ensure_key(cache_dir() / "sample-gnupg", epoch=epoch)
        stamp = input_stamp(kernel=kernel, key_fingerprint=key.fingerprint, epoch=epoch)
        if not force and _is_current(out_dir, stamp):
            step(f"sample base in {out_dir} is up to date (cache hit)")
            return _layout(out_dir)
        started = time.monotonic()
        stage = out_dir.with_name(f".{out_dir.name}.tmp")
        shutil.rmtree(stage, ignore_errors=True)
        stage.mkdir(parents=True)
        try:
            _build(stage=stage, kernel=kernel, key=key, epoch=epoch)
            (stage / STAMP_NAME).write_text(json.dumps(stamp, indent=1, sort_keys=True) + "\n")
            replace_dir(stage, out_dir)  # the old output removed only afterwards
        finally:
            shutil.rmtree(stage, ignore_errors=True)
        result = _layout(out_dir)
        step(
            f"sample base ready in {time.monotonic() - started:.0f} s: {result.iso} "
            f"({result.iso.stat().st_size // (1024 * 1024)} MiB)"
        )
        return result


def sample_base_command(*, out_dir: Path, force: bool) -> None:
    """CLI entry (buildiso sample-base)."""
    result = build_sample_base(out_dir, force=force)
    log.info("tree:         %s", result.tree)
    log.info("iso:          %s", result.iso)
    log.info("gateway RPMs: %s (key ID %s)", result.gateway_rpms, result.key_id)
