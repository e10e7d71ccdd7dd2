"""Hashing the image: the MD5 while xorriso writes it, the SHA-256 in one read afterwards,
and the check that the bytes which landed are the bytes that were hashed.

The MD5 that goes into the image (``IsoMd5Stream``) is taken from the growing file while
xorriso writes it (``follow``): the bytes come from the page cache, and on 2 cores the MD5
runs on one while xorriso writes on the other. ``FollowStats`` says how far behind the
writer the follower ran (the bench and the build log report it).

Why the SHA-256 for SHA256SUM cannot be taken in that same pass: it covers the *final*
bytes, and those include the implanted MD5 text at byte 33,651 (sector 16), which depends
on the MD5 of the whole image. SHA-256 is a chained hash (Merkle–Damgård): its state after
byte N is a function of every byte before N, so nothing after the implant field can be
hashed before the implant is known, and no digest taken over a blank field can be
"spliced" afterwards. So the SHA-256 is one read of the final image (``final_digests``),
straight from the page cache through ``mmap`` (no copy into Python), at SHA-NI speed.

The landed-bytes check (``BlockSums``, ``check_landed``): the implanted MD5 assumes xorriso
wrote front to back, once, and that nothing touched the file afterwards. A CRC-32 of every
4 MiB block is taken from the very bytes the MD5 was fed while following, and again from
the final read the SHA-256 takes anyway (zlib.crc32 runs at ~4 GB/s and releases the GIL,
so on the second core it costs nothing next to the SHA-256). Equal block sums mean the
landed bytes are the hashed bytes: CRC-32 catches every error burst of up to 32 bits (any
changed byte) and every 1- or 2-bit error in a block of this size, and other damage with
probability 1 - 2^-32 per block; a short or long file is caught by its size. It replaces a
second MD5 of the final image (MD5 runs at ~0.7 GB/s: that read was MD5-bound).

The fsync of the image runs in another thread during the final read (iso.py): the disk and
the SHA-256 overlap.
"""

from __future__ import annotations

import hashlib
import mmap
import os
import time
import zlib
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from buildiso.errors import BuildError

CHUNK = 4 << 20  # bytes per read while following; bounds our memory use
FINAL_CHUNK = 16 << 20  # bytes per hash update in the final read (a view, not a copy)
BLOCK = 4 << 20  # bytes per CRC-32 of the landed-bytes check
POLL = 0.02  # seconds between looks at the growing file when the follower has caught up

Progress = Callable[[int, int | None], None]


class Consumer(Protocol):
    """Anything fed the image's bytes in order (hashlib objects, IsoMd5Stream)."""

    def update(self, data: bytes | memoryview, /) -> None: ...


@dataclass(frozen=True)
class FollowStats:
    """How the follower kept up with the writer.

    ``max_lag``: the most bytes ever written but not yet hashed at one look;
    ``lag_at_finish``: the bytes left to hash when the writer was seen finished;
    ``tail_seconds``: from then until the follower was done (the only time the hashing
    was not under the write).
    """

    size: int
    max_lag: int
    lag_at_finish: int
    tail_seconds: float


