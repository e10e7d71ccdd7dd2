"""A RHEL-6.10-Server-DVD-shaped base for the tests, from public facts (docs/real-media.md).

RHEL 6.10 media cannot be downloaded, so this is built from the sample base's packages,
kernel and install.img, laid out and mastered the way the public sources say a RHEL 6 DVD
is, where buildiso's handling differs from the sample's:

- ``.treeinfo`` in the RHEL 6.3 shape beaker quotes (``[general]``, ``[variant-Server]``
  with ``addons``, ``[addon-*]`` with ``repository``/``name``/``identity``,
  ``[images-x86_64]`` with ``boot.iso``, ``[images-xen]``, ``[stage2]``), plus what RHEL 6.6's
  adds (``product.img``, the add-ons' ``repodata/repomd.xml`` in ``[checksums]``);
  ``[checksums]`` covers every file of ``images/``, as pungi 2's doBuildinstall sums them.
- ``images/boot.iso`` is in the tree and in ``[checksums]`` when mastered, and the ISO is
  written with pungi 2's mkisofs flags (``-U -J -R -T -m repoview -m boot.iso``, El Torito
  isolinux + ``-eltorito-alt-boot -e images/efiboot.img``) by genisoimage: the DVD lacks
  boot.iso and carries a ``TRANS.TBL`` in every folder. ``implantisomd5`` as pungi does.
  The tree fixture is that ISO's files, as a DVD copied to disk.
- add-on folders HighAvailability, LoadBalancer, ResilientStorage, ScalableFileSystem, each
  a yum repository of its own (stand-in packages built here, comps named
  ``comps-rhel6-<AddOn>.xml``); where RHEL keeps the add-on RPMs does not matter to
  buildiso, which never reads them: their repodata and sections must arrive intact.
- ``repodata/`` by createrepo_c with the comps file named as RHEL's
  (``<sha>-comps-rhel6-Server.xml``) and a ``productid`` (a stand-in certificate).
- EULA, GPL, RPM-GPG-KEY-redhat-{beta,release}, media.repo (stand-in texts).
- syslinux 4's file names in ``isolinux/`` (isolinux.bin, vesamenu.c32; no ldlinux.c32,
  which only syslinux 5+ have, so buildiso sees syslinux 4 as on the real DVD). The
  isolinux.bin and vesamenu.c32 are Debian's 6.04 (stand-ins: nothing boots this media).
- UEFI: grub-legacy, ``EFI/BOOT/BOOTX64.conf`` (the stock menu, kernel from
  ``/images/pxeboot``) + ``splash.xpm.gz`` + a BOOTX64.efi stand-in, the same three in
  ``images/efiboot.img`` (FAT labelled ANACONDA), and ``images/efidisk.img``: a GPT disk
  whose EFI system partition holds them plus the kernel and initrd under ``/EFI/BOOT``, the
  menu pointing there (anaconda 13's ``scripts/mk-images.efi``).
- ``images/install.img`` (the sample's stage 2), ``images/product.img`` (a stand-in),
  ``images/pxeboot/{vmlinuz,initrd.img}`` = ``isolinux/{vmlinuz,initrd.img}``.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from rpm_factory import build_rpm

from buildiso.sample.base import SampleBase

EPOCH = 1_529_366_400
LABEL = "RHEL-6.10 Server.x86_64"  # the real DVD's volume label
ADDONS = {  # folder: (name in .treeinfo, stand-in packages)
    "HighAvailability": ("High Availability", ("cman", "rgmanager")),
    "LoadBalancer": ("Load Balancer", ("piranha",)),
    "ResilientStorage": ("Resilient Storage", ("gfs2-utils",)),
    "ScalableFileSystem": ("Scalable Filesystem Support", ("xfsprogs",)),
}
STOCK_EFI_MENU = """default=0
splashimage=/EFI/BOOT/splash.xpm.gz
timeout 5
hiddenmenu
title Red Hat Enterprise Linux 6.10
\tkernel {kernel}
\tinitrd {initrd}
title Install system with basic video driver
\tkernel {kernel} nomodeset askmethod
\tinitrd {initrd}
"""
STOCK_ISOLINUX = """default vesamenu.c32
timeout 600
menu title Welcome to Red Hat Enterprise Linux 6.10!
label linux
  menu label ^Install or upgrade an existing system
  menu default
  kernel vmlinuz
  append initrd=initrd.img
