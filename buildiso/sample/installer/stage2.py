"""Stage 2 of the sample installer: images/install.img, a squashfs holding the installer.

Debian's python3.11 (the host's files from its Debian package, with their libraries via
bincopy) with the stdlib minus tests/GUI parts, pykickstart and its pure-Python
dependencies, buildiso's install-set resolution (compose/ + libsolv's Python binding, so the
installer installs exactly what the build's manifest says), SHA-512 crypt and RHEL 6's
kickstart parser as ``validate`` reads it (render/), the
installer itself (``guest/`` as package ``sampleinstaller``), and the tools it runs: rpm,
sfdisk, wipefs, blkid (util-linux's, as RHEL 6's stage 2 has), mke2fs, mkfs.fat, mkswap,
efibootmgr, lvm, mdadm (Debian's lvm2 and mdadm), bash as /bin/sh (as in RHEL 6's stage 2),
busybox for the other commands (without findfs, which RHEL 6's stage 2 lacks). The tree is
usr-merged like Debian 12 (/bin, /sbin, /lib, /lib64 → usr/...).
"""

from __future__ import annotations

import importlib.util
import logging
import shutil
import tempfile
from pathlib import Path

from buildiso.atomicfile import replace_file
from buildiso.errors import BuildError
from buildiso.run import output, require_tools, run
from buildiso.sample.bincopy import copy_with_libs, shared_libraries
from buildiso.sample.installer.initrd import BUSYBOX, source_date_epoch
from buildiso.sample.kernel import KernelTree

log = logging.getLogger(__name__)

GUEST_SOURCE = Path(__file__).with_name("guest")
PYTHON = Path("/usr/bin/python3.11")
STDLIB = Path("/usr/lib/python3.11")
SITE = "usr/local/lib/python3.11/dist-packages"  # on Debian python's sys.path
# pykickstart and what it imports (requests for %ksappend/url includes); rpmfile and
# libsolv's binding (solv, its own libraries in solv.libs/) for buildiso's compose code.
PURE_PACKAGES = ("pykickstart", "requests", "urllib3", "idna", "charset_normalizer", "certifi",
                 "rpmfile", "solv")
# buildiso's install-set resolution, copied as package ``buildiso`` (one solver: the
# installer installs what the build's manifest says; see guest/packages.py).
BUILDISO_SOURCE = Path(__file__).resolve().parents[2]
BUILDISO_MODULES = (
    "__init__.py", "atomicfile.py", "errors.py", "run.py", "sourcedate.py", "compose/__init__.py",
    "compose/comps.py", "compose/depsolve.py", "compose/kspackages.py", "compose/repo.py",
    "compose/repomd.py",
    "compose/rpms.py", "compose/rpmversion.py", "compose/solver.py", "tmpdirs.py",
    "render/__init__.py", "render/shacrypt.py",  # SHA-512 crypt: no crypt module needed
    "render/md5crypt.py",  # MD5 crypt for authconfig --enablemd5
    # RHEL 6's parser (pykickstart 1.74.22 as validate reads it): anaconda's kickstart errors
    "render/ks6reader.py", "render/ks6commands.py", "render/ksoptions.py",
)
# busybox applets RHEL 6's stage 2 does not have (scripts/upd-instroot keeps util-linux-ng's
# blkid, no findfs): a kickstart's "findfs ... || blkid ..." must take the blkid path here.
NOT_IN_RHEL6_STAGE2 = frozenset({"findfs"})
# Not needed by the installer: tests, GUI, packaging helpers.
STDLIB_SKIP = frozenset({
    "test", "idlelib", "tkinter", "turtledemo", "ensurepip", "lib2to3", "pydoc_data",
    "site-packages", "dist-packages", "config-3.11-x86_64-linux-gnu", "__pycache__",
    "venv", "turtle.py",
})
DYNLOAD_SKIP = ("_test", "xxlimited", "_xxtest", "_tkinter", "audioop", "nis", "ossaudiodev",
                "_curses", "readline", "_dbm", "_gdbm")
TOOLS = (
    "/usr/bin/bash", "/usr/bin/rpm", "/usr/bin/rpmkeys", "/usr/bin/rpmdb", "/usr/sbin/sfdisk",
    "/usr/sbin/wipefs", "/usr/sbin/blkid", "/usr/sbin/mke2fs", "/usr/sbin/mkfs.fat",
    "/usr/sbin/mkswap", "/usr/bin/efibootmgr", "/usr/sbin/lvm", "/usr/sbin/mdadm",
)
MAX_SIZE = 100 * 1024 * 1024
MOUNTPOINTS = ("dev", "proc", "sys", "tmp", "run", "mnt", "root", "var/tmp", "var/lib",
               "sys/firmware/efi/efivars")


def _ignore_stdlib(directory: str, names: list[str]) -> set[str]:
    skip = {n for n in names if n in STDLIB_SKIP or n.endswith((".pyc", ".exe"))}
    if Path(directory).name == "lib-dynload":
        skip |= {n for n in names if n.startswith(DYNLOAD_SKIP)}
    return skip