def follow(
    path: Path,
    *,
    finished: Callable[[], bool],
    consumers: Sequence[Consumer],
    expected_size: Callable[[], int | None] = lambda: None,
    progress: Progress | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> FollowStats:
    """Feed ``consumers`` the file at ``path`` as another process writes it, front to
    back, until ``finished()`` is true and everything written was read. Each consumer
    after the first runs in a thread of its own (hashlib and zlib release the GIL), so a
    cheap check does not lengthen the MD5's critical path.

    ``finished`` is asked before the size is looked at, so a true answer means the size
    seen after it is final. One buffer is reused for every read: no allocation per chunk.
    The follower sleeps only when it has caught up. An exception from a consumer
    propagates at once (the caller stops the writer).
    """
    buffer = bytearray(CHUNK)
    view = memoryview(buffer)
    fd: int | None = None
    done = max_lag = 0
    finished_at: float | None = None
    lag_at_finish = 0
    first, *others = consumers
    pool = ThreadPoolExecutor(max_workers=len(others)) if others else None
    try:
        while True:
            last_look = finished()
            if fd is None:
                try:
                    fd = os.open(path, os.O_RDONLY)
                except FileNotFoundError:
                    if last_look:
                        return FollowStats(0, 0, 0, 0.0)
                    time.sleep(POLL)
                    continue
            size = os.fstat(fd).st_size
            max_lag = max(max_lag, size - done)
            if last_look and finished_at is None:
                finished_at, lag_at_finish = clock(), size - done
            if size <= done:  # caught up (or the file shrank: the caller's size check says)
                if last_look:
                    assert finished_at is not None
                    return FollowStats(done, max_lag, lag_at_finish, clock() - finished_at)
                time.sleep(POLL)
                continue
            got = os.preadv(fd, [view[: min(CHUNK, size - done)]], done)
            if got == 0:  # shrank since the fstat: the next look sees it
                continue
            with view[:got] as piece:
                jobs = [pool.submit(c.update, piece) for c in others] if pool else []
                try:
                    first.update(piece)
                finally:
                    wait(jobs)  # the buffer is reused: no thread may still read it
                for job in jobs:
                    job.result()
            done += got
            if progress is not None:
                progress(done, expected_size())
    finally:
        if pool is not None:
            pool.shutdown()
        if fd is not None:
            os.close(fd)


@dataclass(frozen=True)
class Sums:
    """CRC-32 of each ``block`` bytes of a stream of ``size`` bytes (the last one short)."""

    size: int
    block: int
    crcs: tuple[int, ...]


class BlockSums:
    """A consumer taking the CRC-32 of every ``block``-sized block of a byte stream at
    fixed offsets, whatever sizes it is fed in. The bytes in ``masked`` (a range of stream
    offsets: the implant field, which differs between the followed and the final image)
    count as spaces; what they held is kept in ``masked_bytes``."""

    def __init__(self, *, block: int = BLOCK, masked: range = range(0)) -> None:
        self._block = block
        self._masked = masked
        self.masked_bytes = bytearray()
        self._offset = 0
        self._crc = 0
        self._crcs: list[int] = []

    def update(self, data: bytes | memoryview, /) -> None:
        view = memoryview(data)
        start, end = self._offset, self._offset + len(view)
        lo, hi = max(start, self._masked.start), min(end, self._masked.stop)
        if lo < hi:  # once per image: the field's bytes kept, spaces summed instead
            self.masked_bytes += view[lo - start : hi - start]
            self._feed(view[: lo - start])
            self._feed(memoryview(b" " * (hi - lo)))
            self._feed(view[hi - start :])
        else:
            self._feed(view)

    def _feed(self, view: memoryview) -> None:
        while len(view):
            take = min(len(view), self._block - self._offset % self._block)
            self._crc = zlib.crc32(view[:take], self._crc)
            self._offset += take
            view = view[take:]
            if self._offset % self._block == 0:
                self._crcs.append(self._crc)
                self._crc = 0

    def sums(self) -> Sums:
        partial = (self._crc,) if self._offset % self._block else ()
        return Sums(self._offset, self._block, (*self._crcs, *partial))


def check_landed(image: Path, *, hashed: Sums, landed: Sums) -> None:
    """Raise BuildError unless the image's final bytes (``landed``, from the final read)
    are the bytes that were hashed while it was written (``hashed``, from the follower)."""
    hint = "the image changed after it was written (the disk, another program): build again"
    if landed.size != hashed.size or landed.block != hashed.block:
        raise BuildError(
            f"{image.name}: the finished image does not match its implanted MD5 "
            f"({landed.size} bytes on disk, {hashed.size} were written and hashed)",
            hint=hint,
        )
    for index, (want, got) in enumerate(zip(hashed.crcs, landed.crcs, strict=True)):
        if want != got:
            start = index * hashed.block
            end = min(start + hashed.block, hashed.size)
            raise BuildError(
                f"{image.name}: the finished image does not match its implanted MD5 "
                f"(bytes {start}-{end - 1} differ from those hashed while it was written)",
                hint=hint,
            )


def final_digests(
    path: Path,
    *,
    extra: Sequence[Consumer] = (),
    progress: Progress | None = None,
) -> str:
    """SHA-256 (hex) of the file at ``path`` in one read, feeding ``extra`` consumers the
    same bytes in parallel threads.

    The file is mapped, not copied (10 % less CPU than reading into a buffer, measured),
    and each block is unmapped from us once hashed (MADV_DONTNEED: the pages stay in the
    page cache, they just stop counting in our resident memory, which stays flat).
    """
    sha = hashlib.sha256()
    consumers: list[Consumer] = [sha, *extra]
    size = path.stat().st_size
    if size == 0:
        return sha.hexdigest()
    with (
        path.open("rb") as f,
        mmap.mmap(f.fileno(), size, access=mmap.ACCESS_READ) as mapped,
    ):
        mapped.madvise(mmap.MADV_SEQUENTIAL)
        pool = ThreadPoolExecutor(max_workers=len(consumers)) if len(consumers) > 1 else None
        try:
            for start in range(0, size, FINAL_CHUNK):
                length = min(FINAL_CHUNK, size - start)
                with memoryview(mapped)[start : start + length] as block:
                    if pool is None:
                        sha.update(block)
                    else:
                        for job in [pool.submit(c.update, block) for c in consumers]:
                            job.result()
                mapped.madvise(mmap.MADV_DONTNEED, start, length)
                if progress is not None:
                    progress(start + length, size)
        finally:
            if pool is not None:
                pool.shutdown()
    return sha.hexdigest()
