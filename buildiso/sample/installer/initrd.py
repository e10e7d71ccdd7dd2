"""Stage 1 of the sample installer: the initramfs (isolinux/initrd.img).

busybox-static, the kernel modules the installer and the installed system need (resolved
with kmod's ``modprobe --show-depends`` against the extracted Debian kernel) and ``/init``
(init.sh). The same image boots the installed system when ``root=`` is given.
Written as a reproducible newc cpio (fixed order, owners, times), gzip-compressed (the
Debian kernel has CONFIG_RD_GZIP=y).
"""

from __future__ import annotations

import gzip
import logging
import re
from pathlib import Path

from buildiso.atomicfile import open_atomic
from buildiso.errors import BuildError
from buildiso.run import output, run, tool_path
from buildiso.sample.bincopy import shared_libraries
from buildiso.sample.installer import cpio
from buildiso.sample.kernel import KernelTree
from buildiso.sourcedate import epoch_from_env

log = logging.getLogger(__name__)

INIT_SCRIPT = Path(__file__).with_name("init.sh")
BUSYBOX = Path("/bin/busybox")

# CD/ATA, USB storage (xHCI, EHCI, UHCI, OHCI), virtio and SATA, the file systems of the
# media, of stage 2 and of the installed system, loop for install.img (MACHINE-NOTES), and
# network drivers.
MODULES = (
    "ahci",
    "ata_piix",
    "sr_mod",
    "cdrom",
    "sd_mod",
    "xhci_pci",
    "ehci_pci",
    "uhci_hcd",
    "ohci_pci",
    "usb_storage",
    "uas",
    "virtio_pci",
    "virtio_blk",
    "virtio_scsi",
    "crc32c_intel",
    "crc32c_generic",
    "isofs",
    "ext4",
    "vfat",
    "nls_cp437",
    "nls_iso8859_1",
    "nls_ascii",  # vfat's default iocharset in the Debian kernel (the ESP)
    "nls_utf8",
    "squashfs",
    "loop",
    "efivarfs",
    # software RAID and LVM: the installed system's / may sit on an array or a volume
    "raid1",
    "raid10",
    "raid0",
    "raid456",  # RAID 4, 5 and 6
    "dm_mod",
    # network devices: the boot test's e1000 (and virtio-net), so the installer sees the
    # machine's devices as RHEL 6's loader does (kickstart network lines, ifcfg files)
    "e1000",
    "virtio_net",
)
# Debian's binaries (with their libraries) that assemble arrays and activate volume groups
# before the installed system's root is mounted.
STORAGE_TOOLS = (Path("/usr/sbin/mdadm"), Path("/usr/sbin/lvm"))

# The path may hold spaces (BUILDISO_OUT with a space): up to the first ".ko" that ends it.
_INSMOD = re.compile(r"^insmod (.+?\.ko(?:\.xz|\.zst|\.gz)?)(?=\s|$)")


def source_date_epoch() -> int:
    """File times in the cpio archive: SOURCE_DATE_EPOCH, else 0 (the archive then depends
    on nothing but its contents)."""
    return epoch_from_env() or 0


def ensure_depmod(kernel: KernelTree) -> None:
    """Debian's package ships no modules.dep (postinst makes it); make it once in the tree."""
    if not (kernel.modules_dir / "modules.dep").is_file():
        run(["depmod", "-b", kernel.root, kernel.version])


def module_files(kernel: KernelTree, modules: tuple[str, ...] = MODULES) -> list[Path]:
    """Module files in load order (dependencies first), each once; builtins are skipped."""
    ensure_depmod(kernel)
    ordered: list[Path] = []
    for name in modules:
        text = output(
            ["modprobe", "-d", kernel.root.resolve(), "-S", kernel.version, "--show-depends", name],
            check=False,
        )
        lines = [line.strip() for line in text.splitlines() if line.strip()]
        if not lines:
            raise BuildError(
                f"kernel module {name} not found in {kernel.modules_dir}",
                hint="the sample installer needs it; check the kernel package flavour (-amd64)",
            )
        for line in lines:
            match = _INSMOD.match(line)
            if match is None:
                if line.startswith("builtin "):
                    continue
                raise BuildError(
                    f"modprobe --show-depends {name}: unexpected line {line!r}",
                    hint="report this: the initrd's module list would be incomplete",
                )
            path = Path(match.group(1))
            if path not in ordered:
                ordered.append(path)
    return ordered


