"""buildiso.boottest.diskcache: published disks written atomically under a lock, checked
before use, used read-only through overlays, bounded; anything damaged or foreign in the
folder is ignored with a warning and made again, never followed or trusted.

Real qemu-img (qemu-utils) makes, checks and converts the disks; qemu-io writes into an
overlay as a guest would.
"""

from __future__ import annotations

import fcntl
import json
import logging
import os
import shutil
import stat
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from buildiso.boottest import diskcache
from buildiso.boottest.diskcache import (
    KEEP,
    PASSWORD_FILE,
    DiskCache,
    check_entry,
    digest_of,
    overlay,
    sha256_of,
)
from buildiso.cli import main
from buildiso.errors import InputError

MADE_FROM = {"disk": "minimal-server", "cell": "bios-dvd", "steps": [{"do": "install-server"}]}


def key_of(made_from: dict[str, object]) -> str:
    return f"{made_from['disk']}.{made_from['cell']}.{digest_of(made_from)}"


KEY = key_of(MADE_FROM)


def machine_disk(path: Path, fill: bytes = b"\xab") -> Path:
    """A machine's disk as QEMU leaves it: a qcow2 with some data written."""
    raw = path.with_suffix(".raw")
    raw.write_bytes(fill * (1 << 20) + b"\0" * (3 << 20))
    subprocess.run(["qemu-img", "convert", "-q", "-f", "raw", "-O", "qcow2", raw, path],
                   check=True)  # fmt: skip
    raw.unlink()
    return path


def info(path: Path) -> dict[str, object]:
    out = subprocess.run(["qemu-img", "info", "-U", "--output=json", path], check=True,
                         capture_output=True, text=True).stdout  # fmt: skip
    return dict(json.loads(out))


@pytest.fixture
def cache(tmp_path: Path) -> DiskCache:
    return DiskCache.open(tmp_path / "cache")


def publish(cache: DiskCache, tmp_path: Path, made_from: dict[str, object] = MADE_FROM,
            fill: bytes = b"\xab") -> diskcache.Entry:  # fmt: skip
    key = key_of(made_from)
    lock = cache.lock(key)
    lock.take(fcntl.LOCK_EX)
    try:
        assert cache.lookup(key) is None
        return cache.publish(key, [machine_disk(tmp_path / f"m-{fill.hex()}.qcow2", fill)],
                             made_from)  # fmt: skip
    finally:
        lock.release()


def test_a_published_disk_is_checked_and_used_only_through_overlays(
    cache: DiskCache, tmp_path: Path
) -> None:
    entry = publish(cache, tmp_path)
    assert entry.folder == cache.root / KEY and cache.root.is_absolute()
    base = entry.path(entry.disks[0])
    assert stat.S_IMODE(base.stat().st_mode) == 0o444  # nobody writes a published disk
    assert "backing-filename" not in info(base)  # standalone: qemu-img convert's copy
    recorded = json.loads((entry.folder / "entry.json").read_text())
    assert recorded["key"] == KEY and recorded["made_from"] == MADE_FROM
    assert recorded["disks"] == [{"file": "disk.qcow2", "sha256": sha256_of(base),
                                  "size": base.stat().st_size}]  # fmt: skip
    assert sorted(p.name for p in cache.root.iterdir()) == [f".{KEY}.lock", KEY]  # no leftovers
    assert cache.lookup(KEY) == entry
    # a run's overlay: its writes stay in the cell's file, the published disk is untouched
    before = sha256_of(base)
    (tmp_path / "cell").mkdir()
    cell_disk = overlay(base, tmp_path / "cell" / "disk.qcow2")
    assert info(cell_disk)["backing-filename"] == str(base)
    subprocess.run(["qemu-io", "-f", "qcow2", "-c", "write -P 0xcd 0 2M", cell_disk],
                   check=True, capture_output=True)  # fmt: skip
    read = subprocess.run(["qemu-io", "-f", "qcow2", "-c", "read -P 0xcd 0 2M", cell_disk],
                          check=True, capture_output=True, text=True).stdout  # fmt: skip
    assert "Pattern verification failed" not in read
    assert sha256_of(base) == before and cache.lookup(KEY) == entry


Damage = Callable[[Path], None]


def _writable(folder: Path) -> None:
    (folder / "disk.qcow2").chmod(0o644)


def _truncated(folder: Path) -> None:
    _writable(folder)
    os.truncate(folder / "disk.qcow2", 512)


def _flip_a_byte(folder: Path) -> None:
    disk = folder / "disk.qcow2"
    disk.chmod(0o644)
    data = bytearray(disk.read_bytes())
    data[-100] ^= 0xFF  # in the data, not the header: only the checksum notices
    disk.write_bytes(bytes(data))
    disk.chmod(0o444)


