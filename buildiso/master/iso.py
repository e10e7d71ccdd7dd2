"""Master the ISO with xorriso: the base (tree or ISO) with a small overlay grafted on top.

Nothing of the base is copied: xorriso reads the base directly (``-map DIR /`` for a tree,
``-indev BASE.iso`` for an ISO) and the overlay directory (only new or changed files) is
mapped over it, replacing files of the same path.

xorriso writes the temporary output file; we follow it as it grows and compute the
implanted MD5 (buildiso.master.isomd5) from the page cache meanwhile, so the image is never read
back for it (implantisomd5 would re-read it all). The SHA-256 for SHA256SUM covers the
implanted bytes, so it needs one read of the final image, from the page cache through mmap,
overlapping the fsync (buildiso.master.imagestream says why it cannot be the same pass). That
read also checks, block by block (CRC-32), that the bytes on disk are the bytes the MD5 was
taken from.

Layout: ISO 9660 level 3 (files over 4 GiB) + Rock Ridge + Joliet; El Torito BIOS entry
(isolinux.bin, boot-info-table, 4 sectors loaded, catalog isolinux/boot.cat) and EFI entry
(images/efiboot.img); isohybrid MBR + GPT (gpt_basdat) so ``dd`` to USB boots on BIOS and
UEFI. Reproducible: SOURCE_DATE_EPOCH for every date xorriso makes up, and a GPT disk GUID
derived from the inputs (xorriso's default is random).
"""

from __future__ import annotations

import errno
import hashlib
import logging
import os
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from buildiso import run
from buildiso.errors import BuildError, InputError
from buildiso.master import imagestream
from buildiso.master.isomd5 import (
    APPDATA_POSITION,
    APPDATA_SIZE,
    Implant,
    IsoMd5Stream,
    read_implant,
    volume_size,
    write_implant,
)

log = logging.getLogger(__name__)

MAX_LABEL = 32  # ISO 9660 volume identifier
JOLIET_LABEL = 16  # Joliet volume identifier (xorriso truncates; blkid reads the PVD's)
# Debian's isohybrid MBR (package isolinux); used when the base tree brings none.
DEBIAN_ISOHDPFX = Path("/usr/lib/ISOLINUX/isohdpfx.bin")
_LABEL_RE = re.compile(r"^[A-Za-z0-9_.-]+$")
# xorriso runs at a lower priority than the MD5 following it: the MD5 is the critical path
# (it must see every byte, ~0.7 GB/s on one core), and xorriso's two busy threads at equal
# priority would take more than one core and run ahead of it, leaving the MD5 a long tail
# after xorriso is done with one core idle. At +6, the MD5 ran a median 160 MiB behind at
# xorriso's end instead of 796 MiB (1.9 GB image, 6 interleaved runs each, load 5-10).
XORRISO_NICE = 6


def check_volume_label(label: str, *, source: str = "profile") -> None:
    """ISO 9660 allows 32 characters; spaces break the boot arguments (see design.md)."""
    if not label:
        raise InputError(f"{source}: the volume label is empty", hint="set [product] volume_label")
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
    # base files left out of the image (master/pruning.py), ISO paths without the leading /
    remove: tuple[str, ...] = ()

    @property
    def base_is_iso(self) -> bool:
        return self.base.is_file()


@dataclass(frozen=True)
class MasterResult:
    """The image as written: its size, the implanted MD5, the SHA-256 of its final bytes
    (checked to be the bytes the MD5 was taken from), and how the MD5 kept up with xorriso."""

    size: int
    implant: Implant
    sha256: str
    seconds: float
    follow: imagestream.FollowStats


def gpt_guid_from(seed: bytes) -> str:
    """A GPT disk GUID (32 hex digits, RFC 4122 version 4 bits set) derived from ``seed``."""
    raw = bytearray(hashlib.sha256(b"buildiso-gpt-disk-guid\0" + seed).digest()[:16])
    raw[6] = (raw[6] & 0x0F) | 0x40
    raw[8] = (raw[8] & 0x3F) | 0x80
    return raw.hex()


