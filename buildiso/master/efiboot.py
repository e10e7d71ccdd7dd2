"""Edit a copy of the base's ``images/efiboot.img`` (a FAT image) without root: mtools.

UEFI firmware booting the ISO from a USB stick reads the EFI boot loader and its config
from this FAT image (the El Torito EFI entry / the GPT/MBR EFI partition), not from the
ISO's ``EFI/BOOT/``; so the rendered EFI menu must be inside it too.

RHEL 6's grub-legacy also reads the kernel and initrd from the device it was loaded from
(docs/real-media.md): from a DVD that is the whole disc, from a ``dd``'d stick the EFI
partition, i.e. this image. So for a grub-legacy base ``rebuild_efiboot`` makes a larger
image holding the kernel and initrd at the paths its menu names, as RHEL's own efidisk.img
does (anaconda's ``scripts/mk-images.efi``).

Reproducible: mcopy leaves the FAT serial and the other files alone, and ``-m`` stamps
the new directory entry with the source file's mtime, which we set to SOURCE_DATE_EPOCH
(with TZ=UTC, since FAT stores local time); mmd takes its date from SOURCE_DATE_EPOCH,
which mtools 4.0.32 honours.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path, PurePosixPath

from buildiso import run
from buildiso.atomicfile import replace_file
from buildiso.errors import BuildError, InputError

_MTOOLS_ENV = {"MTOOLS_SKIP_CHECK": "1", "MTOOLS_NO_VFAT": "0", "TZ": "UTC"}


def _target(relpath: str) -> str:
    parts = PurePosixPath(relpath).parts
    if not parts or any(p in ("..", "/") for p in parts):
        raise BuildError(f"bad path for the EFI boot image: {relpath!r}")
    return "::/" + "/".join(parts)


def read_file(image: Path, relpath: str) -> bytes | None:
    """A file's bytes from the FAT image, or None when it is not there."""
    proc = run.run(
        ["mtype", "-i", image, _target(relpath)], env=_MTOOLS_ENV, check=False, text=False
    )
    if proc.returncode != 0:
        return None
    return proc.stdout  # type: ignore[return-value]


def list_files(image: Path) -> list[str]:
    """Every file path in the FAT image (sorted, relative, '/'-separated)."""
    proc = run.run(["mdir", "-i", image, "-/", "-b", "::/"], env=_MTOOLS_ENV, check=False)
    if proc.returncode != 0:
        # an empty file system: the recursive listing finds nothing to list and fails,
        # the plain one of the root still works
        run.run(["mdir", "-i", image, "-b", "::/"], env=_MTOOLS_ENV)
        return []
    out = proc.stdout
    files = []
    for line in out.splitlines():
        line = line.strip()
        if line.startswith("::/") and not line.endswith("/"):
            files.append(line[3:])
    return sorted(files)


def fat_serial(image: Path) -> bytes:
    """The FAT volume serial (4 bytes) from the boot sector (FAT12/16 or FAT32 layout)."""
    with image.open("rb") as f:
        boot = f.read(512)
    if len(boot) < 512 or boot[510:512] != b"\x55\xaa":
        raise InputError(f"{image}: not a FAT boot sector", hint="is efiboot.img intact?")
    fat32 = int.from_bytes(boot[22:24], "little") == 0  # sectors-per-FAT16 is 0 on FAT32
    offset = 67 if fat32 else 39
    return boot[offset : offset + 4]


def fat_label(image: Path) -> str | None:
    """The volume label in the boot sector (None: unlabelled, "NO NAME")."""
    with image.open("rb") as f:
        boot = f.read(512)
    fat32 = int.from_bytes(boot[22:24], "little") == 0
    offset = 71 if fat32 else 43
    label = boot[offset : offset + 11].decode("ascii", "replace").rstrip(" \x00")
    return None if label in ("", "NO NAME") else label


def boot_file_paths(config: str) -> list[str]:
    """The files a grub-legacy menu's ``kernel`` and ``initrd`` lines load (relative to the
    root device, first use order, each once). grub-legacy syntax: ``kernel [--OPTION...]
    [(DEVICE)]/PATH ARGS``."""
    found: list[str] = []
    for line in config.splitlines():
        words = line.split()
        if not words or words[0] not in ("kernel", "initrd"):
            continue
        path = next((w for w in words[1:] if not w.startswith("--")), None)
        if path is None:
            continue
        if path.startswith("("):
            path = path.partition(")")[2]
        rel = path.lstrip("/")
        if rel and rel not in found:
            found.append(rel)
    return found


def edit_efiboot(*, source: Path, dest: Path, files: Mapping[str, str | bytes], mtime: int) -> None:
    """Copy ``source`` to ``dest`` and put ``files`` (relpath -> content) into the copy.

    Existing files are replaced, missing directories created. ``dest`` appears only when
    every edit worked (written beside it, then renamed).
    """
    if not source.is_file():
        raise InputError(
            f"{source}: EFI boot image missing", hint="the base tree needs images/efiboot.img"
        )
    serial = fat_serial(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="efiboot-", dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name)
        image = tmp / "efiboot.img"
        shutil.copyfile(source, image)
        existing_dirs = {str(PurePosixPath(f).parent) for f in list_files(image)}
        for relpath, content in sorted(files.items()):
            data = content.encode() if isinstance(content, str) else content
            local = tmp / "content"
            local.write_bytes(data)
            os.utime(local, (mtime, mtime))
            _make_dirs(image, PurePosixPath(relpath).parent, existing_dirs, mtime=mtime)
            run.run(["mcopy", "-i", image, "-o", "-m", local, _target(relpath)], env=_MTOOLS_ENV)
            if read_file(image, relpath) != data:
                raise BuildError(f"{relpath} did not land intact in {dest.name}")
        if fat_serial(image) != serial:
            raise BuildError(f"mtools changed the FAT serial of {dest.name}")
        replace_file(image, dest)


