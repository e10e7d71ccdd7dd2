"""The base install tree: an unpacked RHEL 6 DVD directory or the DVD ISO file itself.

ISO files are read with pycdlib (Rock Ridge names, else Joliet): no root, no loop mount.
Opening checks what the rest of the build relies on: a RHEL 6.x x86_64 tree with parseable
``.treeinfo``/``.discinfo``; which syslinux and which EFI boot loader it carries decides
which menus are rendered.
"""

from __future__ import annotations

import hashlib
import shutil
import struct
from collections.abc import Collection, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO, Literal

import pycdlib
from pycdlib.pycdlibexception import PyCdlibException

from buildiso import tmpdirs
from buildiso.config import EfiFlavour, IsolinuxFlavour
from buildiso.errors import InputError
from buildiso.master.iso import check_complete
from buildiso.master.treeinfo import DiscInfo, TreeInfo
from buildiso.run import run

_CHUNK = 1 << 20


class _DirSource:
    def __init__(self, root: Path) -> None:
        self.root = root
        self.files = sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())
        self.present = frozenset(self.files)

    @contextmanager
    def open(self, rel: str) -> Iterator[IO[bytes]]:
        with (self.root / rel).open("rb") as f:
            yield f

    def close(self) -> None:
        pass


class _IsoSource:
    """Files of an ISO 9660 image, by their Rock Ridge (else Joliet) path."""

    def __init__(self, path: Path) -> None:
        self.path = path
        # Before pycdlib: it reads a hybrid image's backup GPT at the end of the file, so a
        # truncated download would fail there with a bare struct.error.
        check_complete(path)
        self.iso = pycdlib.PyCdlib()
        try:
            self.iso.open(str(path))
        except (PyCdlibException, OSError, ValueError, struct.error) as exc:
            raise InputError(
                f"{path}: not a readable ISO 9660 image ({_first_line(exc)})",
                hint="the base ISO is damaged or incomplete: download it again",
            ) from exc
        try:
            if self.iso.has_rock_ridge():
                self.kind = "rr_path"
            elif self.iso.has_joliet():
                self.kind = "joliet_path"
            else:
                self.kind = "iso_path"
            self._paths = self._walk()
        except BaseException:
            self.iso.close()
            raise
        self.files = sorted(self._paths)
        self.present = frozenset(self.files)

    def _walk(self) -> dict[str, str]:
        """rel path (no leading /, no ;1) → the path pycdlib wants."""
        paths: dict[str, str] = {}
        try:
            for dirpath, _dirs, files in self.iso.walk(**{self.kind: "/"}):
                for name in files:
                    iso_path = f"{dirpath.rstrip('/')}/{name}"
                    rel = iso_path.lstrip("/")
                    if self.kind == "iso_path":
                        rel = rel.split(";", 1)[0].rstrip(".").lower()
                    paths[rel] = iso_path
        except (PyCdlibException, OSError) as exc:
            raise InputError(
                f"{self.path}: unreadable directory tree ({_first_line(exc)})",
                hint="the base ISO is damaged: download it again",
            ) from exc
        return paths

    @contextmanager
    def open(self, rel: str) -> Iterator[IO[bytes]]:
        try:
            with self.iso.open_file_from_iso(**{self.kind: self._paths[rel]}) as f:
                yield f
        except PyCdlibException as exc:
            raise InputError(
                f"{self.path}: cannot read {rel} ({_first_line(exc)})",
                hint="the ISO is damaged: check it with checkisomd5 or fetch it again",
            ) from exc

    def close(self) -> None:
        self.iso.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@dataclass(frozen=True)
class BaseTree:
    """A RHEL 6 install tree, read-only. Use as a context manager (an ISO stays open)."""

    source: Path
    kind: Literal["dir", "iso"]
    label: str
    treeinfo: TreeInfo
    discinfo: DiscInfo
    isolinux_flavour: IsolinuxFlavour
    efi_flavour: EfiFlavour
    _files: _DirSource | _IsoSource = field(repr=False, compare=False)

    def __enter__(self) -> BaseTree:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        self._files.close()

    def iter_files(self) -> list[str]:
        """Every file's path relative to the tree root, sorted."""
        return list(self._files.files)

    def exists(self, rel: str) -> bool:
        return _norm(rel) in self._files.present

    def open(self, rel: str) -> AbstractContextManager[IO[bytes]]:
        """A context manager giving a binary file object for ``rel``."""
        return self._files.open(self._need(rel))

    def read_bytes(self, rel: str) -> bytes:
        with self.open(rel) as f:
            data: bytes = f.read()
            return data

    def sha256(self, rel: str) -> str:
        digest = hashlib.sha256()
        with self.open(rel) as f:
            while chunk := f.read(_CHUNK):
                digest.update(chunk)
        return digest.hexdigest()

    def extract(self, rel: str, dest: Path) -> None:
        """Copy ``rel`` to the file ``dest`` (parents created)."""
        dest.parent.mkdir(parents=True, exist_ok=True)
        with self.open(rel) as src, dest.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)

    def verify_checksums(self, *, may_be_absent: Collection[str] = ()) -> tuple[str, ...]:
        """Check every ``[checksums]`` entry; report every mismatch and missing file at once.

        A listed file in ``may_be_absent`` may be missing from the tree (pungi 2 lists
        ``images/boot.iso`` and masters the DVD without it): those are returned, sorted.
        One that is there must still match.
        """
        problems = []
        absent = []
        for rel, (algo, digest) in sorted(self.treeinfo.checksums.items()):
            if algo != "sha256":
                problems.append(f"{rel}: unsupported checksum type {algo}")
            elif not self.exists(rel) and rel in may_be_absent:
                absent.append(rel)
            elif not self.exists(rel):
                problems.append(f"{rel}: listed in .treeinfo but missing")
            elif self.sha256(rel) != digest:
                problems.append(f"{rel}: sha256 does not match .treeinfo")
        if problems:
            raise InputError(
                f"{self.source}: checksum check failed: " + "; ".join(problems),
                hint="the base was modified or damaged: copy it again from its source",
            )
        return tuple(absent)

    def _need(self, rel: str) -> str:
        key = _norm(rel)
        if key not in self._files.present:
            raise InputError(
                f"{self.source}: {key} not found in the base tree",
                hint="give a complete RHEL 6.10 DVD (ISO file or unpacked tree)",
            )
        return key


