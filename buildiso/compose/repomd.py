"""``repodata/repomd.xml``: a repository's index of metadata files, read into typed values, and
each file it lists checked against its checksum before anything reads it.

repomd.xml gives, for each metadata file (primary, filelists, other, their sqlite forms,
comps), where it is, its size and its checksum; yum refuses a metadata file whose
checksum differs, and so does buildiso: a damaged or re-compressed ``primary.xml.gz`` is
one line naming the file, never a decompression traceback, and never read at all.

Every read is bounded: repomd.xml itself (``MAX_REPOMD_BYTES``), each listed file
(``MAX_METADATA_BYTES``, checked against the size repomd lists before it is read) and what
a compressed file expands to (``MAX_OPEN_BYTES``, counted while it streams: a small
"decompression bomb" is refused, not expanded into memory).
"""

from __future__ import annotations

import bz2
import hashlib
import lzma
import posixpath
import re
import xml.etree.ElementTree as ET
import zlib
from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import IO, Protocol, runtime_checkable

from buildiso.errors import InputError

REPOMD = "repodata/repomd.xml"
# A RHEL 6.10 DVD's repomd.xml is ~3 KB, its filelists ~7 MB (gzip) and ~80 MB open.
MAX_REPOMD_BYTES = 1024 * 1024
MAX_METADATA_BYTES = 512 * 1024 * 1024
MAX_OPEN_BYTES = 1024 * 1024 * 1024
_CHUNK = 1 << 20
_NS = "{http://linux.duke.edu/metadata/repo}"
# repomd's checksum type -> hashlib's name and the hex length ("sha" is createrepo's SHA-1)
_CHECKSUMS = {"sha": ("sha1", 40), "sha1": ("sha1", 40), "sha224": ("sha224", 56),
              "sha256": ("sha256", 64), "sha384": ("sha384", 96), "sha512": ("sha512", 128),
              "md5": ("md5", 32)}  # fmt: skip
_DATA_TYPE = re.compile(r"[a-z][a-z0-9_]{0,31}")
_REMAKE = "the repository metadata is damaged: copy it again or re-run createrepo_c"


class Reader(Protocol):
    def read_bytes(self, rel: str) -> bytes: ...

    def exists(self, rel: str) -> bool: ...


@runtime_checkable
class _Opener(Protocol):
    def open(self, rel: str) -> AbstractContextManager[IO[bytes]]: ...


def read_bounded(reader: Reader, rel: str, limit: int) -> bytes:
    """``rel``'s bytes, refused once they pass ``limit`` (read in chunks where ``reader`` can
    open files, as a base tree or a folder can)."""
    if not isinstance(reader, _Opener):
        data = reader.read_bytes(rel)
    else:
        with reader.open(rel) as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        raise InputError(
            f"{rel}: larger than {limit // 2**20} MiB", hint=f"{_REMAKE} (is it the right file?)"
        )
    return data


@dataclass(frozen=True)
class MetadataFile:
    """One ``<data>`` entry of repomd.xml."""

    type: str  # primary, filelists, other, primary_db, group, group_gz, ...
    href: str  # from the repository's root, e.g. repodata/<sum>-primary.xml.gz
    algorithm: str  # hashlib's name
    checksum: str  # lower-case hex
    size: int | None  # the file's size, when listed


@dataclass(frozen=True)
class RepoMd:
    """A parsed repomd.xml; ``where`` is the repository's folder in the tree ("" or "cs-repo/")."""

    where: str
    files: tuple[MetadataFile, ...]

    def get(self, data_type: str) -> MetadataFile | None:
        return next((f for f in self.files if f.type == data_type), None)

    def path(self, entry: MetadataFile) -> str:
        return self.where + entry.href


def read_repomd(reader: Reader, where: str = "") -> RepoMd:
    """The repository under ``where`` (``""`` or ``"cs-repo/"``): its repomd.xml, checked."""
    rel = where + REPOMD
    if not reader.exists(rel):
        raise InputError(
            f"{rel} not found", hint="the tree has no yum repository there: is it an install tree?"
        )
    try:
        root = ET.fromstring(read_bounded(reader, rel, MAX_REPOMD_BYTES))
    except ET.ParseError as exc:
        raise InputError(f"{rel}: not valid XML ({exc})", hint="regenerate the repodata") from exc
    files: list[MetadataFile] = []
    for index, data in enumerate(root.findall(f"{_NS}data")):
        files.append(_entry(rel, index, data))
    types = [f.type for f in files]
    twice = sorted({t for t in types if types.count(t) > 1})
    if twice:
        raise InputError(f"{rel}: lists {', '.join(twice)} metadata twice", hint=_REMAKE)
    return RepoMd(where=where, files=tuple(files))