def _edit_entry(change: Callable[[dict[str, object]], None]) -> Damage:
    def damage(folder: Path) -> None:
        data = json.loads((folder / "entry.json").read_text())
        change(data)
        (folder / "entry.json").write_text(json.dumps(data))

    return damage


def _backing_file(folder: Path) -> None:
    """A foreign disk whose backing file is a host file, with a forged entry.json to match:
    QEMU would read the host's file into the guest."""
    disk = folder / "disk.qcow2"
    disk.chmod(0o644)
    disk.unlink()
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/etc/hostname",
                    disk], check=True)  # fmt: skip
    disk.chmod(0o444)
    forge = _edit_entry(lambda d: d.update(disks=[{"file": "disk.qcow2", "size":
                                                   disk.stat().st_size,
                                                   "sha256": sha256_of(disk)}]))
    forge(folder)


DAMAGES: dict[str, tuple[Damage, str]] = {
    "a flipped byte": (_flip_a_byte, "sha256 differs"),
    "a truncated disk": (_truncated, "bytes, "),
    "a writable disk": (_writable, "writable"),
    "no entry.json (half-written)": (lambda f: (f / "entry.json").unlink(), "no entry.json"),
    "entry.json not JSON": (lambda f: (f / "entry.json").write_text("{nope"), "not JSON"),
    "entry.json of another key": (_edit_entry(lambda d: d.update(key="x")), "another key"),
    "made_from edited": (_edit_entry(lambda d: d.update(made_from={"disk": "forged"})),
                         "does not hash"),
    "another format": (_edit_entry(lambda d: d.update(format=99)), "format 99"),
    "a foreign file inside": (lambda f: (f / "notes.txt").write_text("x"), "notes.txt"),
    "a disk with a backing file": (_backing_file, "backing file"),
    "a disk that is no qcow2": (lambda f: _raw(f), "not a qcow2"),
}


def _raw(folder: Path) -> None:
    disk = folder / "disk.qcow2"
    disk.chmod(0o644)
    disk.write_bytes(b"\0" * 4096)
    disk.chmod(0o444)
    _edit_entry(lambda d: d.update(disks=[{"file": "disk.qcow2", "size": 4096,
                                          "sha256": sha256_of(disk)}]))(folder)  # fmt: skip


