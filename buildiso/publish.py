"""The build's outputs: one build per output folder, a scratch folder, atomic publishing.

- ``locked_work_dir``: an flock on the output folder (one build at a time), removal of the
  scratch folders a killed build left, and a fresh scratch folder on the same file system
  (so the final renames are atomic);
- ``unchanged_build`` / ``record_state``: the hidden ``.<stem>.buildstate.json`` that lets an
  unchanged rebuild be skipped (machine facts kept out of the byte-reproducible manifest);
- ``publish``: SHA256SUM, the ISO, the online repository tree and the manifest renamed into
  place together, with Ctrl-C/SIGTERM held until all of them agree;
- ``sigterm_as_interrupt``: a killed build (CI cancel, systemd stop, a closed terminal)
  cleans up like Ctrl-C (``buildiso/interrupts.py``, shared with every verb).
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from buildiso import boundedjson, interrupts
from buildiso.atomicfile import fsync_path, move_aside, replace_file
from buildiso.compose import online
from buildiso.errors import InputError
from buildiso.manifest import MAX_MANIFEST_BYTES, Manifest, load_manifest, write_manifest

log = logging.getLogger(__name__)

STATE_SCHEMA = 1  # the hidden .<stem>.buildstate.json
_MAX_STATE_BYTES = 64 * 1024  # the state file and SHA256SUM: a few hundred bytes


@dataclass(frozen=True)
class Outputs:
    """Where one build's outputs go: ``EMAIL_490_190.iso`` and its companions."""

    out_dir: Path
    iso_name: str

    @property
    def stem(self) -> str:
        return self.iso_name.removesuffix(".iso")

    @property
    def iso(self) -> Path:
        return self.out_dir / self.iso_name

    @property
    def manifest(self) -> Path:
        return self.out_dir / f"{self.stem}.manifest.json"

    @property
    def state(self) -> Path:
        return self.out_dir / f".{self.stem}.buildstate.json"

    @property
    def sums(self) -> Path:
        return self.out_dir / "SHA256SUM"

    @property
    def online(self) -> Path:
        """The online repository's document root (docs/online-repo.md)."""
        return self.out_dir / online.folder_name(self.stem)


@dataclass(frozen=True)
class BuildResult:
    iso: Path
    size: int
    sha256: str
    implanted_md5: str
    manifest: Path
    seconds: float
    skipped: bool  # unchanged inputs: the existing ISO was kept
    online: Path  # the online repository's document root (docs/online-repo.md)


def result_from(
    manifest: Mapping[str, Any], outputs: Outputs, started: float, *, skipped: bool
) -> BuildResult:
    return BuildResult(
        iso=outputs.iso,
        size=int(manifest["iso"]["size"]),
        sha256=str(manifest["iso"]["sha256"]),
        implanted_md5=str(manifest["iso"]["implanted_md5"]),
        manifest=outputs.manifest,
        seconds=time.monotonic() - started,
        skipped=skipped,
        online=outputs.online,
    )


# --- the scratch folder -------------------------------------------------------------------


