"""The implanted ISO MD5 that anaconda's media check (``checkisomd5``) verifies.

Same format and same arithmetic as isomd5sum's ``implantisomd5`` (rhinstaller/isomd5sum,
libimplantisomd5.c): an MD5 over the image minus its last 15 sectors, taken with the
Primary Volume Descriptor's 512-byte Application Use field blanked to spaces, plus 20
"fragment sums" (3 hex characters each) taken at fixed points, all written as text into
that Application Use field.

Why our own copy of the arithmetic: ``implantisomd5`` re-reads the whole finished image.
``IsoMd5Stream`` is fed the bytes while xorriso writes them, so the image is read once.
The result is byte-identical to what ``implantisomd5`` writes (tests/master/test_isomd5.py
checks that, and that ``checkisomd5`` passes).
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path

from buildiso.errors import BuildError

SECTOR = 2048
PVD_OFFSET = 16 * SECTOR
# Offsets inside the PVD (ECMA-119 8.4): volume space size (both-endian; big-endian half
# at 84) and the Application Use field at 883.
_SIZE_OFFSET = 84
_APPDATA_OFFSET = 883
APPDATA_SIZE = 512
APPDATA_POSITION = PVD_OFFSET + _APPDATA_OFFSET
SKIPSECTORS = 15
FRAGMENT_COUNT = 20
_FRAGMENT_SUM_SIZE = 60
_FRAGMENT_CHARS = _FRAGMENT_SUM_SIZE // FRAGMENT_COUNT
# implantisomd5 reads 16 sectors at a time and takes a fragment sum after the read in
# which the fragment number changes: the sums depend on this read size.
_READ_SIZE = 16 * SECTOR
_HEAD_SIZE = PVD_OFFSET + SECTOR


@dataclass(frozen=True)
class Implant:
    """What goes into the Application Use field, and the values it carries."""

    md5: str
    fragment_sums: str
    appdata: bytes


def _fragment_points(total: int) -> list[int]:
    """Byte positions after which implantisomd5 takes a fragment sum."""
    points: list[int] = []
    previous = 0
    offset = 0
    while offset < total:
        current = offset * (FRAGMENT_COUNT + 1) // total
        end = min(offset + _READ_SIZE, total)
        if current != previous:
            points.append(end)
            previous = current
        offset = end
    return points


def _fragment_chars(digest: bytes) -> str:
    # isomd5sum prints each byte with "%01x" and keeps the first character: the high
    # nibble, or the low one when the high nibble is zero.
    return "".join(format(b, "x")[0] for b in digest[:_FRAGMENT_CHARS])


def volume_size(pvd: bytes) -> int:
    """The image size in bytes recorded in a Primary Volume Descriptor sector."""
    if len(pvd) < SECTOR or pvd[0] != 1 or pvd[1:6] != b"CD001":
        raise BuildError("no ISO 9660 primary volume descriptor at sector 16")
    return int.from_bytes(pvd[_SIZE_OFFSET : _SIZE_OFFSET + 4], "big") * SECTOR


def build_appdata(*, md5: str, fragment_sums: str, supported: bool = False) -> bytes:
    text = (
        f"ISO MD5SUM = {md5};SKIPSECTORS = {SKIPSECTORS};RHLISOSTATUS={int(supported)};"
        f"FRAGMENT SUMS = {fragment_sums};FRAGMENT COUNT = {FRAGMENT_COUNT};"
        "THIS IS NOT THE SAME AS RUNNING MD5SUM ON THIS ISO!!"
    ).encode("ascii")
    if len(text) >= APPDATA_SIZE:  # implantisomd5 refuses this too
        raise BuildError("implanted MD5 text does not fit the Application Use field")
    return text.ljust(APPDATA_SIZE, b" ")


class IsoMd5Stream:
    """Feed the image's bytes in order with ``update``; ``finish`` gives the implant.

    The PVD (sector 16) arrives in the first 34 KiB; until then bytes are held back so
    the Application Use field can be blanked before hashing and the size read.
    """

    def __init__(self) -> None:
        self._md5 = hashlib.md5(usedforsecurity=False)
        self._head = bytearray()
        self._hashed = 0  # bytes fed to the MD5 so far
        self._total: int | None = None
        self._points: list[int] = []
        self._sums: list[str] = []

    @property
    def image_size(self) -> int | None:
        """Size recorded in the PVD (None until sector 16 has been seen)."""
        return None if self._total is None else self._total + SKIPSECTORS * SECTOR

    def update(self, data: bytes | memoryview) -> None:
        if self._total is None:
            self._head += data
            if len(self._head) < _HEAD_SIZE:
                return
            head = self._head
            self._head = bytearray()
            size = volume_size(bytes(head[PVD_OFFSET:_HEAD_SIZE]))
            if size <= SKIPSECTORS * SECTOR:
                raise BuildError(f"ISO image too small for an implanted MD5 ({size} bytes)")
            self._total = size - SKIPSECTORS * SECTOR
            self._points = _fragment_points(self._total)
            head[APPDATA_POSITION : APPDATA_POSITION + APPDATA_SIZE] = b" " * APPDATA_SIZE
            self._feed(memoryview(head))
            return
        self._feed(memoryview(data))

    def _feed(self, view: memoryview) -> None:
        assert self._total is not None
        view = view[: max(0, self._total - self._hashed)]
        while len(view):
            if self._points:
                take = min(len(view), self._points[0] - self._hashed)
            else:
                take = len(view)
            self._md5.update(view[:take])
            self._hashed += take
            view = view[take:]
            if self._points and self._hashed == self._points[0]:
                self._points.pop(0)
                self._sums.append(_fragment_chars(self._md5.copy().digest()))

    def finish(self) -> Implant:
        if self._total is None or self._hashed != self._total:
            raise BuildError(
                "the ISO image ended early: the implanted MD5 cannot be computed "
                f"({self._hashed} of {self._total or '?'} bytes)"
            )
        md5 = self._md5.hexdigest()
        sums = "".join(self._sums)
        return Implant(
            md5=md5, fragment_sums=sums, appdata=build_appdata(md5=md5, fragment_sums=sums)
        )


def write_implant(fd: int, implant: Implant) -> None:
    """Write the implant into an open image (read-write fd) at the PVD's field."""
    written = os.pwrite(fd, implant.appdata, APPDATA_POSITION)
    if written != APPDATA_SIZE:
        raise BuildError("short write while implanting the ISO MD5")


def implant_file(path: Path, *, chunk: int = 1 << 20) -> Implant:
    """Compute and implant the MD5 of an existing image (like ``implantisomd5 --force``)."""
    stream = IsoMd5Stream()
    with path.open("r+b") as f:
        while block := f.read(chunk):
            stream.update(block)
        implant = stream.finish()
        write_implant(f.fileno(), implant)
    return implant


def read_implant(path: Path) -> str | None:
    """The implanted text in an image's PVD, or None when the field is blank."""
    with path.open("rb") as f:
        f.seek(APPDATA_POSITION)
        raw = f.read(APPDATA_SIZE)
    text = raw.decode("ascii", "replace").strip(" \x00")
    return text or None