def xorriso_argv(plan: MasterPlan, *, outdev: Path) -> list[str]:
    """The xorriso command line (native commands) writing the image to ``outdev``.

    ``no_emul_toc``: without it xorriso treats a regular file as multi-session media and
    starts the image at LBA 32 behind a 64 KiB table-of-content emulation.
    ``-stdio_sync off``: by default xorriso fsyncs the output file every 16 MiB and waits
    on the disk each time (115 times for 1.8 GB; xorriso alone on that tree, medians of
    3: 7.5 s wall and 2.6 s system time with, 4.3 s and 1.7 s without). master_iso
    fsyncs the image once, overlapping the final read. The bytes are the same either way
    (tests/master/test_iso.py compares them).
    """
    check_volume_label(plan.volume_label)
    lay = plan.layout
    argv = ["xorriso", "-outdev", str(outdev)]
    if plan.base_is_iso:
        argv += ["-indev", str(plan.base)]
    # fmt: off
    argv += [
        "-no_rc",
        "-abort_on", "FAILURE",
        "-report_about", "WARNING",
        "-stdio_sync", "off",
    ]
    if plan.base_is_iso:
        # Boot records of the base are replaced by ours below.
        argv += ["-boot_image", "any", "discard"]
    argv += [
        "-volid", plan.volume_label,
        "-joliet", "on",
        "-rockridge", "on",
        "-compliance", "iso_9660_level=3:no_emul_toc",
        # No tail padding: the backup GPT must sit in the image's last sector.
        "-padding", "0",
        "-volume_date", "uuid", _uuid_date(plan.source_date_epoch),
    ]
    # fmt: on
    if not plan.base_is_iso:
        argv += ["-map", str(plan.base), "/"]
    argv += ["-map", str(plan.overlay), "/"]
    if plan.remove:
        # literal paths (no wildcards); a path that is not there is an error (SORRY, exit 32)
        argv += ["-iso_rr_pattern", "off", "-rm", *(f"/{rel}" for rel in plan.remove), "--"]
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


_DISK_FULL = re.compile(r"No space left on device|exceeds free space on media", re.I)


def master_iso(
    plan: MasterPlan,
    *,
    dest: Path,
    progress: Callable[[int, int | None], None] | None = None,
    verifiers: Sequence[imagestream.Consumer] = (),
) -> MasterResult:
    """Write the image to ``dest`` (must be a new path) with the MD5 implanted; return its
    size, implant and the SHA-256 of the final bytes.

    xorriso writes ``dest`` itself, front to back with plain write() calls (libburn's
    stdio output; "no_emul_toc" keeps the image at LBA 0, byte-identical to what it
    streams to a pipe). We follow the growing file and take the MD5 (and a CRC-32 per
    block) from the page cache while xorriso writes the rest
    (buildiso.master.imagestream), implant it, then read the final image once for its
    SHA-256, its block CRCs (BuildError unless they are the followed ones: the implanted
    MD5 would not describe the image) and ``verifiers``, while the fsync runs. ``dest``
    is left for the caller to remove on failure (the scratch folder); a full disk raises
    BuildError naming the folder.
    """
    argv = xorriso_argv(plan, outdev=dest)
    if dest.exists():  # xorriso would take an existing image as media to append to
        dest.unlink()
    started = time.monotonic()
    stream = IsoMd5Stream()
    guarded = _Guarded(stream)
    written = _block_sums()
    hashed = 0
    try:
        with run.spawn(argv, env=_env(plan), nice=XORRISO_NICE) as xorriso:
            followed = imagestream.follow(
                dest,
                finished=lambda: xorriso.poll() is not None,
                consumers=[guarded, written],
                expected_size=lambda: stream.image_size,
                progress=progress,
            )
            hashed = followed.size
            rc = xorriso.wait()
            detail = xorriso.stderr_tail()
        if rc != 0 and _DISK_FULL.search(detail):
            raise BuildError(
                f"disk full while writing {dest.name} in {dest.parent} "
                f"({hashed // 2**20} MiB written)",
                hint="free space there or pass --out to a folder with room",
            )
        if rc != 0:
            raise BuildError(
                f"xorriso failed (exit code {rc})" + (f":\n{detail}" if detail else "")
            )
        if guarded.error is not None:
            raise guarded.error
        implant = stream.finish()
        if stream.image_size != hashed:
            raise BuildError(
                f"xorriso wrote {hashed} bytes but the volume descriptor says {stream.image_size}"
            )
        sha256 = _implant_and_hash(dest, implant, written=written, verifiers=verifiers)
    except OSError as exc:
        if exc.errno == errno.ENOSPC:
            raise BuildError(
                f"disk full while writing {dest.name} in {dest.parent}",
                hint="free space there or pass --out to a folder with room",
            ) from exc
        raise
    return MasterResult(
        size=hashed, implant=implant, sha256=sha256, seconds=time.monotonic() - started,
        follow=followed,
    )  # fmt: skip