label local
  menu label Boot from ^local drive
  localboot 0xffff
"""
_MTOOLS = {**os.environ, "MTOOLS_SKIP_CHECK": "1", "TZ": "UTC", "SOURCE_DATE_EPOCH": str(EPOCH)}
_ISOLINUX = Path("/usr/lib/ISOLINUX/isolinux.bin")
_VESAMENU = Path("/usr/lib/syslinux/modules/bios/vesamenu.c32")


@dataclass(frozen=True)
class RhelDvd:
    iso: Path  # mastered as pungi 2 does: no boot.iso, TRANS.TBL everywhere, MD5 implanted
    tree: Path  # the ISO's files copied out, as a DVD copied to disk
    compose: Path  # the tree pungi masters: boot.iso still in it, no TRANS.TBL yet
    addon_packages: dict[str, tuple[str, ...]]  # add-on folder -> package names


def _run(*cmd: str | Path, cwd: Path | None = None, env: dict[str, str] | None = None) -> None:
    subprocess.run([str(c) for c in cmd], check=True, capture_output=True, cwd=cwd, env=env)


def _link_or_copy(src: Path, dest: Path) -> None:
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dest)
    except OSError:
        shutil.copyfile(src, dest)


def _createrepo(folder: Path, comps: Path) -> None:
    _run("createrepo_c", "--compatibility", "--database", "--groupfile", comps,
         "--revision", str(EPOCH), "--set-timestamp-to-revision", folder)  # fmt: skip


def _comps(groups: dict[str, tuple[str, ...]]) -> str:
    body = "".join(
        f"  <group>\n    <id>{gid}</id>\n    <name>{gid}</name>\n    <default>false</default>\n"
        "    <uservisible>true</uservisible>\n    <packagelist>\n"
        + "".join(f'      <packagereq type="default">{p}</packagereq>\n' for p in pkgs)
        + "    </packagelist>\n  </group>\n"
        for gid, pkgs in groups.items()
    )
    return f'<?xml version="1.0" encoding="UTF-8"?>\n<comps>\n{body}</comps>\n'


def _fat(path: Path, files: dict[str, bytes], *, label: str = "ANACONDA") -> Path:
    """A FAT image holding ``files`` (relative paths), labelled as mkdosfs -n ANACONDA."""
    payload = sum(len(d) for d in files.values())
    kib = ((payload + 2**20) // 2**20 + 1) * 1024
    _run("mkfs.fat", "--invariant", "-n", label, "-i", "52484c36", "-C", path, str(kib))
    made: set[str] = set()
    scratch = path.with_name(path.name + ".file")
    for rel, data in files.items():
        parts = rel.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            folder = "/".join(parts[:i])
            if folder not in made:
                _run("mmd", "-i", path, f"::/{folder}", env=_MTOOLS)
                made.add(folder)
        scratch.write_bytes(data)
        os.utime(scratch, (EPOCH, EPOCH))
        _run("mcopy", "-m", "-i", path, scratch, f"::/{rel}", env=_MTOOLS)
    scratch.unlink()
    return path


def _efidisk(path: Path, esp: Path) -> Path:
    """mk-images.efi's makeefibootdisk: a GPT disk, one EFI system partition at byte 17408
    holding the FAT image, 17408 bytes of backup GPT room after it."""
    size = esp.stat().st_size
    with path.open("wb") as f:
        f.truncate(17408 + size + 17408)
    last = (17408 + size) // 512 - 1
    _run("sgdisk", "-a", "1", "-n", f"1:34:{last}", "-t", "1:ef00",
         "-c", "1:EFI System Partition", "-U", "R", path)  # fmt: skip
    with path.open("r+b") as f:
        f.seek(17408)
        f.write(esp.read_bytes())
    return path


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _treeinfo(root: Path) -> str:
    addons = ",".join(ADDONS)
    sections = [
        "[general]\nfamily = Red Hat Enterprise Linux\ntimestamp = 1529366400.000000\n"
        "variant = Server\ntotaldiscs = 1\nversion = 6.10\ndiscnum = 1\n"
        "packagedir = Packages\nvariants = Server\narch = x86_64\n",
        f"[variant-Server]\naddons = {addons}\nidentity = Server/Server.cert\n"
        "repository = Server/repodata\n",
        *(
            f"[addon-{folder}]\nrepository = {folder}\nname = {name}\n"
            f"identity = {folder}/{folder}.cert\n"
            for folder, (name, _) in ADDONS.items()
        ),
        "[images-x86_64]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n"
        "boot.iso = images/boot.iso\nproduct.img = images/product.img\n",
        "[images-xen]\nkernel = images/pxeboot/vmlinuz\ninitrd = images/pxeboot/initrd.img\n"
        "product.img = images/product.img\n",
        "[stage2]\nmainimage = images/install.img\n",
    ]
    summed = sorted(
        [p.relative_to(root).as_posix() for p in (root / "images").rglob("*") if p.is_file()]
        + ["repodata/repomd.xml", *(f"{folder}/repodata/repomd.xml" for folder in ADDONS)]
    )
    sums = "".join(f"{rel} = sha256:{_sha256(root / rel)}\n" for rel in summed)
    return "\n".join([*sections, "[checksums]\n" + sums])


def make_rhel_dvd(sample: SampleBase, work: Path) -> RhelDvd:
    """The DVD (ISO) and its files copied out (tree), in ``work``."""
    src = work / "compose"  # what pungi's buildinstall + createrepo leave before mkisofs
    sample_tree = sample.tree
    for rpm in sorted((sample_tree / "Packages").glob("*.rpm")):
        _link_or_copy(rpm, src / "Packages" / rpm.name)
    comps_src = next((sample_tree / "repodata").glob("*-comps-rhel6-sample.xml"))
    comps = work / "comps-rhel6-Server.xml"
    shutil.copyfile(comps_src, comps)
    _createrepo(src, comps)
    productid = work / "productid"
    productid.write_text("-----BEGIN CERTIFICATE-----\nstand-in product certificate\n"
                         "-----END CERTIFICATE-----\n")  # fmt: skip
    _run("modifyrepo_c", "--mdtype", "productid", "--no-compress", "--simple-md-filenames",
         productid, src / "repodata")  # fmt: skip

    addon_packages = {}
    for folder, (_name, names) in ADDONS.items():
        built = [build_rpm(work / "rpmbuild", n, version="1.0", release="1.el6") for n in names]
        for rpm in built:
            _link_or_copy(rpm, src / folder / "Packages" / rpm.name)
        addon_comps = work / f"comps-rhel6-{folder}.xml"
        addon_comps.write_text(_comps({folder.lower(): names}))
        _createrepo(src / folder, addon_comps)
        (src / folder / f"{folder}.cert").write_text(f"stand-in {folder} product certificate\n")
        addon_packages[folder] = names
    (src / "Server").mkdir()
    (src / "Server" / "Server.cert").write_text("stand-in Server product certificate\n")

    kernel = (sample_tree / "images" / "pxeboot" / "vmlinuz").read_bytes()
    initrd = (sample_tree / "images" / "pxeboot" / "initrd.img").read_bytes()
    for folder in ("isolinux", "images/pxeboot"):
        (src / folder).mkdir(parents=True, exist_ok=True)
        (src / folder / "vmlinuz").write_bytes(kernel)
        (src / folder / "initrd.img").write_bytes(initrd)
    shutil.copyfile(_ISOLINUX, src / "isolinux" / "isolinux.bin")  # mkisofs patches this copy
    shutil.copyfile(_VESAMENU, src / "isolinux" / "vesamenu.c32")
    (src / "isolinux" / "isolinux.cfg").write_text(STOCK_ISOLINUX)
    (src / "isolinux" / "boot.msg").write_text("Red Hat Enterprise Linux 6.10\n")

    loader = b"MZ stand-in for RHEL 6's grub-legacy BOOTX64.efi\n"
    splash = gzip.compress(b"/* XPM */\nstatic char *splash[] = {};\n", mtime=EPOCH)
    cd_menu = STOCK_EFI_MENU.format(kernel="/images/pxeboot/vmlinuz",
                                    initrd="/images/pxeboot/initrd.img").encode()  # fmt: skip
    efi_files = {"EFI/BOOT/BOOTX64.efi": loader, "EFI/BOOT/BOOTX64.conf": cd_menu,
                 "EFI/BOOT/splash.xpm.gz": splash}  # fmt: skip
    for rel, data in efi_files.items():
        (src / rel).parent.mkdir(parents=True, exist_ok=True)
        (src / rel).write_bytes(data)
    images = src / "images"
    _fat(images / "efiboot.img", efi_files)
    disk_menu = STOCK_EFI_MENU.format(kernel="/EFI/BOOT/vmlinuz",
                                      initrd="/EFI/BOOT/initrd.img").encode()  # fmt: skip
    esp = _fat(work / "efidisk-esp.img", {**efi_files, "EFI/BOOT/BOOTX64.conf": disk_menu,
                                          "EFI/BOOT/vmlinuz": kernel,
                                          "EFI/BOOT/initrd.img": initrd})  # fmt: skip
    _efidisk(images / "efidisk.img", esp)
    shutil.copyfile(sample_tree / "images" / "install.img", images / "install.img")
    (images / "product.img").write_bytes(gzip.compress(b"stand-in product.img\n", mtime=EPOCH))
    (images / "boot.iso").write_bytes(b"stand-in for the stock boot.iso: pungi leaves it out\n")

    for name, text in (
        ("EULA", "stand-in for Red Hat's end user license agreement\n"),
        ("GPL", "stand-in for the GNU General Public License text\n"),
        ("RPM-GPG-KEY-redhat-beta", "stand-in beta key\n"),
        ("RPM-GPG-KEY-redhat-release", "stand-in release key\n"),
    ):
        (src / name).write_text(text)
    (src / ".discinfo").write_text("1529366400.000000\nRed Hat Enterprise Linux 6.10\nx86_64\n1\n")
    (src / "media.repo").write_text(
        "[InstallMedia]\nname=Red Hat Enterprise Linux 6.10\nmediaid=1529366400.000000\n"
        "metadata_expire=-1\ngpgcheck=0\ncost=500\n"
    )
    (src / ".treeinfo").write_text(_treeinfo(src))
    for path in [src, *src.rglob("*")]:
        os.utime(path, (EPOCH, EPOCH))

    iso = work / "rhel-server-6.10-x86_64-dvd.iso"
    _run("genisoimage", "-quiet", "-U", "-J", "-R", "-T", "-m", "repoview", "-m", "boot.iso",
         "-b", "isolinux/isolinux.bin", "-c", "isolinux/boot.cat", "-no-emul-boot",
         "-boot-load-size", "4", "-boot-info-table",
         "-eltorito-alt-boot", "-e", "images/efiboot.img", "-no-emul-boot",
         "-V", LABEL, "-o", iso, src,
         env={**os.environ, "SOURCE_DATE_EPOCH": str(EPOCH)})  # fmt: skip
    _run("implantisomd5", iso)
    tree = work / "tree"
    _run("xorriso", "-osirrox", "on", "-indev", iso, "-extract", "/", tree)
    for path in [tree, *tree.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)  # a copied DVD is writable
    return RhelDvd(iso=iso, tree=tree, compose=src, addon_packages=addon_packages)