def _busybox_entries() -> list[cpio.Entry]:
    busybox = Path(tool_path(str(BUSYBOX)))
    ldd = run(["ldd", busybox], check=False)
    if "not a dynamic" not in ldd.stdout + ldd.stderr:
        raise BuildError(f"{busybox} is not the static busybox", hint="install busybox-static")
    entries = [cpio.file("bin/busybox", busybox.read_bytes(), 0o755)]
    for applet in sorted(set(output([busybox, "--list-full"]).split())):
        if applet in ("bin/busybox", "busybox"):
            continue  # it lists itself: a symlink onto itself would replace the binary
        entries.append(cpio.symlink(applet, "/bin/busybox"))
    return entries


def _storage_tool_entries() -> list[cpio.Entry]:
    """mdadm and lvm at their Debian paths (usr/sbin), their libraries at theirs."""
    for tool in STORAGE_TOOLS:
        if not tool.is_file():
            raise BuildError(f"{tool} not found", hint="run ./setup.sh (Debian lvm2, mdadm)")
    files = sorted({*STORAGE_TOOLS, *(lib for t in STORAGE_TOOLS for lib in shared_libraries(t))})
    dirs: set[str] = set()
    for path in files:
        parent = path.relative_to("/").parent
        while parent != Path("."):
            dirs.add(parent.as_posix())
            parent = parent.parent
    made_elsewhere = {"lib", "usr", "usr/sbin", "usr/bin"}  # initrd_entries' own
    entries = [cpio.directory(d) for d in sorted(dirs - made_elsewhere)]
    for path in files:
        entries.append(
            cpio.file(path.relative_to("/").as_posix(), path.resolve().read_bytes(), 0o755)
        )
    return entries


def initrd_entries(kernel: KernelTree) -> list[cpio.Entry]:
    entries = [
        cpio.directory(d)
        for d in (
            "bin",
            "dev",
            "etc",
            "lib",
            "media",
            "mnt",
            "proc",
            "run",
            "sbin",
            "stage2",
            "sys",
            "sysroot",
            "tmp",
            "usr",
            "usr/bin",
            "usr/sbin",
        )
    ]
    # The kernel opens /dev/console for init before devtmpfs is mounted.
    entries.append(cpio.char_device("dev/console", 5, 1))
    entries.append(cpio.file("init", INIT_SCRIPT.read_bytes(), 0o755))
    entries += _busybox_entries()
    entries += _storage_tool_entries()
    load_list: list[str] = []
    dirs: set[str] = set()
    for path in module_files(kernel):
        rel = path.resolve().relative_to(kernel.root.resolve()).as_posix()
        entries.append(cpio.file(rel, path.read_bytes()))
        load_list.append("/" + rel)
        parent = Path(rel).parent
        while parent != Path("."):
            dirs.add(parent.as_posix())
            parent = parent.parent
    entries += [cpio.directory(d) for d in sorted(dirs - {"lib"})]
    entries.append(cpio.file("etc/modules.load", ("\n".join(load_list) + "\n").encode()))
    return entries


def build_initrd(*, kernel: KernelTree, dest: Path) -> Path:
    """Write the stage 1 initramfs to ``dest`` (gzip newc cpio) and return ``dest``."""
    data = cpio.archive(initrd_entries(kernel), mtime=source_date_epoch())
    dest.parent.mkdir(parents=True, exist_ok=True)
    with (
        open_atomic(dest) as raw,
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0) as gz,
    ):
        gz.write(data)
    log.info("stage 1 initramfs: %s (%d KiB)", dest, dest.stat().st_size // 1024)
    return dest
