"""The boot test's artifacts folder, its files named once, and the one way they are written.

``RunFolder`` is ``--artifacts``: ``summary.json``, ``junit.xml``, the Rufus-style stick
image and one ``CellFolder`` per cell (its result, timings, transcript, screenshots,
filmstrip, disks, and a subfolder per extra machine a scenario starts). Every file is
written through ``write_bytes``: a temporary name beside it, then a rename, so a reader
never sees half a file.

No file is written through a link someone planted in the folder: ``RunFolder.refuse_links``
refuses, before anything runs, a link where this run will write (summary.json, junit.xml,
a stick image, a cell's folder or an earlier attempt's); the writers refuse a linked
destination (``buildiso/atomicfile.py``); a cell's folder is made afresh (``fresh_dir``:
whatever was there removed without following a link, then created exclusively), so the
files QEMU opens by name (serial logs) are in a folder this run created.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from buildiso.atomicfile import write_bytes_atomic
from buildiso.boottest.filmstrip import FOLDER as FILMSTRIP
from buildiso.errors import InputError

SUMMARY = "summary.json"
JUNIT = "junit.xml"
USB_FILES_IMAGE = "usb-files.img"
RESULT = "result.json"
TIMINGS = "timings.json"
TRANSCRIPT = "transcript.json"
POSTINSTALL_REPORT = "postinstall-report.json"
REPO_SERVER_LOG = "repo-server.log"
MENU_PNG = "menu.png"
LOCAL_MENU_PNG = "local-menu.png"
FAILURE_PNG = "failure.png"
SCREENSHOTS = (MENU_PNG, LOCAL_MENU_PNG, FAILURE_PNG)
ATTEMPT = ".attempt"  # <cell>.attemptN: an attempt QEMU did not start in, kept aside


def write_bytes(path: Path, data: bytes) -> None:
    """``data`` at ``path``, whole or not at all (a temporary name, then a rename)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_bytes_atomic(path, data)  # no write through a symlink planted in the folder


def write_json(path: Path, data: object) -> None:
    # insertion order kept: a stage table lists stages in the order they ran
    write_bytes(path, (json.dumps(data, indent=2) + "\n").encode("utf-8"))


@dataclass(frozen=True)
class CellFolder:
    """One cell's folder (``<artifacts>/<cell name>``)."""

    path: Path

    @property
    def result(self) -> Path:
        return self.path / RESULT

    @property
    def timings(self) -> Path:
        return self.path / TIMINGS

    @property
    def transcript(self) -> Path:
        return self.path / TRANSCRIPT

    @property
    def postinstall_report(self) -> Path:
        return self.path / POSTINSTALL_REPORT

    @property
    def filmstrip(self) -> Path:
        return self.path / FILMSTRIP

    @property
    def repo_server_log(self) -> Path:
        return self.path / REPO_SERVER_LOG

    def screenshot(self, name: str) -> Path:
        return self.path / name

    def disk(self, index: int = 1) -> Path:
        """The machine's target disks: ``disk.qcow2``, then ``disk2.qcow2``, …"""
        return self.path / ("disk.qcow2" if index == 1 else f"disk{index}.qcow2")

    def disks(self) -> list[Path]:
        return sorted(self.path.glob("disk*.qcow2"))

    def machine(self, sub: str) -> Path:
        """Where a machine's logs go: the cell folder itself (``""``) or a subfolder."""
        return self.path / sub if sub else self.path


@dataclass(frozen=True)
class RunFolder:
    """``--artifacts``: one run (or shard) of ``buildiso boot-test``."""

    path: Path

    @property
    def summary(self) -> Path:
        return self.path / SUMMARY

    @property
    def junit(self) -> Path:
        return self.path / JUNIT

    @property
    def usb_files_image(self) -> Path:
        return self.path / USB_FILES_IMAGE

    def cell(self, name: str) -> CellFolder:
        return CellFolder(self.path / name)

    def refuse_links(self, cells: Iterable[str]) -> None:
        """InputError (one line) for a link where this run writes: checked before anything
        runs, so the run does not fail at its end (or write through it)."""
        names = set(cells)
        stick = Path(USB_FILES_IMAGE)
        try:
            entries = sorted(os.scandir(self.path), key=lambda e: e.name)
        except FileNotFoundError:
            return
        for entry in entries:
            name = entry.name
            ours = (
                name in (SUMMARY, JUNIT)
                or (name.startswith(stick.stem) and name.endswith(stick.suffix))
                or name.split(ATTEMPT)[0] in names
            )
            if ours and entry.is_symlink():
                raise InputError(
                    f"--artifacts {self.path}: {name} is a symbolic link; boot-test writes "
                    "no file through a link",
                    hint="remove the link, or give --artifacts a new folder",
                )


def clear(path: Path) -> None:
    """Remove whatever is at ``path`` (a folder and its files, a file, a link: the link
    itself), never following a link."""
    if path.is_symlink() or (path.exists() and not path.is_dir()):
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)  # does not follow links inside (it works on descriptors)


def fresh_dir(path: Path) -> Path:
    """``path`` as a new, empty folder made by this process: what was there is removed
    (``clear``), then the folder is created exclusively (``FileExistsError`` if someone
    put something there meanwhile)."""
    clear(path)
    path.parent.mkdir(parents=True, exist_ok=True)  # the run's folder
    os.mkdir(path)
    return path
