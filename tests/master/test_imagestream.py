"""Following a file another process writes; the final read."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

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
            path, finished=done.is_set, consumer=seen, progress=lambda d, t: progress.append(d)
        )
    finally:
        writer.join()
    assert bytes(seen.data) == b"".join(pieces)
    assert got == len(seen.data)
    assert seen.calls > len(pieces)  # really read in CHUNK-sized pieces as it grew
    assert progress == sorted(progress) and progress[-1] == got


def test_follow_a_file_never_written(tmp_path: Path) -> None:
    seen = _Collect()
    assert imagestream.follow(tmp_path / "none", finished=lambda: True, consumer=seen) == 0
    assert seen.data == b""


def test_follow_passes_on_a_consumer_error(tmp_path: Path) -> None:
    path = tmp_path / "f"
    path.write_bytes(b"x" * 10)

    class Refuse:
        def update(self, data: bytes | memoryview, /) -> None:
            raise ValueError("no")

    with pytest.raises(ValueError, match="no"):
        imagestream.follow(path, finished=lambda: True, consumer=Refuse())


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