def _norm(rel: str) -> str:
    return rel.strip().lstrip("/")


def open_base(path: Path) -> BaseTree:
    """Open a RHEL 6.x x86_64 install tree (directory) or DVD image (ISO file)."""
    if not path.exists():
        raise InputError(f"{path}: base not found", hint="give a RHEL 6.10 DVD ISO or tree")
    files: _DirSource | _IsoSource
    kind: Literal["dir", "iso"]
    if path.is_dir():
        files, kind = _DirSource(path), "dir"
    else:
        files, kind = _IsoSource(path), "iso"
    try:
        return _describe(path, files, kind)
    except BaseException:
        files.close()
        raise


def _describe(path: Path, files: _DirSource | _IsoSource, kind: Literal["dir", "iso"]) -> BaseTree:
    present = files.present
    for meta in (".treeinfo", ".discinfo"):
        if meta not in present:
            raise InputError(
                f"{path}: no {meta} at the top of the tree",
                hint="this is not a RHEL install DVD (or tree) — give the Server DVD",
            )

    def text(rel: str) -> str:
        with files.open(rel) as f:
            data: bytes = f.read()
        return data.decode("utf-8", "replace")

    treeinfo = TreeInfo.parse(text(".treeinfo"), source=f"{path}:.treeinfo")
    discinfo = DiscInfo.parse(text(".discinfo"), source=f"{path}:.discinfo")
    if treeinfo.arch != "x86_64":
        raise InputError(
            f"{path}: a {treeinfo.arch} tree; the gateway needs x86_64",
            hint="use the RHEL 6.10 x86_64 Server DVD",
        )
    if not treeinfo.version.startswith("6."):
        raise InputError(
            f"{path}: RHEL {treeinfo.version} tree; the gateway needs RHEL 6.x",
            hint="use the RHEL 6.10 x86_64 Server DVD",
        )
    if kind == "iso":
        assert isinstance(files, _IsoSource)
        label = files.iso.pvd.volume_identifier.decode("ascii", "replace").rstrip(" \x00")
    else:
        # What the real DVD's volume label is, so a tree gives the same answer as its ISO.
        label = f"RHEL-{treeinfo.version} {treeinfo.variant}.{treeinfo.arch}"
    return BaseTree(
        source=path,
        kind=kind,
        label=label,
        treeinfo=treeinfo,
        discinfo=discinfo,
        isolinux_flavour=_isolinux_flavour(present),
        efi_flavour=_efi_flavour(path, files, present),
        _files=files,
    )


def _isolinux_flavour(present: frozenset[str]) -> IsolinuxFlavour:
    # syslinux 6 splits its core into ldlinux.c32, which every 6.x isolinux.bin loads.
    if "isolinux/ldlinux.c32" in present:
        return IsolinuxFlavour.SYSLINUX6
    return IsolinuxFlavour.SYSLINUX4


def _efi_kind(names: list[str]) -> EfiFlavour | None:
    lower = {n.lower() for n in names}
    if "bootx64.conf" in lower:
        return EfiFlavour.GRUB_LEGACY
    if "grub.cfg" in lower:
        return EfiFlavour.GRUB2
    return None


def _efi_flavour(path: Path, files: _DirSource | _IsoSource, present: frozenset[str]) -> EfiFlavour:
    top = [rel.rsplit("/", 1)[-1] for rel in present if rel.lower().startswith("efi/boot/")]
    flavour = _efi_kind(top)
    if flavour is not None:
        return flavour
    if "images/efiboot.img" in present:
        flavour = _efi_kind(_fat_listing(files, "images/efiboot.img"))
        if flavour is not None:
            return flavour
    raise InputError(
        f"{path}: no EFI boot loader config (EFI/BOOT/BOOTX64.conf or grub.cfg) found",
        hint="the base must be a UEFI-capable RHEL 6 DVD",
    )


def _fat_listing(files: _DirSource | _IsoSource, rel: str) -> list[str]:
    """File names in ``EFI/BOOT`` inside a FAT image (mtools: no mount needed)."""
    with tmpdirs.private_dir("efiboot") as tmp:
        image = Path(tmp) / "efiboot.img"
        with files.open(rel) as src, image.open("wb") as out:
            shutil.copyfileobj(src, out, _CHUNK)
        proc = run(["mdir", "-b", "-i", str(image), "::/EFI/BOOT"], check=False)
    if proc.returncode != 0:
        return []
    return [line.rstrip("/").rsplit("/", 1)[-1] for line in proc.stdout.splitlines()]