def _merged_usr(root: Path) -> None:
    for sub in ("usr/bin", "usr/sbin", "usr/lib", "usr/lib64"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    for top in ("bin", "sbin", "lib", "lib64"):
        (root / top).symlink_to(f"usr/{top}")


def _python(root: Path) -> None:
    shutil.copytree(STDLIB, root / STDLIB.relative_to("/"), symlinks=False,
                    ignore=_ignore_stdlib)
    (root / "usr/bin/python3").symlink_to("python3.11")
    dynload = sorted((root / "usr/lib/python3.11/lib-dynload").glob("*.so"))
    copy_with_libs([PYTHON, *(STDLIB / "lib-dynload" / p.name for p in dynload)], root)
    site = root / SITE
    site.mkdir(parents=True)
    extensions: list[Path] = []
    for name in PURE_PACKAGES:
        spec = importlib.util.find_spec(name)
        if spec is None or not spec.submodule_search_locations:
            raise BuildError(f"Python package {name} not found",
                             hint="pip install -e '.[test]' in the project's .venv")
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, site / name,
                        ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "tests"))
        extensions += sorted(source.rglob("*.so"))  # e.g. charset_normalizer's compiled parts
        bundled = source.with_name(f"{name}.libs")  # a wheel's own libraries (auditwheel)
        if bundled.is_dir():
            shutil.copytree(bundled, site / bundled.name)
    if extensions:
        # Libraries a wheel bundles were copied with it (found by $ORIGIN there); the rest
        # are the host's, copied to their own paths.
        host_libs = [lib for ext in extensions for lib in shared_libraries(ext)
                     if not any(part.endswith(".libs") for part in lib.parts)]
        copy_with_libs(host_libs, root)
    for rel in BUILDISO_MODULES:
        target = site / "buildiso" / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(BUILDISO_SOURCE / rel, target)
    shutil.copytree(GUEST_SOURCE, site / "sampleinstaller",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    # Byte-compile now: stage 2 is read-only and TCG makes compiling at each boot slow.
    run([PYTHON, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash",
         "-s", root, "-p", "/", root / "usr/lib/python3.11", root / SITE])


def _tools(root: Path) -> None:
    copy_with_libs([Path(t) for t in TOOLS], root)
    plugins = Path("/usr/lib/x86_64-linux-gnu/rpm-plugins")
    if plugins.is_dir():
        copy_with_libs(sorted(plugins.glob("*.so")), root)
    shutil.copytree("/usr/lib/rpm", root / "usr/lib/rpm", symlinks=True, dirs_exist_ok=True)
    (root / "etc").mkdir(exist_ok=True)
    shutil.copyfile("/etc/mke2fs.conf", root / "etc/mke2fs.conf")
    # /bin/sh is bash, as RHEL 6's stage 2 links it (scripts/upd-instroot): %pre and
    # %post --nochroot scripts run in a shell that finds commands on PATH, not a busybox
    # sh that would run its own findfs applet although no findfs is installed.
    (root / "usr/bin/sh").symlink_to("bash")
    busybox = root / "usr/bin/busybox"
    shutil.copyfile(BUSYBOX, busybox)
    busybox.chmod(0o755)
    for applet in sorted(set(output([BUSYBOX, "--list-full"]).split())):
        name = Path(applet).name
        if name == "busybox" or name in NOT_IN_RHEL6_STAGE2:
            continue
        sub = "usr/sbin" if "sbin" in Path(applet).parts else "usr/bin"
        target = root / sub / name
        if not target.exists() and not (root / "usr/bin" / name).exists() and not (
            root / "usr/sbin" / name
        ).exists():
            target.symlink_to("/usr/bin/busybox")


def _etc(root: Path) -> None:
    etc = root / "etc"
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\n")
    (etc / "mtab").symlink_to("/proc/self/mounts")
    (root / ".buildstamp").write_text("[Main]\nProduct=buildiso sample installer\n")
    for sub in MOUNTPOINTS:
        (root / sub).mkdir(parents=True, exist_ok=True)


def build_stage2(*, kernel: KernelTree, dest: Path) -> Path:
    """Write images/install.img (squashfs, zstd) to ``dest`` and return ``dest``.

    ``kernel`` is accepted for the pipeline's uniform call; stage 2 uses the kernel
    modules stage 1 loaded, so nothing of it is copied here.
    """
    del kernel
    require_tools("mksquashfs", "ldd")
    for path in (PYTHON, STDLIB, *map(Path, TOOLS), BUSYBOX):
        if not path.exists():
            raise BuildError(f"{path} not found", hint="run ./setup.sh (Debian packages)")
    epoch = str(source_date_epoch())
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="stage2-", dir=dest.parent) as tmp:
        root = Path(tmp) / "root"
        root.mkdir()
        _merged_usr(root)
        _python(root)
        _tools(root)
        _etc(root)
        image = Path(tmp) / "install.img"
        run(["mksquashfs", root, image, "-noappend", "-comp", "zstd", "-all-root",
             "-no-xattrs", "-quiet"],
            env={"SOURCE_DATE_EPOCH": epoch})  # fixes the image and file times
        size = image.stat().st_size
        if size > MAX_SIZE:
            raise BuildError(f"install.img is {size // 2**20} MB, over the 100 MB budget")
        replace_file(image, dest)
    log.info("stage 2 image: %s (%d MiB)", dest, dest.stat().st_size // 2**20)
    return dest