def _make_dirs(image: Path, directory: PurePosixPath, existing: set[str], *, mtime: int) -> None:
    """Create ``directory`` and its parents in the image (mmd has no -p)."""
    wanted = [directory, *directory.parents]
    for d in reversed(wanted):
        name = str(d)
        if name in ("", ".") or name in existing:
            continue
        if _dir_exists(image, name):
            existing.add(name)
            continue
        env = {**_MTOOLS_ENV, "SOURCE_DATE_EPOCH": str(mtime)}
        run.run(["mmd", "-i", image, _target(name)], env=env)
        existing.add(name)


def _dir_exists(image: Path, name: str) -> bool:
    proc = run.run(["mdir", "-i", image, "-b", _target(name)], env=_MTOOLS_ENV, check=False)
    return proc.returncode == 0


_MIB = 1024 * 1024


def _image_kib(sizes: list[int]) -> int:
    """Room for files of these sizes: each rounded to 4 KiB clusters, FATs and directories
    in the 1 MiB of slack, rounded up to whole MiB (mkfs.fat -C takes KiB)."""
    payload = sum(-(-size // 4096) * 4096 for size in sizes)
    return (payload // _MIB + 2) * 1024


def rebuild_efiboot(
    *,
    source: Path,
    dest: Path,
    files: Mapping[str, str | bytes],
    add: Mapping[str, Path],
    mtime: int,
) -> None:
    """A new FAT image at ``dest``, as large as needed: every file of ``source`` (its date
    kept), then ``add`` (relpath -> a local file, e.g. the kernel; dated ``mtime`` here)
    and ``files`` (relpath -> content, replacing a file of ``source``). Same volume serial
    and label as ``source``; reproducible (mkfs.fat --invariant, dates from ``mtime``).
    ``dest`` appears only when every file landed intact."""
    if not source.is_file():
        raise InputError(
            f"{source}: EFI boot image missing", hint="the base tree needs images/efiboot.img"
        )
    serial = fat_serial(source)
    label = fat_label(source)
    dest.parent.mkdir(parents=True, exist_ok=True)
    env = {**_MTOOLS_ENV, "SOURCE_DATE_EPOCH": str(mtime)}
    with tempfile.TemporaryDirectory(prefix="efiboot-", dir=dest.parent) as tmp_name:
        tmp = Path(tmp_name)
        wanted: dict[str, Path] = {}
        for rel in list_files(source):  # the base's files keep their FAT dates (-m)
            local = tmp / "base" / rel
            local.parent.mkdir(parents=True, exist_ok=True)
            run.run(["mcopy", "-n", "-m", "-i", source, _target(rel), local], env=env)
            wanted[rel] = local
        for rel, path in sorted(add.items()):
            os.utime(path, (mtime, mtime))  # mcopy -m dates the entry as the file
            wanted[_relpath(rel)] = path
        for i, (rel, content) in enumerate(sorted(files.items())):
            local = tmp / "content" / str(i)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(content.encode() if isinstance(content, str) else content)
            os.utime(local, (mtime, mtime))
            wanted[_relpath(rel)] = local
        image = tmp / "efiboot.img"
        kib = _image_kib([p.stat().st_size for p in wanted.values()])
        mkfs: list[str | Path] = ["mkfs.fat", "--invariant", "-i", serial[::-1].hex()]
        mkfs += ["-C", image, str(kib)]
        if label is not None:
            mkfs[1:1] = ["-n", label]
        run.run(mkfs, env=env)
        existing: set[str] = set()
        for rel, local in wanted.items():
            _make_dirs(image, PurePosixPath(rel).parent, existing, mtime=mtime)
            run.run(["mcopy", "-i", image, "-o", "-m", local, _target(rel)], env=env)
        for rel, local in wanted.items():
            if _fat_sha256(image, rel, tmp / "check") != _sha256(local):
                raise BuildError(f"{rel} did not land intact in {dest.name}")
        if fat_serial(image) != serial:
            raise BuildError(f"mkfs.fat did not keep the FAT serial of {source.name}")
        replace_file(image, dest)


def _relpath(relpath: str) -> str:
    return _target(relpath).removeprefix("::/")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(_MIB):
            digest.update(chunk)
    return digest.hexdigest()


def _fat_sha256(image: Path, relpath: str, scratch: Path) -> str | None:
    scratch.unlink(missing_ok=True)
    proc = run.run(
        ["mcopy", "-n", "-i", image, _target(relpath), scratch], env=_MTOOLS_ENV, check=False
    )
    if proc.returncode != 0:
        return None
    try:
        return _sha256(scratch)
    finally:
        scratch.unlink()
