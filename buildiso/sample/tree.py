"""The sample DVD tree, laid out and described like the RHEL 6.10 Server DVD.

.discinfo, .treeinfo (RHEL 6 format, sha256 checksums), media.repo, Packages/ and
repodata/ (createrepo_c: gzip XML + bz2 sqlite, which RHEL 6's yum reads, with comps),
isolinux/, images/ (install.img, pxeboot/, efiboot.img) and EFI/BOOT/.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from buildiso.run import run
from buildiso.sample import bootloaders

COMPS_FILE = Path(__file__).resolve().parent / "comps-rhel6-sample.xml"

FAMILY = "Red Hat Enterprise Linux"
VERSION = "6.10"
VARIANT = "Server"
ARCH = "x86_64"
PACKAGE_DIR = "Packages"
# files whose sha256 .treeinfo lists, in RHEL 6's order
CHECKSUMMED = (
    "images/efiboot.img",
    "images/install.img",
    "images/pxeboot/initrd.img",
    "images/pxeboot/vmlinuz",
    "repodata/repomd.xml",
)


@dataclass(frozen=True)
class TreeParts:
    """What goes into the tree besides the metadata we generate."""

    packages: list[Path]  # base RPMs (not the gateway's)
    vmlinuz: Path
    initrd: Path  # installer stage 1
    stage2: Path  # images/install.img (squashfs)


def sha256_file(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def discinfo_text(*, epoch: int) -> str:
    """timestamp, release, arch, disc numbers: one per line."""
    return f"{epoch}.000000\n{VERSION}\n{ARCH}\n1\n"


def treeinfo_text(*, tree: Path, epoch: int) -> str:
    """RHEL 6 .treeinfo; the checksummed files must already be in ``tree``."""
    lines = [
        "[general]",
        f"family = {FAMILY}",
        f"timestamp = {epoch}.00",
        f"variant = {VARIANT}",
        "totaldiscs = 1",
        f"version = {VERSION}",
        "discnum = 1",
        f"packagedir = {PACKAGE_DIR}",
        f"variants = {VARIANT}",
        f"arch = {ARCH}",
        "",
        f"[images-{ARCH}]",
        "kernel = images/pxeboot/vmlinuz",
        "initrd = images/pxeboot/initrd.img",
        "",
        "[images-xen]",
        "kernel = images/pxeboot/vmlinuz",
        "initrd = images/pxeboot/initrd.img",
        "",
        "[stage2]",
        "mainimage = images/install.img",
        "",
        "[checksums]",
        *(f"{name} = sha256:{sha256_file(tree / name)}" for name in CHECKSUMMED),
        "",
    ]
    return "\n".join(lines)


def media_repo_text(*, epoch: int) -> str:
    return (
        "[InstallMedia]\n"
        f"name={FAMILY} {VERSION}\n"
        f"mediaid={epoch}.000000\n"
        "metadata_expire=-1\n"
        "gpgcheck=0\n"
        "cost=500\n"
    )


def make_repo(*, tree: Path, epoch: int, comps: Path = COMPS_FILE) -> Path:
    """createrepo_c over ``tree`` (its Packages/): returns repodata/repomd.xml."""
    run(
        [
            "createrepo_c",
            "--compatibility",
            "--database",
            "--compress-type",
            "bz2",
            "--checksum",
            "sha256",
            "--groupfile",
            str(comps),
            "--revision",
            str(epoch),
            "--set-timestamp-to-revision",
            "--workers",
            "2",
            str(tree),
        ]
    )
    return tree / "repodata" / "repomd.xml"


def assemble_tree(*, dest: Path, parts: TreeParts, epoch: int) -> Path:
    """Build the complete DVD tree in ``dest`` (which must not exist yet)."""
    dest.mkdir(parents=True)
    packages = dest / PACKAGE_DIR
    packages.mkdir()
    for rpm in sorted(parts.packages):
        shutil.copyfile(rpm, packages / rpm.name)
        # createrepo records each file's mtime (<time file=...>): pin it
        os.utime(packages / rpm.name, (epoch, epoch))

    isolinux = dest / "isolinux"
    bootloaders.install_isolinux(isolinux)
    pxeboot = dest / "images" / "pxeboot"
    pxeboot.mkdir(parents=True)
    for folder in (isolinux, pxeboot):
        shutil.copyfile(parts.vmlinuz, folder / "vmlinuz")
        shutil.copyfile(parts.initrd, folder / "initrd.img")
    shutil.copyfile(parts.stage2, dest / "images" / "install.img")

    efi_boot = dest / "EFI" / "BOOT"
    bootloaders.install_efi_dir(efi_boot)
    bootloaders.make_efiboot_img(
        efi_boot_dir=efi_boot, dest=dest / "images" / "efiboot.img", epoch=epoch
    )

    make_repo(tree=dest, epoch=epoch)
    (dest / ".discinfo").write_text(discinfo_text(epoch=epoch))
    (dest / "media.repo").write_text(media_repo_text(epoch=epoch))
    (dest / ".treeinfo").write_text(treeinfo_text(tree=dest, epoch=epoch))
    return dest