@pytest.mark.parametrize("what", list(DAMAGES))
def test_a_damaged_entry_is_ignored_with_a_warning_and_made_again(
    what: str, cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    damage, why = DAMAGES[what]
    entry = publish(cache, tmp_path)
    damage(entry.folder)
    with pytest.raises(diskcache.Damaged, match=why):
        check_entry(entry.folder, KEY)
    with caplog.at_level(logging.WARNING, logger="buildiso"):
        assert cache.lookup(KEY) is None  # a reader (shared lock) ignores it
    assert f"disk cache: {entry.folder}: " in caplog.text and "ignored, made again" in caplog.text
    assert entry.folder.exists()
    assert cache.lookup(KEY, remove=True) is None  # the writer (exclusive) removes it
    assert not entry.folder.exists()
    again = publish(cache, tmp_path)
    assert cache.lookup(KEY) == again


def test_a_symbolic_link_in_the_cache_is_never_followed(
    cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # a whole, valid entry elsewhere, planted as a link under the key's name
    (tmp_path / "o").mkdir()
    elsewhere = publish(DiskCache.open(tmp_path / "other"), tmp_path / "o")
    (cache.root / KEY).symlink_to(elsewhere.folder)
    with caplog.at_level(logging.WARNING, logger="buildiso"):
        assert cache.lookup(KEY) is None
        assert cache.lookup(KEY, remove=True) is None
    assert "a symbolic link (not followed)" in caplog.text
    assert not os.path.lexists(cache.root / KEY)  # the link itself removed ...
    assert check_entry(elsewhere.folder, KEY)  # ... never what it pointed at
    # a link in place of a disk, and a link in place of the lock file
    entry = publish(cache, tmp_path)
    victim = tmp_path / "victim.qcow2"
    machine_disk(victim)
    victim_sum = sha256_of(victim)
    disk = entry.folder / "disk.qcow2"
    disk.unlink()
    disk.symlink_to(victim)
    with pytest.raises(diskcache.Damaged, match="not a plain file"):
        check_entry(entry.folder, KEY)
    assert cache.lookup(KEY, remove=True) is None
    assert sha256_of(victim) == victim_sum and victim.exists()
    lock_file = cache.root / f".{KEY}.lock"
    lock_file.unlink()
    target = tmp_path / "not-a-lock"
    target.write_text("keep me")
    lock_file.symlink_to(target)
    lock = cache.lock(KEY)
    assert lock.take(fcntl.LOCK_EX)
    lock.release()
    assert target.read_text() == "keep me" and not lock_file.is_symlink()


def test_concurrent_publishers_of_one_key_are_locked(cache: DiskCache, tmp_path: Path) -> None:
    """Two runners sharing the cache: the second waits while the first writes, then finds
    and uses the first's entry (both at once) instead of writing its own."""
    first = cache.lock(KEY)
    first.take(fcntl.LOCK_EX)
    events: list[str] = []

    def second_runner() -> None:
        lock = cache.lock(KEY)  # its own open file, as another process's
        lock.take(fcntl.LOCK_SH)  # to read (CellDisk.begin); a writer takes LOCK_EX
        events.append("second locked")
        found = cache.lookup(KEY)
        events.append("second found it" if found is not None else "second found nothing")
        lock.release()

    thread = threading.Thread(target=second_runner)
    thread.start()
    time.sleep(0.5)
    assert events == []  # blocked while the first holds the lock
    cache.publish(KEY, [machine_disk(tmp_path / "m.qcow2")], MADE_FROM)
    events.append("first published")
    first.take(fcntl.LOCK_SH)  # using it now: others may use it too, none write or evict it
    thread.join(10)
    assert events == ["first published", "second locked", "second found it"]
    assert not cache.lock(KEY).take(fcntl.LOCK_EX | fcntl.LOCK_NB)  # held shared by the first
    first.release()


def test_publishing_keeps_the_newest_entries_and_spares_one_in_use(
    cache: DiskCache, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    keys, gmtime = [], time.gmtime
    for n in range(KEEP + 2):
        made_from = {**MADE_FROM, "n": n}
        # made dates are to the second: one a day apart
        monkeypatch.setattr(diskcache.time, "gmtime", lambda n=n: gmtime(86400 * (n + 1)))
        publish(cache, tmp_path, made_from, fill=bytes([n + 1]))
        keys.append(key_of(made_from))
    monkeypatch.undo()
    in_use = cache.lock(keys[0])
    in_use.take(fcntl.LOCK_SH)  # a run started from the oldest
    other_cell = {**MADE_FROM, "cell": "bios-usb"}
    publish(cache, tmp_path, other_cell)
    assert KEEP == 2
    # newest first: keys[3] (kept: just published), keys[2] (kept: KEEP), keys[1] (removed),
    # keys[0] (in use: left)
    assert cache.evict(keys[3]) == [keys[1]]
    left = sorted(p.name for p in cache.root.iterdir() if not p.name.startswith("."))
    assert left == sorted([keys[0], keys[2], keys[3], key_of(other_cell)])
    assert not (cache.root / f".{keys[1]}.lock").exists()
    in_use.release()
    assert cache.evict(keys[3]) == [keys[0]]  # no run holds it any more


def test_a_disk_cache_given_as_a_file_is_one_line_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    iso = tmp_path / "EMAIL_490_190.iso"
    iso.write_bytes(b"\0")
    not_a_folder = tmp_path / "cache"
    not_a_folder.write_text("x")
    with pytest.raises(InputError, match="is not a folder"):
        DiskCache.open(not_a_folder)
    code = main(["boot-test", str(iso), "--scenario", "appendix-a",
                 "--disk-cache", str(not_a_folder)])  # fmt: skip
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err == [f"buildiso: error: {not_a_folder}: --disk-cache is not a folder "
                                 "(hint: give a folder for published disks (made when missing) "
                                 "that the runner keeps)"]  # fmt: skip
    assert not_a_folder.read_text() == "x"


def test_the_servers_root_password_is_made_once_per_cache_and_kept_private(
    cache: DiskCache, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    password = cache.throwaway_password()
    path = cache.root / PASSWORD_FILE
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert cache.throwaway_password() == password == path.read_text()
    path.chmod(0o644)  # others could read it: not trusted any more
    with caplog.at_level(logging.WARNING, logger="buildiso"):
        renewed = cache.throwaway_password()
    assert renewed != password and "readable by others" in caplog.text
    assert password not in caplog.text and renewed not in caplog.text
    path.unlink()
    secret = tmp_path / "elsewhere"
    secret.write_text("Bt-PlantedPasswordValue1234")
    path.symlink_to(secret)
    assert cache.throwaway_password() != "Bt-PlantedPasswordValue1234"
    assert secret.read_text() == "Bt-PlantedPasswordValue1234" and not path.is_symlink()


def test_an_entry_copied_elsewhere_checks_as_the_same_content(
    cache: DiskCache, tmp_path: Path
) -> None:
    """Keys and checks are by content: a cache folder restored on another runner (another
    path, new inodes and mtimes) is used as it is."""
    publish(cache, tmp_path)
    moved = tmp_path / "restored"
    shutil.copytree(cache.root, moved, symlinks=True)
    for path in moved.rglob("*"):
        os.utime(path, (1, 1))
    assert DiskCache.open(moved).lookup(KEY) is not None
