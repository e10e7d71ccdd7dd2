"""The boot test's artifacts folder, its files named once, and the one way they are written.

``RunFolder`` is ``--artifacts``: ``summary.json``, ``junit.xml``, the Rufus-style stick
image and one ``CellFolder`` per cell (its result, timings, transcript, screenshots,
filmstrip, disks, and a subfolder per extra machine a scenario starts). Every file is
written through ``write_bytes``: a temporary name beside it, then a rename, so a reader
never sees half a file.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from buildiso.atomicfile import write_bytes_atomic
from buildiso.boottest.filmstrip import FOLDER as FILMSTRIP

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
