"""Following a file another process writes; the final read."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
import zlib
from pathlib import Path

import pytest

from buildiso.errors import BuildError
from buildiso.master import imagestream


class _Collect:
    def __init__(self) -> None:
        self.data = bytearray()
        self.calls = 0

    def update(self, data: bytes | memoryview, /) -> None:
        self.data += data
        self.calls += 1


def _slow_writer(path: Path, pieces: list[bytes], done: threading.Event) -> threading.Thread:
    def write() -> None:
        with path.open("wb") as f:
            for piece in pieces:
                f.write(piece)
                f.flush()
                time.sleep(0.03)
        done.set()

    thread = threading.Thread(target=write)
    thread.start()
    return thread


def test_follow_reads_every_byte_in_order_while_the_file_grows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(imagestream, "CHUNK", 1000)  # several reads per piece, odd sizes
    pieces = [os.urandom(n) for n in (1, 4096, 2500, 0, 777, 10_000)]
    path = tmp_path / "growing"
    done = threading.Event()
    writer = _slow_writer(path, pieces, done)
    seen = _Collect()
    progress: list[int] = []
    try:
        got = imagestream.follow(
            path, finished=done.is_set, consumers=[seen], progress=lambda d, t: progress.append(d)
        )
    finally:
        writer.join()
    assert bytes(seen.data) == b"".join(pieces)
    assert got.size == len(seen.data)
    assert seen.calls > len(pieces)  # really read in CHUNK-sized pieces as it grew
    assert progress == sorted(progress) and progress[-1] == got.size


def test_follow_feeds_every_consumer_the_same_bytes(tmp_path: Path) -> None:
    """Consumers after the first run in threads of their own, on the same reused buffer:
    each must still see every byte, in order."""
    data = os.urandom(3 * imagestream.CHUNK + 12_345)
    path = tmp_path / "image"
    path.write_bytes(data)
    first, second, third = _Collect(), _Collect(), hashlib.md5(usedforsecurity=False)
    imagestream.follow(path, finished=lambda: True, consumers=[first, second, third])
    assert bytes(first.data) == bytes(second.data) == data
    assert third.hexdigest() == hashlib.md5(data, usedforsecurity=False).hexdigest()


def test_follow_a_file_never_written(tmp_path: Path) -> None:
    seen = _Collect()
    stats = imagestream.follow(tmp_path / "none", finished=lambda: True, consumers=[seen])
    assert stats.size == 0
    assert seen.data == b""


def test_follow_passes_on_a_consumer_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)

    class Refuse:
        def update(self, data: bytes | memoryview, /) -> None:
            raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        imagestream.follow(path, finished=lambda: True, consumers=[Refuse()])
    with pytest.raises(ValueError, match="no"):  # from a consumer in its own thread too
        imagestream.follow(path, finished=lambda: True, consumers=[_Collect(), Refuse()])


@pytest.mark.parametrize("size", [0, 1, imagestream.FINAL_CHUNK, 2 * imagestream.FINAL_CHUNK + 5])
def test_final_digests_one_read_for_all(tmp_path: Path, size: int) -> None:
    data = os.urandom(size)
    path = tmp_path / "image"
    path.write_bytes(data)
    md5 = hashlib.md5(usedforsecurity=False)
    seen = _Collect()
    digest = imagestream.final_digests(path, extra=[md5, seen])
    assert digest == hashlib.sha256(data).hexdigest()
    assert md5.hexdigest() == hashlib.md5(data, usedforsecurity=False).hexdigest()
    assert bytes(seen.data) == data


def test_final_read_keeps_resident_memory_flat(tmp_path: Path) -> None:
    """Mapped pages are dropped from our resident set once hashed: hashing a file bigger
    than the bound must not raise the peak RSS by the file's size."""
    path = tmp_path / "image"
    with path.open("wb") as f:
        for _ in range(192):
            f.write(os.urandom(1 << 20))
    script = (
        "import resource, sys; from pathlib import Path; "
        "from buildiso.master.imagestream import final_digests; "
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss; "
        "final_digests(Path(sys.argv[1])); "
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)"
    )
    proc = subprocess.run(
        [sys.executable, "-c", script, str(path)], capture_output=True, text=True, check=True
    )
    grown_mib = int(proc.stdout) / 1024
    assert grown_mib < 64, f"peak RSS grew by {grown_mib:.0f} MiB hashing a 192 MiB file"


# --- how far behind the writer the follower ran (FollowStats) -----------------------------


class _Counting:
    """A consumer that tells a waiting writer how many bytes it has taken."""

    def __init__(self) -> None:
        self.taken = 0
        self.changed = threading.Condition()

    def update(self, data: bytes | memoryview, /) -> None:
        with self.changed:
            self.taken += len(data)
            self.changed.notify_all()

    def wait_for(self, count: int) -> None:
        with self.changed:
            self.changed.wait_for(lambda: self.taken >= count)