@contextmanager
def locked_work_dir(out_dir: Path, iso_name: str) -> Iterator[Path]:
    """A scratch folder inside ``out_dir`` (same file system: renames are atomic).

    One build per output folder at a time (flock on the folder itself, so no lock file is
    left behind); holding it, scratch folders of a killed build (SIGKILL, power loss: no
    cleanup ran) are removed, or each would keep a partial ISO's worth of disk.
    """
    folder = os.open(out_dir, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(folder, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            log.info("    waiting for the other build writing into %s", out_dir)
            fcntl.flock(folder, fcntl.LOCK_EX)
        for stale in sorted(out_dir.glob(f".{iso_name}.work-*")):
            log.info("    removing %s, left by a killed build", stale.name)
            remove_tree(stale)
        work = Path(tempfile.mkdtemp(prefix=f".{iso_name}.work-", dir=out_dir))
        try:
            yield work
        finally:
            remove_tree(work)
    finally:
        os.close(folder)  # releases the lock


def remove_tree(path: Path) -> None:
    """rmtree that a Ctrl-C or SIGTERM arriving meanwhile cannot leave half done: the
    interrupt is raised again once the folder is gone."""
    interrupted = False
    for _attempt in range(5):
        try:
            shutil.rmtree(path, ignore_errors=True)
            break
        except KeyboardInterrupt:
            interrupted = True
    if interrupted:
        raise KeyboardInterrupt


# --- skipping an unchanged rebuild ----------------------------------------------------------


def _file_state(path: Path) -> dict[str, int]:
    st = path.stat()
    return {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "ino": st.st_ino}


def record_state(
    *, state_path: Path, iso_path: Path, manifest_path: Path, fingerprint: str
) -> None:
    """The hidden rebuild-skip state: machine facts that must stay out of the manifest."""
    state = {
        "schema": STATE_SCHEMA,
        "fingerprint": fingerprint,
        "iso": _file_state(iso_path),
        "manifest_sha256": hashlib.sha256(manifest_path.read_bytes()).hexdigest(),
    }
    write_manifest(state_path, state)


def unchanged_build(
    *, manifest_path: Path, iso_path: Path, sums: Path, state_path: Path, fingerprint: str
) -> Manifest | None:
    """The previous manifest when it was built from the same inputs and neither the ISO nor
    the manifest was touched since. A state file that does not match is removed."""
    if not state_path.is_file():
        return None
    if not (manifest_path.is_file() and iso_path.is_file() and sums.is_file()):
        state_path.unlink(missing_ok=True)
        return None
    try:
        # our own files: read bounded, never through a link someone put in their place
        state = boundedjson.load(state_path, max_bytes=_MAX_STATE_BYTES, max_depth=4)
        old = load_manifest(manifest_path, follow_symlinks=False)
        manifest_bytes = boundedjson.read_bytes(manifest_path, max_bytes=MAX_MANIFEST_BYTES)
        sums_text = boundedjson.read_text(sums, max_bytes=_MAX_STATE_BYTES)
    except (OSError, ValueError, InputError):
        state_path.unlink(missing_ok=True)
        return None
    sums_line = f"{old.get('iso', {}).get('sha256')}  {iso_path.name}"
    manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
    if (
        isinstance(state, dict)
        and state.get("schema") == STATE_SCHEMA
        and state.get("fingerprint") == fingerprint
        and state.get("iso") == _file_state(iso_path)
        and state.get("manifest_sha256") == manifest_sha256
        and sums_line in sums_text
    ):
        return old
    state_path.unlink(missing_ok=True)
    return None


def previous_build(outputs: Outputs, *, fingerprint: str) -> Manifest | None:
    """``unchanged_build`` for these outputs, whose online repository tree must also hold
    exactly the files the manifest lists, by content (it is served as it is on disk)."""
    previous = unchanged_build(
        manifest_path=outputs.manifest,
        iso_path=outputs.iso,
        sums=outputs.sums,
        state_path=outputs.state,
        fingerprint=fingerprint,
    )
    if previous is None:
        return None
    entry = previous.get("online")
    files = entry.get("files") if isinstance(entry, dict) else None
    if not (isinstance(files, dict) and online.published_intact(outputs.online, files)):
        log.info("    %s differs from the manifest: rebuilding", outputs.online.name)
        outputs.state.unlink(missing_ok=True)
        return None
    return previous


# --- publishing -------------------------------------------------------------------------------


def publish(
    *,
    outputs: Outputs,
    tmp_iso: Path,
    sha256: str,
    manifest: Manifest,
    fingerprint: str,
    tmp_online: Path | None = None,
) -> None:
    """Rename the ISO into place with its SHA256SUM, online repository tree (``tmp_online``,
    in the scratch folder) and manifest; record the rebuild state.

    An interrupt waits until they all agree; the old state goes first, so it never vouches
    for a half-published set, and the new one is written last. A folder cannot be renamed
    over a full one: the old tree is moved into the scratch folder (removed with it) and the
    new one renamed in, two renames apart.
    """
    tmp_sums = tmp_iso.with_name("SHA256SUM")
    tmp_sums.write_text(f"{sha256}  {outputs.iso_name}\n", encoding="ascii")
    # Every new file exists before the first rename: a file system that fills up now
    # fails the build with the old outputs all in place, never half replaced.
    tmp_manifest = tmp_iso.with_name(outputs.manifest.name)
    write_manifest(tmp_manifest, manifest)
    # On disk before renamed into place: after a power cut the names never point at
    # data that was still only in the page cache.
    for path in (tmp_sums, tmp_manifest, tmp_iso):
        fsync_path(path)
    if tmp_online is not None:
        online.fsync_tree(tmp_online, fsync_path)
    with signals_held():
        outputs.state.unlink(missing_ok=True)
        replace_file(tmp_sums, outputs.sums)
        replace_file(tmp_iso, outputs.iso)
        if tmp_online is not None:
            if outputs.online.exists() or outputs.online.is_symlink():
                # into the scratch folder: removed with it, after the signals are let go
                move_aside(outputs.online, tmp_online.with_name(tmp_online.name + ".old"))
            replace_file(tmp_online, outputs.online)
        replace_file(tmp_manifest, outputs.manifest)
        try:
            record_state(
                state_path=outputs.state,
                iso_path=outputs.iso,
                manifest_path=outputs.manifest,
                fingerprint=fingerprint,
            )
        except OSError as exc:  # only the rebuild-skip state: the next build rebuilds
            log.warning("could not record the build state (%s): the next build rebuilds", exc)
        fsync_path(outputs.out_dir)  # the renames themselves


# --- signals ---------------------------------------------------------------------------------

# One implementation for every verb (buildiso/interrupts.py); the names the build uses.
sigterm_as_interrupt = interrupts.terminate_as_interrupt
signals_held = interrupts.signals_held
