"""Master the ISO with xorriso: the base (tree or ISO) with a small overlay grafted on top.

Nothing of the base is copied: xorriso reads the base directly (``-map DIR /`` for a tree,
``-indev BASE.iso`` for an ISO) and the overlay directory (only new or changed files) is
mapped over it, replacing files of the same path.

The image streams out of xorriso through a pipe. While writing it to the temporary output
file we compute the implanted MD5 (buildiso.isomd5) in a second thread, so the image is
never read back for it; only the SHA-256 for SHA256SUM needs a read, and that comes from
the page cache.

Layout: ISO 9660 level 3 (files over 4 GiB) + Rock Ridge + Joliet; El Torito BIOS entry
(isolinux.bin, boot-info-table, 4 sectors loaded, catalog isolinux/boot.cat) and EFI entry
(images/efiboot.img); isohybrid MBR + GPT (gpt_basdat) so ``dd`` to USB boots on BIOS and
UEFI. Reproducible: SOURCE_DATE_EPOCH for every date xorriso makes up, and a GPT disk GUID
derived from the inputs (xorriso's default is random).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import logging
import os
import queue
import re
import shlex
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from buildiso import run
from buildiso.errors import BuildError, InputError
from buildiso.isomd5 import Implant, IsoMd5Stream, write_implant

log = logging.getLogger("buildiso.iso")

MAX_LABEL = 32  # ISO 9660 volume identifier
JOLIET_LABEL = 16  # Joliet volume identifier (xorriso truncates; blkid reads the PVD's)
# Debian's isohybrid MBR (package isolinux); used when the base tree brings none.
DEBIAN_ISOHDPFX = Path("/usr/lib/ISOLINUX/isohdpfx.bin")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
_CHUNK = 1 << 20
_QUEUE_DEPTH = 8  # chunks in flight to the MD5 thread: bounds memory to ~8 MiB
_F_SETPIPE_SZ = 1031


def check_volume_label(label: str, *, source: str = "profile") -> None:
    """ISO 9660 allows 32 characters; spaces break the boot arguments (see design.md)."""
    if not label:
        raise InputError(f"{source}: the volume label is empty")
    if len(label) > MAX_LABEL:
        raise InputError(
            f"{source}: volume label {label!r} has {len(label)} characters, "
            f"ISO 9660 allows {MAX_LABEL}",
            hint="shorten volume_label in the profile",
        )
    if not _LABEL_RE.match(label):
        raise InputError(
            f"{source}: volume label {label!r} may only hold A-Z a-z 0-9 _ . -",
            hint="no spaces or colons: the label is passed on the kernel command line",
        )


@dataclass(frozen=True)
class BootLayout:
    """Where the boot files sit in the ISO (RHEL 6 DVD layout)."""

    bios_image: str = "isolinux/isolinux.bin"
    boot_catalog: str = "isolinux/boot.cat"
    efi_image: str = "images/efiboot.img"


@dataclass(frozen=True)
class MasterPlan:
    """Everything xorriso needs; two equal plans give byte-identical images."""

    base: Path  # a directory tree or an ISO file
    overlay: Path  # directory of new/changed files, grafted over the base
    volume_label: str
    hybrid_mbr: Path  # isohdpfx.bin (first 432 bytes go into the MBR)
    gpt_disk_guid: str  # 32 hex digits, derived from the inputs
    source_date_epoch: int
    layout: BootLayout = field(default_factory=BootLayout)

    @property
    def base_is_iso(self) -> bool:
        return self.base.is_file()


@dataclass(frozen=True)
class MasterResult:
    size: int
    implant: Implant
    seconds: float


def gpt_guid_from(seed: bytes) -> str:
    """A GPT disk GUID (32 hex digits, RFC 4122 version 4 bits set) derived from ``seed``."""
    raw = bytearray(hashlib.sha256(b"buildiso-gpt-disk-guid\0" + seed).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def xorriso_argv(plan: MasterPlan) -> list[str]:
    """The xorriso command line (native commands) writing the image to stdout.

    ``-outdev -`` must be the first argument: xorriso only accepts stdout as a start
    argument. A pipe is a sequential drive, so the image starts at LBA 0 with no 64 KiB
    multi-session reserve (what a seekable stdio file would get).
    """
    check_volume_label(plan.volume_label)
    lay = plan.layout
    argv = ["xorriso", "-outdev", "-"]
    if plan.base_is_iso:
        argv += ["-indev", str(plan.base)]
    argv += [
        "-no_rc",
        "-abort_on",
        "FAILURE",
        "-report_about",
        "WARNING",
    ]
    if plan.base_is_iso:
        # Boot records of the base are replaced by ours below.
        argv += ["-boot_image", "any", "discard"]
    argv += [
        "-volid",
        plan.volume_label,
        "-joliet",
        "on",
        "-rockridge",
        "on",
        "-compliance",
        "iso_9660_level=3",
        # No tail padding: the backup GPT must sit in the image's last sector.
        "-padding",
        "0",
        "-volume_date",
        "uuid",
        _uuid_date(plan.source_date_epoch),
    ]
    if not plan.base_is_iso:
        argv += ["-map", str(plan.base), "/"]
    argv += ["-map", str(plan.overlay), "/"]
    argv += [
        "-boot_image", "isolinux", f"bin_path=/{lay.bios_image}",
        "-boot_image", "isolinux", f"cat_path=/{lay.boot_catalog}",
        "-boot_image", "isolinux", "emul_type=no_emulation",
        "-boot_image", "isolinux", "load_size=2048",  # 4 sectors of 512 bytes
        "-boot_image", "isolinux", "boot_info_table=on",
        "-boot_image", "any", "next",
        "-boot_image", "any", f"efi_path=/{lay.efi_image}",
        "-boot_image", "any", "emul_type=no_emulation",
        "-boot_image", "isolinux", f"system_area={plan.hybrid_mbr}",
        "-boot_image", "isolinux", "partition_table=on",
        "-boot_image", "isolinux", "partition_entry=gpt_basdat",
        "-boot_image", "any", f"gpt_disk_guid={plan.gpt_disk_guid}",
    ]  # fmt: skip
    return argv


def _uuid_date(epoch: int) -> str:
    # GRUB's "search --fs-uuid" uses this 16-digit date as the ISO's UUID.
    return time.strftime("%Y%m%d%H%M%S00", time.gmtime(epoch))


def _env(plan: MasterPlan) -> dict[str, str]:
    return {"SOURCE_DATE_EPOCH": str(plan.source_date_epoch), "TZ": "UTC"}


class _Md5Worker(threading.Thread):
    """Hashes chunks handed over by the writer while the writer waits on xorriso."""

    def __init__(self) -> None:
        super().__init__(name="isomd5", daemon=True)
        self.stream = IsoMd5Stream()
        self.chunks: queue.Queue[bytes | None] = queue.Queue(maxsize=_QUEUE_DEPTH)
        self.error: BaseException | None = None

    def run(self) -> None:
        while (chunk := self.chunks.get()) is not None:
            if self.error is None:
                try:
                    self.stream.update(chunk)
                except BaseException as exc:  # noqa: BLE001 - handed to the main thread
                    self.error = exc


def _drain(pipe: object, tail: deque[str]) -> None:
    for raw in iter(pipe.readline, b""):  # type: ignore[attr-defined]
        line = raw.decode("utf-8", "replace").rstrip()
        if line:
            tail.append(line)
            log.debug("xorriso: %s", line)


def _write_all(fd: int, data: memoryview) -> None:
    while len(data):
        written = os.write(fd, data)
        data = data[written:]


def master_iso(
    plan: MasterPlan,
    *,
    dest: Path,
    progress: Callable[[int, int | None], None] | None = None,
) -> MasterResult:
    """Write the image to ``dest`` (created or truncated) with the MD5 implanted.

    ``dest`` should be a temporary name: on any failure it is left for the caller to
    remove (build.py does), and a full disk raises BuildError naming the folder.
    """
    argv = xorriso_argv(plan)
    argv[0] = run.tool_path("xorriso")
    log.debug("running: %s", shlex.join(argv))
    started = time.monotonic()
    env = {**os.environ, "LANG": "C", "LC_ALL": "C", **_env(plan)}
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    assert proc.stdout is not None and proc.stderr is not None
    tail: deque[str] = deque(maxlen=20)
    drainer = threading.Thread(target=_drain, args=(proc.stderr, tail), daemon=True)
    drainer.start()
    worker = _Md5Worker()
    worker.start()
    written = 0
    out_fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        pipe_fd = proc.stdout.fileno()
        try:  # bigger pipe: fewer wake-ups (best effort; the default 64 KiB also works)
            fcntl.fcntl(pipe_fd, _F_SETPIPE_SZ, _CHUNK)
        except OSError:
            pass
        while chunk := os.read(pipe_fd, _CHUNK):
            _write_all(out_fd, memoryview(chunk))
            worker.chunks.put(chunk)
            written += len(chunk)
            if progress is not None:
                progress(written, worker.stream.image_size)
        worker.chunks.put(None)
        worker.join()
        rc = proc.wait()
        drainer.join(timeout=5)
        if rc != 0:
            detail = "\n".join(tail)
            raise BuildError(
                f"xorriso failed (exit code {rc})" + (f":\n{detail}" if detail else "")
            )
        if worker.error is not None:
            raise worker.error
        implant = worker.stream.finish()
        if worker.stream.image_size != written:
            raise BuildError(
                f"xorriso wrote {written} bytes but the volume descriptor says "
                f"{worker.stream.image_size}"
            )
        write_implant(out_fd, implant)
        os.fsync(out_fd)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BuildError(
                f"disk full while writing {dest.name} in {dest.parent} "
                f"({written // 2**20} MiB written)",
                hint="free space there or pass --out to a folder with room",
            ) from exc
        raise
    finally:
        os.close(out_fd)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if worker.is_alive():  # it keeps draining its queue, so this put cannot hang
            worker.chunks.put(None)
            worker.join()
        proc.stdout.close()
        proc.stderr.close()
    return MasterResult(size=written, implant=implant, seconds=time.monotonic() - started)


def sha256_file(path: Path, *, chunk: int = 4 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while block := f.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def el_torito_report(iso: Path) -> str:
    """``xorriso -report_el_torito plain`` (one line per fact)."""
    return _xorriso_report(iso, "-report_el_torito")


def system_area_report(iso: Path) -> str:
    """``xorriso -report_system_area plain``: MBR, GPT (and its CRC check)."""
    return _xorriso_report(iso, "-report_system_area")


def _xorriso_report(iso: Path, command: str) -> str:
    out = run.output(
        ["xorriso", "-no_rc", "-indev", iso, "-report_about", "SORRY", command, "plain"]
    )
    return "\n".join(line for line in out.splitlines() if not line.startswith("xorriso :"))


def hybrid_problems(iso: Path) -> list[str]:
    """Problems an independent reader finds in the hybrid MBR/GPT (empty = fine).

    Two readers: xorriso's own report (says "GPT array CRC wrong" and the like) and
    sgdisk's verifier, of which only the CRC and header findings count: every isohybrid
    image has MBR partitions overlapping the ISO by design, which sgdisk also lists.
    """
    problems: list[str] = []
    report = system_area_report(iso)
    if "GPT" not in report:
        problems.append("no GPT found (xorriso -report_system_area)")
    problems += [
        f"xorriso: {line.strip()}"
        for line in report.splitlines()
        if re.search(r"wrong|damaged|problems", line, re.I)
    ]
    proc = run.run(["sgdisk", "-v", iso], check=False)
    text = (proc.stdout + proc.stderr).replace("\a", "")
    if "Problem opening" in text:
        problems.append(f"sgdisk cannot read {iso.name}")
    problems += [
        f"sgdisk: {line.strip()}"
        for line in text.splitlines()
        if re.search(r"\bCRC\b|self-pointer|doesn't\s+match|header is|too small", line)
    ]
    return problems
