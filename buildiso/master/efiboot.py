"""Edit a copy of the base's ``images/efiboot.img`` (a FAT image) without root: mtools.

UEFI firmware booting the ISO from a USB stick reads the EFI boot loader and its config
from this FAT image (the El Torito EFI entry / the GPT/MBR EFI partition), not from the
ISO's ``EFI/BOOT/``; so the rendered EFI menu must be inside it too.

Reproducible: mcopy leaves the FAT serial and the other files alone, and ``-m`` stamps
the new directory entry with the source file's mtime, which we set to SOURCE_DATE_EPOCH
(with TZ=UTC, since FAT stores local time); mmd takes its date from SOURCE_DATE_EPOCH,
which mtools 4.0.32 honours.
"""

from __future__ import annotations

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
    out = run.output(["mdir", "-i", image, "-/", "-b", "::/"], env=_MTOOLS_ENV)
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
