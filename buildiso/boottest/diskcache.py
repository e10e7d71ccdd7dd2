"""Published disks: the folder (``--disk-cache DIR``) of installed machines' disks that later
runs start from, as openQA's PUBLISH_HDD_1 / HDD_1.

A scenario's ``publish-disk`` step (``boottest/disksteps.py``) publishes its machine's disk
here under a key made from everything that made it (``boottest/diskkey.py``); a later run
whose key is here skips the steps that made it and starts from a copy-on-write overlay on
it. The folder is meant to be kept by a CI runner between nightlies, and may be shared by
several runners at once.

    DIR/DISK.CELL.DIGEST/        an entry: entry.json and disk.qcow2 (disk2.qcow2, ...)
    DIR/.DISK.CELL.DIGEST.lock   its lock: exclusive while written or checked, shared while
                                 a run uses it (so it is not evicted under that run)
    DIR/throwaway-root-password  the root password of the servers whose disks are kept here
                                 (0600; see ``throwaway_password``)
    DIR/buildiso-disk-XXXX/      an entry being written (removed once its writer is gone)

Rules (docs/boot-test.md, "Published disks"):
- written atomically: converted (``qemu-img convert``, a standalone qcow2 without backing
  file) into a private folder beside the entries, fsynced, then renamed into place
  (``atomicfile.replace_dir``), under the entry's exclusive lock;
- locked: a run reads and uses an entry under its shared lock; writing or removing one
  takes the exclusive lock, so two runners sharing the folder never write one entry twice
  and never remove one the other uses;
- checked before every use: the folder holds exactly entry.json and its disks, none a
  symbolic link; entry.json names this key and its ``made_from`` hashes to it; each disk
  has its recorded size and sha256, is a qcow2 with no backing or external data file, and
  passes ``qemu-img check``. Anything else (a damaged entry, a foreign file, a link) is
  ignored with a warning and made again (removed first, never followed);
- never modified: disks are 0444 and runs use them only as the read-only backing file of
  an overlay in the cell's folder;
- bounded: publishing keeps the ``KEEP`` newest entries per disk and cell (an entry in use
  by another run is left alone).
"""

from __future__ import annotations

import errno
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import string
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import __version__
from buildiso.atomicfile import fsync_path, open_atomic, replace_dir, write_json_atomic
from buildiso.boundedjson import Fields, parse_json, read_bytes
from buildiso.errors import InputError
from buildiso.run import run
from buildiso.tmpdirs import private_dir

log = logging.getLogger(__name__)

FORMAT = 1  # entry.json's format
KEEP = 2  # entries kept per disk and cell (the newest made)
ENTRY_JSON = "entry.json"
PASSWORD_FILE = "throwaway-root-password"
MAX_ENTRY_BYTES = 256 * 1024
MAX_DISKS = 8
MAX_VIRTUAL_BYTES = 16 * 2**40
KEY = re.compile(r"(?P<disk>[a-z0-9][a-z0-9-]{0,39})\.(?P<cell>[a-z0-9]+(?:-[a-z0-9]+){1,3})"
                 r"\.(?P<digest>[0-9a-f]{64})")  # fmt: skip
DISK_FILE = re.compile(r"disk[2-8]?\.qcow2")
MADE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ")
SHA256 = re.compile(r"[0-9a-f]{64}")
PASSWORD = re.compile(r"[A-Za-z0-9-]{16,64}")
_HINT = "a published disk is rebuilt when damaged; delete the cache folder to start afresh"


def digest_of(made_from: Mapping[str, Any]) -> str:
    """The key's digest: sha256 of ``made_from`` as canonical JSON."""
    text = json.dumps(made_from, sort_keys=True, separators=(",", ":"), ensure_ascii=True)
    return hashlib.sha256(text.encode()).hexdigest()


def disk_file(index: int) -> str:
    """The name of a machine's ``index``-th disk (1: ``disk.qcow2``), as in a cell folder."""
    return "disk.qcow2" if index == 1 else f"disk{index}.qcow2"


class Damaged(Exception):
    """An entry that must not be used (the message says why)."""


@dataclass(frozen=True)
class DiskFile:
    file: str
    sha256: str
    size: int


@dataclass(frozen=True)
class Entry:
    """A published disk, checked."""

    key: str
    folder: Path
    made: str  # when it was published (UTC, ISO 8601)
    disks: tuple[DiskFile, ...]

    def path(self, disk: DiskFile) -> Path:
        return self.folder / disk.file


