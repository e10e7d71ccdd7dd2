"""A real Linux kernel for the sample base: Debian's generic amd64 image, extracted, not installed.

The generic ``-amd64`` flavour is used because ``-cloud-amd64`` lacks USB storage and AHCI.
The package is named exactly (a wildcard would match dozens of versions); when the pinned
ABI has left the archive, the one ``linux-image-amd64`` currently depends on is used.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from buildiso.atomicfile import replace_dir
from buildiso.errors import BuildError
from buildiso.run import output, run

log = logging.getLogger(__name__)

PINNED_PACKAGE = "linux-image-6.1.0-50-amd64"
META_PACKAGE = "linux-image-amd64"


@dataclass(frozen=True)
class KernelTree:
    """An extracted kernel package: ``root`` holds boot/ and lib/modules/<version>/."""

    root: Path
    version: str  # e.g. "6.1.0-50-amd64"
    deb: Path

    @property
    def vmlinuz(self) -> Path:
        return self.root / "boot" / f"vmlinuz-{self.version}"

    @property
    def modules_dir(self) -> Path:
        return self.root / "lib" / "modules" / self.version


def _package_available(name: str) -> bool:
    text = output(["apt-cache", "policy", name], check=False)
    return "Candidate:" in text and "Candidate: (none)" not in text


def resolve_package() -> str:
    """The exact kernel package name to use."""
    if _package_available(PINNED_PACKAGE):
        return PINNED_PACKAGE
    deps = output(["apt-cache", "depends", META_PACKAGE], check=False)
    match = re.search(r"Depends: (linux-image-[0-9][^\s]*-amd64)\b", deps)
    if match is None:
        raise BuildError(
            f"no Debian kernel package found ({PINNED_PACKAGE}, nor one {META_PACKAGE} needs)",
            hint="run 'apt-get update' and check the apt sources",
        )
    log.warning("%s is not in the archive any more; using %s", PINNED_PACKAGE, match.group(1))
    return match.group(1)


def fetch_kernel(cache: Path) -> KernelTree:
    """Download (once) and extract the kernel package under ``cache``; return its tree."""
    package = resolve_package()
    version = package.removeprefix("linux-image-")
    debs = cache / "debs"
    debs.mkdir(parents=True, exist_ok=True)
    found = sorted(debs.glob(f"{package}_*.deb"))
    if not found:
        log.info("downloading %s (Debian package)", package)
        run(["apt-get", "download", package], cwd=debs)
        found = sorted(debs.glob(f"{package}_*.deb"))
        if not found:
            raise BuildError(f"apt-get download {package} produced no .deb in {debs}")
    deb = found[-1]
    root = cache / f"kernel-{version}"
    stamp = root / ".extracted"
    if not stamp.exists():
        tmp = root.with_name(root.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        run(["dpkg-deb", "-x", deb, tmp])
        (tmp / ".extracted").write_text(deb.name + "\n")
        replace_dir(tmp, root)
    tree = KernelTree(root=root, version=version, deb=deb)
    if not tree.vmlinuz.is_file() or not tree.modules_dir.is_dir():
        raise BuildError(f"{deb.name} did not contain boot/vmlinuz-{version} and its modules")
    return tree
