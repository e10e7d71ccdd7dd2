"""Build every spec of a folder into binary RPMs with rpmbuild, reproducibly.

The payload is gzip (``w9.gzdio``): busybox's rpm2cpio and RHEL 6's rpm read only gzip
or xz, not rpm 4.18's default zstd. Build time, build host and file times are pinned
(SOURCE_DATE_EPOCH) so an unchanged spec gives an identical package.

rpmbuild splits what it is given at spaces in places (``%files -f FILE``, and the specs'
%install lines are shell): a ``BUILDISO_OUT`` or checkout with a space in its path broke
every spec. So rpmbuild only sees paths without spaces: a private folder under the temp
folder holds a link to each real folder and file it needs (``_Links``).
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from buildiso import tmpdirs
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


class _Links:
    """Space-free names for the paths rpmbuild needs: links in a private folder."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def __call__(self, name: str, target: Path) -> Path:
        link = self.folder / name
        link.symlink_to(target.absolute())
        return link

    def python(self) -> str:
        """This Python, named through a link to its installation (a venv stays a venv:
        pyvenv.cfg is found one folder above the executable)."""
        exe = Path(sys.executable)
        return str(self("python", exe.parent.parent) / exe.parent.name / exe.name)


def _defines(inputs: SpecInputs, topdir: Path, rpm_dir: Path, links: _Links) -> list[str]:
    top = links("top", topdir)
    python = links.python()
    defines = dict(_FIXED_DEFINES)
    defines.update(
        {
            "_topdir": str(top),
            "_builddir": str(top / "BUILD"),
            "_buildrootdir": str(top / "BUILDROOT"),
            "_rpmdir": str(links("rpms", rpm_dir)),
            "_srcrpmdir": str(top / "SRPMS"),
            "buildiso_kernel_root": str(links("kernel", inputs.kernel_root)),
            "buildiso_kernel_version": inputs.kernel_version,
            "buildiso_initrd": str(links("initrd.img", inputs.initrd)),
            "buildiso_sources": str(links("sources", inputs.sources)),
            "buildiso_bincopy": f"{python} -m buildiso.sample.bincopy",
            "buildiso_yumtree": f"{python} -m buildiso.sample.yum",
        }
    )
    if inputs.vendor_key is not None:
        defines["buildiso_vendor_key"] = str(links("vendor-key", inputs.vendor_key))
    args: list[str] = []
    for name, value in defines.items():
        args += ["--define", f"{name} {value}"]
    return args


def _link_folder() -> Path:
    root = Path(tempfile.gettempdir())
    if any(c.isspace() for c in str(root)):
        raise InputError(
            f"the temporary folder {root} has a space in its path, which rpmbuild cannot take",
            hint="set TMPDIR to a folder without spaces (e.g. /tmp)",
        )
    return root


def build_spec(spec: Path, *, inputs: SpecInputs, workdir: Path, rpm_dir: Path, epoch: int) -> None:
    """rpmbuild -bb one spec into ``rpm_dir`` (flat: NAME-VERSION-RELEASE.ARCH.rpm)."""
    topdir = workdir / spec.stem
    shutil.rmtree(topdir, ignore_errors=True)
    for sub in ("BUILD", "BUILDROOT", "SRPMS"):
        (topdir / sub).mkdir(parents=True)
    try:
        with tmpdirs.private_dir("rpmbuild", root=_link_folder()) as folder:
            defines = _defines(inputs, topdir, rpm_dir, _Links(folder))
            run(["rpmbuild", "-bb", "--target", "x86_64", *defines, spec],
                env={"SOURCE_DATE_EPOCH": str(epoch), "TZ": "UTC"})  # fmt: skip
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