def _entry(rel: str, index: int, data: ET.Element) -> MetadataFile:
    data_type = data.get("type") or ""
    key = f"{rel}: <data type={data_type!r}>" if data_type else f"{rel}: <data> #{index + 1}"
    if not _DATA_TYPE.fullmatch(data_type):
        raise InputError(f"{key}: not a metadata type name", hint=_REMAKE)
    location = data.find(f"{_NS}location")
    href = location.get("href", "") if location is not None else ""
    parts = href.split("/")
    if (not href or href != href.strip() or href.startswith("/") or ".." in parts
            or posixpath.normpath(href) != href):  # fmt: skip
        raise InputError(f"{key}: location {href[:80]!r} is not a path inside the repository",
                         hint=_REMAKE)  # fmt: skip
    _refuse_zstd(href)
    checksum = data.find(f"{_NS}checksum")
    kind = checksum.get("type", "") if checksum is not None else ""
    value = (checksum.text or "").strip().lower() if checksum is not None else ""
    if kind not in _CHECKSUMS:
        raise InputError(
            f"{key}: checksum type {kind[:20]!r} (known: {', '.join(sorted(_CHECKSUMS))})",
            hint=_REMAKE,
        )
    algorithm, length = _CHECKSUMS[kind]
    if not re.fullmatch(f"[0-9a-f]{{{length}}}", value):
        raise InputError(f"{key}: malformed {kind} checksum", hint=_REMAKE)
    size_el = data.find(f"{_NS}size")
    size_text = (size_el.text or "").strip() if size_el is not None else ""
    if size_text and not re.fullmatch(r"[0-9]{1,12}", size_text):
        raise InputError(f"{key}: size {size_text[:20]!r} is not a byte count", hint=_REMAKE)
    return MetadataFile(
        type=data_type, href=href, algorithm=algorithm, checksum=value,
        size=int(size_text) if size_text else None,
    )  # fmt: skip


def read_verified(reader: Reader, repomd: RepoMd, entry: MetadataFile) -> bytes:
    """The bytes of a listed metadata file, read bounded and checked against repomd.xml."""
    rel = repomd.path(entry)
    index = repomd.where + REPOMD
    if not reader.exists(rel):
        raise InputError(f"{rel}: listed in {index} but missing", hint=_REMAKE)
    if entry.size is not None and entry.size > MAX_METADATA_BYTES:
        raise InputError(f"{rel}: {index} says {entry.size} bytes, more than "
                         f"{MAX_METADATA_BYTES // 2**20} MiB", hint=_REMAKE)  # fmt: skip
    data = read_bounded(reader, rel, MAX_METADATA_BYTES)
    if hashlib.new(entry.algorithm, data).hexdigest() != entry.checksum:
        raise InputError(f"{rel}: {entry.algorithm} does not match {index}", hint=_REMAKE)
    if entry.size is not None and len(data) != entry.size:
        raise InputError(f"{rel}: {len(data)} bytes, {index} says {entry.size}", hint=_REMAKE)
    return data


def verify_all(reader: Reader, repomd: RepoMd) -> None:
    """Every file repomd.xml lists: present, bounded, its checksum right; all problems at once."""
    problems = []
    for entry in repomd.files:
        try:
            read_verified(reader, repomd, entry)
        except InputError as exc:
            problems.append(exc.message)
    if problems:
        raise InputError("; ".join(problems), hint=_REMAKE)


def open_chunks(name: str, data: bytes) -> Iterator[bytes]:
    """``data`` decompressed as ``name``'s suffix says (gz, xz, bz2; else as it is), in
    chunks, refused past ``MAX_OPEN_BYTES`` or when damaged or truncated."""
    _refuse_zstd(name)
    total = 0
    for chunk in _chunks(name, data):
        total += len(chunk)
        if total > MAX_OPEN_BYTES:
            raise InputError(f"{name}: expands to more than {MAX_OPEN_BYTES // 2**20} MiB",
                             hint=_REMAKE)  # fmt: skip
        yield chunk


def _refuse_zstd(name: str) -> None:
    if name.endswith((".zst", ".zck")):
        raise InputError(
            f"{name}: zstd/zchunk metadata cannot be read by RHEL 6 yum",
            hint="regenerate the repository with createrepo_c --compatibility",
        )


def open_bytes(name: str, data: bytes) -> bytes:
    return b"".join(open_chunks(name, data))


def _chunks(name: str, data: bytes) -> Iterator[bytes]:
    try:
        if name.endswith(".gz"):
            yield from _gzip_chunks(data)
        elif name.endswith((".xz", ".bz2")):
            yield from _stream_chunks(name, data)
        else:
            yield data
    except (OSError, EOFError, zlib.error, lzma.LZMAError) as exc:
        raise InputError(f"{name}: corrupt compressed metadata ({exc})", hint=_REMAKE) from exc


def _gzip_chunks(data: bytes) -> Iterator[bytes]:
    rest = data
    while rest:  # gzip files may hold several members, one after the other
        d = zlib.decompressobj(16 + zlib.MAX_WBITS)
        pending = rest
        while pending and not d.eof:
            yield d.decompress(pending, _CHUNK)
            pending = d.unconsumed_tail
        while not d.eof and (out := d.decompress(b"", _CHUNK)):
            yield out
        if not d.eof:
            raise EOFError("truncated gzip data")
        rest = d.unused_data


def _stream_chunks(name: str, data: bytes) -> Iterator[bytes]:
    rest = data
    while rest:  # bzip2 and xz files may hold several streams too
        d: bz2.BZ2Decompressor | lzma.LZMADecompressor = (
            bz2.BZ2Decompressor() if name.endswith(".bz2") else lzma.LZMADecompressor()
        )
        yield d.decompress(rest, _CHUNK)
        while not d.eof and not d.needs_input:
            yield d.decompress(b"", _CHUNK)
        if not d.eof:
            raise EOFError(f"truncated {name.rsplit('.', 1)[-1]} data")
        rest = d.unused_data