class KeyLock:
    """``flock`` on an entry's lock file; taken again when the file was replaced meanwhile."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None

    def take(self, mode: int) -> bool:
        """Lock with ``mode`` (LOCK_EX/LOCK_SH, | LOCK_NB): False when LOCK_NB found it held."""
        if self.fd is not None:  # a held lock changes mode (EX → SH cannot be stolen)
            fcntl.flock(self.fd, mode)
            return True
        while True:
            try:
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW | os.O_CLOEXEC,
                             0o600)  # fmt: skip
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
                log.warning("disk cache: %s is a symbolic link (not followed); removed",
                            self.path)  # fmt: skip
                self.path.unlink(missing_ok=True)
                continue
            try:
                fcntl.flock(fd, mode)
            except BlockingIOError:
                os.close(fd)
                return False
            try:
                same = os.stat(self.path, follow_symlinks=False).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if same:
                self.fd = fd
                return True
            os.close(fd)  # evicted while we waited: lock the new file

    def release(self, *, remove: bool = False) -> None:
        """Unlock; ``remove`` deletes the lock file first (only while it is held)."""
        if self.fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        os.close(self.fd)
        self.fd = None


class DiskCache:
    """The folder of published disks (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    @classmethod
    def open(cls, path: Path) -> DiskCache:
        """``--disk-cache DIR``: a folder (made when missing); one line when it cannot be."""
        hint = "give a folder for published disks (made when missing) that the runner keeps"
        if path.exists() and not path.is_dir():
            raise InputError(f"{path}: --disk-cache is not a folder", hint=hint)
        try:
            path.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise InputError(f"{path}: cannot make the --disk-cache folder "
                             f"({exc.strerror or exc})", hint=hint) from None  # fmt: skip
        if not os.access(path, os.W_OK | os.X_OK):
            raise InputError(f"{path}: the --disk-cache folder is not writable", hint=hint)
        return cls(path.resolve())  # overlays name their backing file by absolute path

    def entry_dir(self, key: str) -> Path:
        return self.root / key

    def lock(self, key: str) -> KeyLock:
        return KeyLock(self.root / f".{key}.lock")

    # -- reading -----------------------------------------------------------------------

    def lookup(self, key: str, *, remove: bool = False) -> Entry | None:
        """The checked entry of ``key``, or None. Call with its lock held (shared to read);
        ``remove`` (lock held exclusively) removes a damaged one, so that it is made again."""
        folder = self.entry_dir(key)
        if not os.path.lexists(folder):
            return None
        try:
            return check_entry(folder, key)
        except Damaged as exc:
            if remove:
                log.warning("disk cache: %s: %s; removed, made again", folder, exc)
                _remove(folder)
            else:
                log.warning("disk cache: %s: %s; ignored, made again", folder, exc)
            return None

    # -- writing -----------------------------------------------------------------------

    def publish(self, key: str, disks: Sequence[Path], made_from: Mapping[str, Any]) -> Entry:
        """``disks`` (a machine's, shut down) as the entry of ``key``. Call with its lock
        held exclusively and ``lookup(remove=True)`` having found nothing usable."""
        match = KEY.fullmatch(key)
        if match is None or digest_of(made_from) != match["digest"]:
            raise ValueError(f"{key}: not a key, or made_from does not hash to its digest")
        if not 1 <= len(disks) <= MAX_DISKS:
            raise ValueError(f"{len(disks)} disks (1..{MAX_DISKS})")
        with private_dir("disk", root=self.root) as work:
            staged = work / "entry"
            staged.mkdir()
            files = []
            for index, source in enumerate(disks, start=1):
                out = staged / disk_file(index)
                # a standalone copy of the allocated clusters: no backing file, compact
                run(["qemu-img", "convert", "-q", "-f", "qcow2", "-O", "qcow2", source, out])
                out.chmod(0o444)
                fsync_path(out)
                files.append(DiskFile(out.name, sha256_of(out), out.stat().st_size))
            made = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
            write_json_atomic(staged / ENTRY_JSON, {
                "format": FORMAT, "key": key, "made": made, "buildiso": __version__,
                "disks": [{"file": f.file, "sha256": f.sha256, "size": f.size} for f in files],
                "made_from": made_from,
            }, durable=True)  # fmt: skip
            target = self.entry_dir(key)
            if os.path.lexists(target):
                _remove(target)  # what lookup found damaged (we hold the lock)
            replace_dir(staged, target)
        fsync_path(self.root)
        return Entry(key=key, folder=target, made=made, disks=tuple(files))

    def evict(self, keep: str) -> list[str]:
        """Remove the oldest entries of ``keep``'s disk and cell beyond ``KEEP`` (``keep``
        itself stays); an entry another run holds is left. Returns the keys removed."""
        match = KEY.fullmatch(keep)
        assert match is not None
        prefix = f"{match['disk']}.{match['cell']}."
        others = []
        for path in self.root.glob(f"{glob_escape(prefix)}*"):
            if path.name != keep and KEY.fullmatch(path.name):
                others.append((_made(path), path.name))
        removed = []
        for _made_at, key in sorted(others, reverse=True)[KEEP - 1 :]:
            lock = self.lock(key)
            if not lock.take(fcntl.LOCK_EX | fcntl.LOCK_NB):
                continue  # in use by a run now
            try:
                _remove(self.entry_dir(key))
                removed.append(key)
                log.info("disk cache: removed %s (more than %d kept)", key, KEEP)
            finally:
                lock.release(remove=True)
        return removed

    # -- the servers' root password ----------------------------------------------------

    def throwaway_password(self) -> str:
        """The root password of every server whose disk is kept here.

        A server's kickstart, and so its disk's key, must stay the same between runs; and a
        run that starts from the published disk must log in. So the throwaway password the
        boot test makes for a server is made once per cache and kept in it (mode 0600, never
        logged or put in a result): it opens only test machines that reach no network.
        """
        path = self.root / PASSWORD_FILE
        lock = KeyLock(self.root / f".{PASSWORD_FILE}.lock")
        lock.take(fcntl.LOCK_EX)
        try:
            try:
                text = read_bytes(path, max_bytes=100).decode("ascii").strip()
                mode = os.stat(path, follow_symlinks=False).st_mode
                if PASSWORD.fullmatch(text) and mode & 0o077 == 0:
                    return text
                why = "readable by others" if mode & 0o077 else "not a password buildiso made"
            except FileNotFoundError:
                why = ""
            except (InputError, OSError, UnicodeDecodeError) as exc:
                why = str(exc)
            if why:
                log.warning("disk cache: %s: %s; a new one is made (its disks are made again)",
                            path, why)  # fmt: skip
                _remove(path)
            alphabet = string.ascii_letters + string.digits
            password = "Bt-" + "".join(secrets.choice(alphabet) for _ in range(24)) + "9x"
            with open_atomic(path, durable=True) as handle:
                os.fchmod(handle.fileno(), 0o600)  # before any byte of it is written
                handle.write(password.encode())
            return password
        finally:
            lock.release()


def glob_escape(text: str) -> str:
    return re.sub(r"([*?\[])", r"[\1]", text)


def overlay(base: Path, dest: Path) -> Path:
    """A copy-on-write qcow2 at ``dest`` over ``base`` (opened read-only by QEMU)."""
    dest.unlink(missing_ok=True)
    run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", base, dest])
    return dest


def sha256_of(path: Path) -> str:
    """sha256 of a file, not followed if it is a symbolic link."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC)
    with os.fdopen(fd, "rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def check_entry(folder: Path, key: str) -> Entry:
    """The entry at ``folder`` if it is a whole, unmodified entry of ``key``; else Damaged."""
    if folder.is_symlink():
        raise Damaged("a symbolic link (not followed)")
    if not folder.is_dir():
        raise Damaged("not a folder")
    try:
        raw = read_bytes(folder / ENTRY_JSON, max_bytes=MAX_ENTRY_BYTES)
        f = Fields(str(folder / ENTRY_JSON), hint=_HINT)
        data = f.table(parse_json(raw, source=f.source, hint=_HINT), "(top)")
        if f.integer(data, "", "format", lo=0, hi=10**6) != FORMAT:
            raise Damaged(f"entry format {data['format']}, this buildiso writes {FORMAT}")
        if f.text(data, "", "key", max_len=200) != key:
            raise Damaged(f"{ENTRY_JSON} names another key")
        made = f.text(data, "", "made", pattern=MADE)
        made_from = f.table(f.get(data, "", "made_from"), "made_from")
        disks = f.each(data, "", "disks", lambda v, k: _disk(f, v, k), max_items=MAX_DISKS)
    except FileNotFoundError:
        raise Damaged(f"no {ENTRY_JSON} (an entry left half-written)") from None
    except (InputError, OSError) as exc:
        raise Damaged(str(exc)) from None
    match = KEY.fullmatch(key)
    if match is None or digest_of(made_from) != match["digest"]:
        raise Damaged(f"{ENTRY_JSON}'s made_from does not hash to the key")
    if [d.file for d in disks] != [disk_file(i) for i in range(1, len(disks) + 1)]:
        raise Damaged("its disks are not disk.qcow2, disk2.qcow2, ... in order")
    found = sorted(p.name for p in folder.iterdir())
    if found != sorted([ENTRY_JSON, *(d.file for d in disks)]):
        raise Damaged(f"holds {', '.join(found)}, not only {ENTRY_JSON} and its disks")
    for disk in disks:
        try:
            _check_disk(folder / disk.file, disk)
        except OSError as exc:
            raise Damaged(f"{disk.file}: {exc.strerror or exc}") from None
    return Entry(key=key, folder=folder, made=made, disks=disks)


def _disk(f: Fields, value: object, key: str) -> DiskFile:
    table = f.table(value, key)
    return DiskFile(file=f.text(table, key, "file", pattern=DISK_FILE),
                    sha256=f.text(table, key, "sha256", pattern=SHA256),
                    size=f.integer(table, key, "size", lo=0, hi=MAX_VIRTUAL_BYTES))  # fmt: skip


def _check_disk(path: Path, disk: DiskFile) -> None:
    st = os.stat(path, follow_symlinks=False)
    if path.is_symlink() or not path.is_file():
        raise Damaged(f"{disk.file} is not a plain file (a link is not followed)")
    if st.st_size != disk.size:
        raise Damaged(f"{disk.file} is {st.st_size} bytes, {disk.size} when published")
    if st.st_mode & 0o222:
        raise Damaged(f"{disk.file} is writable: published disks are read-only")
    info = run(["qemu-img", "info", "-U", "-f", "qcow2", "--output=json", path], check=False)
    if info.returncode != 0:
        raise Damaged(f"{disk.file}: not a qcow2 image ({info.stderr.strip()[-200:]})")
    facts = parse_json(info.stdout.encode()[:MAX_ENTRY_BYTES], source="qemu-img info",
                       hint=_HINT)  # fmt: skip
    if not isinstance(facts, dict) or facts.get("format") != "qcow2":
        raise Damaged(f"{disk.file}: not a qcow2 image")
    if "backing-filename" in facts or "full-backing-filename" in facts:
        raise Damaged(f"{disk.file} has a backing file (a published disk stands alone)")
    specific = facts.get("format-specific", {})
    data = specific.get("data", {}) if isinstance(specific, dict) else {}
    if isinstance(data, dict) and "data-file" in data:
        raise Damaged(f"{disk.file} keeps its data in another file")
    size = facts.get("virtual-size")
    if not isinstance(size, int) or not 0 < size <= MAX_VIRTUAL_BYTES:
        raise Damaged(f"{disk.file}: virtual size {size!r} out of range")
    checked = run(["qemu-img", "check", "-q", "-U", "-f", "qcow2", path], check=False)
    if checked.returncode != 0:
        raise Damaged(f"{disk.file}: qemu-img check failed ({checked.stderr.strip()[-200:]})")
    if sha256_of(path) != disk.sha256:
        raise Damaged(f"{disk.file}'s sha256 differs from the one recorded when published")


def _made(folder: Path) -> str:
    """When an entry was published ("" when unreadable: evicted first)."""
    try:
        data = parse_json(read_bytes(folder / ENTRY_JSON, max_bytes=MAX_ENTRY_BYTES),
                          source=str(folder), hint=_HINT)  # fmt: skip
    except (InputError, OSError):
        return ""
    made = data.get("made") if isinstance(data, dict) else None
    return made if isinstance(made, str) and MADE.fullmatch(made) else ""


def _remove(path: Path) -> None:
    """Remove a damaged or evicted entry: a link itself (never its target), a file, a folder."""
    if path.is_symlink() or not path.is_dir():
        path.unlink(missing_ok=True)
    else:
        shutil.rmtree(path)  # removes links inside, never what they point at
