"""Build every spec of a folder into binary RPMs with rpmbuild, reproducibly.

The payload is gzip (``w9.gzdio``): busybox's rpm2cpio and RHEL 6's rpm read only gzip
or xz, not rpm 4.18's default zstd. Build time, build host and file times are pinned
(SOURCE_DATE_EPOCH) so an unchanged spec gives an identical package.
"""

from __future__ import annotations

import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

from buildiso.errors import BuildError, InputError
from buildiso.run import run

SPECS_DIR = Path(__file__).resolve().parent / "specs"
GATEWAY_SPECS_DIR = Path(__file__).resolve().parent / "gateway-specs"
SOURCES_DIR = Path(__file__).resolve().parent / "sources"

BUILD_HOST = "buildiso-sample.localdomain"
VENDOR = "buildiso sample (a stand-in, not Red Hat)"
# RHEL 6.10's release date: the default SOURCE_DATE_EPOCH of the sample.
DEFAULT_EPOCH = 1529366400

_FIXED_DEFINES: dict[str, str] = {
    "_binary_payload": "w9.gzdio",
    "_buildhost": BUILD_HOST,
    "vendor": VENDOR,
    "packager": "buildiso <sample@buildiso.invalid>",
    "dist": ".el6",
    "debug_package": "%{nil}",
    # no strip/compress passes: the copied Debian binaries stay byte-identical
    "__os_install_post": "%{nil}",
    # build-id links would make identical binaries in two packages conflict
    "_build_id_links": "none",
    "use_source_date_epoch_as_buildtime": "1",
    "clamp_mtime_to_source_date_epoch": "1",
    "_rpmfilename": "%{NAME}-%{VERSION}-%{RELEASE}.%{ARCH}.rpm",
    "_unpackaged_files_terminate_build": "1",
    "_source_payload": "w9.gzdio",
}


@dataclass(frozen=True)
class SpecInputs:
    """Paths the sample specs read, passed to rpmbuild as macros."""

    kernel_root: Path  # extracted Debian kernel package (boot/, lib/modules/)
    kernel_version: str  # Debian's uname -r, e.g. 6.1.0-50-amd64
    initrd: Path  # the sample initramfs (installer stage 1 and installed systems)
    sources: Path = SOURCES_DIR
    vendor_key: Path | None = None  # the gateway's public key (cs-email-repo-conf ships it)


def spec_files(spec_dir: Path) -> list[Path]:
    specs = sorted(spec_dir.glob("*.spec"))
    if not specs:
        raise InputError(f"{spec_dir}: no *.spec files", hint="check the buildiso checkout")
    return specs


def _defines(inputs: SpecInputs, topdir: Path, rpm_dir: Path) -> list[str]:
    defines = dict(_FIXED_DEFINES)
    defines.update(
        {
            "_topdir": str(topdir),
            "_builddir": str(topdir / "BUILD"),
            "_buildrootdir": str(topdir / "BUILDROOT"),
            "_rpmdir": str(rpm_dir),
            "_srcrpmdir": str(topdir / "SRPMS"),
            "buildiso_kernel_root": str(inputs.kernel_root),
            "buildiso_kernel_version": inputs.kernel_version,
            "buildiso_initrd": str(inputs.initrd),
            "buildiso_sources": str(inputs.sources),
            "buildiso_bincopy": f"{sys.executable} -m buildiso.sample.bincopy",
            "buildiso_yumtree": f"{sys.executable} -m buildiso.sample.yum",
        }
    )
    if inputs.vendor_key is not None:
        defines["buildiso_vendor_key"] = str(inputs.vendor_key)
    args: list[str] = []
    for name, value in defines.items():
        args += ["--define", f"{name} {value}"]
    return args


def build_spec(spec: Path, *, inputs: SpecInputs, workdir: Path, rpm_dir: Path, epoch: int) -> None:
    """rpmbuild -bb one spec into ``rpm_dir`` (flat: NAME-VERSION-RELEASE.ARCH.rpm)."""
    topdir = workdir / spec.stem
    shutil.rmtree(topdir, ignore_errors=True)
    for sub in ("BUILD", "BUILDROOT", "SRPMS"):
        (topdir / sub).mkdir(parents=True)
    try:
        run(
            ["rpmbuild", "-bb", "--target", "x86_64", *_defines(inputs, topdir, rpm_dir), spec],
            env={"SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC"},
        )
    except BuildError as exc:
        raise BuildError(
            f"rpmbuild failed for {spec.name}: {exc.message}",
            hint=f"fix {spec} (rerun with --debug to see the full command)",
        ) from exc
    finally:
        shutil.rmtree(topdir, ignore_errors=True)


def build_specs(
    spec_dir: Path, *, inputs: SpecInputs, workdir: Path, rpm_dir: Path, epoch: int
) -> list[Path]:
    """Build every ``*.spec`` in ``spec_dir``; return the RPMs written to ``rpm_dir``."""
    rpm_dir.mkdir(parents=True, exist_ok=True)
    for spec in spec_files(spec_dir):
        build_spec(spec, inputs=inputs, workdir=workdir, rpm_dir=rpm_dir, epoch=epoch)
    rpms = sorted(rpm_dir.glob("*.rpm"))
    if not rpms:
        raise BuildError(f"rpmbuild wrote no packages into {rpm_dir}")
    return rpms