def _block_sums() -> imagestream.BlockSums:
    # The implant field is blank while hashed and carries the implant once final.
    return imagestream.BlockSums(masked=range(APPDATA_POSITION, APPDATA_POSITION + APPDATA_SIZE))


class _Guarded:
    """Feeds IsoMd5Stream until it refuses the bytes (not an ISO, too small), then keeps
    the error for after xorriso's own verdict, which says more when xorriso failed."""

    def __init__(self, stream: IsoMd5Stream) -> None:
        self.stream = stream
        self.error: BuildError | None = None

    def update(self, data: bytes | memoryview, /) -> None:
        if self.error is None:
            try:
                self.stream.update(data)
            except BuildError as exc:
                self.error = exc


def _implant_and_hash(
    dest: Path,
    implant: Implant,
    *,
    written: imagestream.BlockSums,
    verifiers: Sequence[imagestream.Consumer],
) -> str:
    """Implant, then fsync (one thread, waiting on the disk) while the final bytes are
    read for the SHA-256 and the landed-bytes check (from the page cache): both overlap."""
    landed = _block_sums()
    out_fd = os.open(dest, os.O_WRONLY)
    try:
        write_implant(out_fd, implant)
        synced: list[BaseException] = []
        started = time.monotonic()
        took: dict[str, float] = {}

        def sync() -> None:
            try:
                os.fsync(out_fd)
            except OSError as exc:
                synced.append(exc)
            took["fsync"] = time.monotonic() - started

        syncer = threading.Thread(target=sync, name="fsync")
        syncer.start()
        try:
            sha256 = imagestream.final_digests(dest, extra=[landed, *verifiers])
            took["read"] = time.monotonic() - started
        finally:
            syncer.join()
        if synced:
            raise synced[0]
        log.debug("final read (SHA-256, CRCs) %.2f s, fsync %.2f s", took["read"], took["fsync"])
    finally:
        os.close(out_fd)
    imagestream.check_landed(dest, hashed=written.sums(), landed=landed.sums())
    if bytes(landed.masked_bytes) != implant.appdata:
        raise BuildError(f"{dest.name}: the implanted MD5 text is not the one written")
    return sha256


def sha256_file(
    path: Path,
    *,
    chunk: int = 4 << 20,
    progress: Callable[[int, int | None], None] | None = None,
) -> str:
    digest = hashlib.sha256()
    total = path.stat().st_size if progress is not None else None
    done = 0
    buffer = bytearray(min(chunk, max(path.stat().st_size, 1)))  # one buffer, reused
    view = memoryview(buffer)
    with path.open("rb", buffering=0) as f:
        while size := f.readinto(buffer):
            digest.update(view[:size])
            done += size
            if progress is not None:
                progress(done, total)
    return digest.hexdigest()


def implanted_md5(image: Path) -> tuple[str | None, str]:
    """The MD5 an image carries (None: none implanted) and ``checkisomd5``'s verdict:
    "absent", "pass" or "FAIL"."""
    text = read_implant(image)
    if text is None or "ISO MD5SUM = " not in text:
        return None, "absent"
    md5 = text.split("ISO MD5SUM = ", 1)[1][:32]
    proc = run.run(["checkisomd5", str(image)], check=False)
    return md5, "pass" if proc.returncode == 0 else "FAIL"


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


def check_complete(image: Path) -> None:
    """Refuse a truncated ISO file before any ISO reader opens it.

    pycdlib parses a hybrid image's backup GPT at the end of the file, so a truncated
    download makes it fail with a bare struct.error; the volume size in the PVD
    (sector 16) says how long the file must be.
    """
    with image.open("rb") as f:
        f.seek(16 * 2048)
        pvd = f.read(2048)
    try:
        size = volume_size(pvd)
    except BuildError:
        raise InputError(
            f"{image}: not an ISO 9660 image (no primary volume descriptor)",
            hint="give a RHEL 6.10 DVD ISO or an unpacked tree",
        ) from None
    actual = image.stat().st_size
    if actual < size:
        raise InputError(
            f"{image}: truncated ISO: {actual} bytes, its volume descriptor says {size}",
            hint="the download or copy did not finish: fetch or copy the ISO again",
        )