def test_lag_of_a_follower_that_keeps_up(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The writer writes the next piece only once the follower has taken the last one:
    the follower is never more than a piece behind, and nothing is left when the writer
    is done."""
    monkeypatch.setattr(imagestream, "CHUNK", 1000)
    pieces = [os.urandom(n) for n in (3000, 1, 2500, 777)]
    path = tmp_path / "growing"
    path.touch()
    consumer, done = _Counting(), threading.Event()

    def lockstep() -> None:
        written = 0
        with path.open("ab") as f:
            for piece in pieces:
                f.write(piece)
                f.flush()
                written += len(piece)
                consumer.wait_for(written)
        done.set()

    writer = threading.Thread(target=lockstep)
    writer.start()
    try:
        stats = imagestream.follow(path, finished=done.is_set, consumers=[consumer])
    finally:
        writer.join()
    assert stats.size == sum(map(len, pieces))
    assert stats.lag_at_finish == 0
    assert 0 < stats.max_lag <= max(map(len, pieces))


def test_lag_of_a_follower_that_falls_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The consumer is stuck on its first read until the writer has written everything:
    the rest is still to hash when the writer finishes, and the tail is timed."""
    monkeypatch.setattr(imagestream, "CHUNK", 1000)
    data = os.urandom(10_000)
    path = tmp_path / "growing"
    path.write_bytes(data[:1000])
    done = threading.Event()

    class Stuck(_Collect):
        def update(self, chunk: bytes | memoryview, /) -> None:
            if not self.calls:
                with path.open("ab") as f:  # the writer runs ahead and finishes
                    f.write(data[1000:])
                done.set()
            super().update(chunk)

    times = iter([100.0, 102.5])
    seen = Stuck()
    stats = imagestream.follow(
        path, finished=done.is_set, consumers=[seen], clock=lambda: next(times)
    )
    assert bytes(seen.data) == data
    assert stats.size == len(data)
    assert stats.lag_at_finish == stats.max_lag == len(data) - 1000
    assert stats.tail_seconds == 2.5


def test_lag_when_the_writer_was_done_before_the_follower_started(tmp_path: Path) -> None:
    path = tmp_path / "image"
    path.write_bytes(b"x" * 5000)
    stats = imagestream.follow(path, finished=lambda: True, consumers=[_Collect()])
    assert (stats.size, stats.max_lag, stats.lag_at_finish) == (5000, 5000, 5000)


# --- the landed-bytes check (BlockSums, check_landed) -------------------------------------

_BLOCK = 4096
_MASK = range(5000, 5512)  # like the implant field: inside the second block


def _sums(data: bytes, *, pieces: int = 1) -> imagestream.BlockSums:
    sums = imagestream.BlockSums(block=_BLOCK, masked=_MASK)
    step = max(1, len(data) // pieces)
    for start in range(0, len(data), step):
        sums.update(memoryview(data)[start : start + step])
    return sums


def test_block_sums_do_not_depend_on_how_the_bytes_arrive() -> None:
    data = os.urandom(5 * _BLOCK + 123)
    whole = _sums(data).sums()
    assert whole.size == len(data) and len(whole.crcs) == 6
    assert _sums(data, pieces=7).sums() == whole
    odd = imagestream.BlockSums(block=_BLOCK, masked=_MASK)
    pos, step = 0, 1
    while pos < len(data):
        odd.update(data[pos : pos + step])
        pos += step
        step = step * 5 % 3001 + 1
    assert odd.sums() == whole
    masked = bytearray(data)
    masked[_MASK.start : _MASK.stop] = b" " * len(_MASK)
    assert whole.crcs[0] == zlib.crc32(masked[:_BLOCK])
    assert whole.crcs[1] == zlib.crc32(masked[_BLOCK : 2 * _BLOCK])
    assert whole.crcs[-1] == zlib.crc32(masked[5 * _BLOCK :])


@pytest.mark.parametrize(
    "position", [0, _BLOCK - 1, _BLOCK, _MASK.start - 1, _MASK.stop, 3 * _BLOCK + 17, -1]
)
def test_a_flipped_byte_in_the_landed_image_is_caught(position: int) -> None:
    data = os.urandom(4 * _BLOCK + 999)
    hashed = _sums(data, pieces=3).sums()
    landed = bytearray(data)
    landed[position] ^= 0x01  # a single bit, the smallest change there is
    index = (position % len(data)) // _BLOCK
    start, end = index * _BLOCK, min((index + 1) * _BLOCK, len(data)) - 1
    with pytest.raises(BuildError, match=f"does not match its implanted MD5 .bytes {start}-{end} "):
        imagestream.check_landed(Path("x.iso"), hashed=hashed, landed=_sums(bytes(landed)).sums())


def test_an_unchanged_image_passes_and_the_masked_field_is_kept() -> None:
    data = os.urandom(3 * _BLOCK)
    landed = bytearray(data)
    landed[_MASK.start : _MASK.stop] = b"I" * len(_MASK)  # the implant, written after
    found = _sums(bytes(landed), pieces=5)
    imagestream.check_landed(Path("x.iso"), hashed=_sums(data).sums(), landed=found.sums())
    assert bytes(found.masked_bytes) == b"I" * len(_MASK)  # iso.py compares it to the implant


@pytest.mark.parametrize("cut", [1, _BLOCK, 2 * _BLOCK + 1])
def test_a_truncated_or_grown_image_is_caught(cut: int) -> None:
    data = os.urandom(4 * _BLOCK + 10)
    hashed = _sums(data).sums()
    with pytest.raises(BuildError, match=f"{len(data) - cut} bytes on disk, {len(data)} were"):
        imagestream.check_landed(Path("x.iso"), hashed=hashed, landed=_sums(data[:-cut]).sums())
    with pytest.raises(BuildError, match="bytes on disk"):
        imagestream.check_landed(
            Path("x.iso"), hashed=hashed, landed=_sums(data + b"\0" * cut).sums()
        )
