"""The ``publish-disk`` step, and what a cell does with a published disk.

    publish-disk   shut the machine down cleanly (Ctrl-Alt-Delete at its login prompt,
                   its reboot made a power-off; a machine that powered itself off, as
                   after install-server, is left so). With ``--disk-cache DIR`` its disks
                   are then published under the key of the steps before this one
                   (``boottest/diskkey.py``) and the cell goes on from a copy-on-write
                   overlay on them; without, from its own disks. Either way the next step
                   boots the disk anew (``boot-disk``), so what follows never depends on
                   whether the install ran in this run.

When the key is published already, the runner skips the steps before ``publish-disk``
(``DiskPlan.begin``) and this step starts the cell from the published disk: the result,
the transcript and the log say "started from published disk KEY (made DATE)". A cache
that cannot be used (not writable, full) costs the run its speed, never its verdict: a
warning, and the cell goes on with its own disks.
"""

from __future__ import annotations

import fcntl
import logging
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from buildiso.boottest import diskkey
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.console import LOGIN_PROMPT
from buildiso.boottest.diskcache import DiskCache, Entry, KeyLock, overlay
from buildiso.boottest.diskkey import DiskKey, Environment
from buildiso.boottest.inputs import Inputs
from buildiso.boottest.results import DiskUse
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.session import RunOptions, Session
from buildiso.boottest.steps import NAME, FlowState, Param, StepCall, StepKind
from buildiso.config import Firmware
from buildiso.errors import BuildisoError
from buildiso.log import step

log = logging.getLogger(__name__)

PUBLISH_DISK = "publish-disk"
UNCLEAN = "unclean-shutdown"
# The kernel's last word on an orderly restart or power-off (Linux 6.1 "reboot: Restarting
# system", "reboot: Power down"; RHEL 6's 2.6.32 "Restarting system.", "Power down."):
# init (or the installer) stopped, synced and unmounted first.
STOPPED = re.compile(r"Restarting system|Power down")
# What may go wrong with the cache folder itself: the run goes on without it.
CACHE_TROUBLE = (OSError, BuildisoError)


@dataclass
class CellDisk:
    """One cell attempt's published disk: its key, its lock, the entry it uses."""

    cache: DiskCache
    key: DiskKey
    skips: tuple[StepCall, ...]  # the steps that make the disk (skipped when published)
    lock: KeyLock = field(init=False)
    entry: Entry | None = None
    started_from: bool = False  # the entry was there when the cell began
    note: str = ""

    def __post_init__(self) -> None:
        self.lock = self.cache.lock(self.key.name)

    def begin(self) -> bool:
        """Look the key up; True when published. The entry is then held (shared) until
        ``close``, so no run evicts it meanwhile; other runs may use it too."""
        try:
            self.entry = self._shared()
            if self.entry is None:
                return False
        except CACHE_TROUBLE as exc:
            self._trouble(exc)
            return False
        self.started_from = True
        first, last = self.skips[0], self.skips[-1]
        skipped = (f"step {first.index} ({first.kind})" if first is last else
                   f"steps {first.index}-{last.index} ({first.kind} … {last.kind})")  # fmt: skip
        self.note = (f"started from published disk {self.key.name} (made {self.entry.made}); "
                     f"{skipped} skipped")  # fmt: skip
        return True

    def _shared(self) -> Entry | None:
        """The entry, checked under the shared lock (kept when found, released if not)."""
        self.lock.take(fcntl.LOCK_SH)
        entry = self.cache.lookup(self.key.name)
        if entry is None:
            self.lock.release()  # others may publish it while this cell makes it
        return entry

    def publish(self, disks: list[Path]) -> Entry | None:
        """Publish ``disks`` (or take the entry another run published meanwhile)."""
        try:
            entry = self._shared()  # published by another run while this one made it?
            if entry is None:
                self.lock.take(fcntl.LOCK_EX)  # waits only for a writer of the same key
                entry = self.cache.lookup(self.key.name, remove=True)
            if entry is None:
                with step(f"publishing disk {self.key.short}"):
                    entry = self.cache.publish(self.key.name, disks, self.key.made_from)
                self.note = f"published disk {self.key.name} (made {entry.made})"
            else:
                self.note = (f"published disk {self.key.name} (made {entry.made}) by another "
                             "run meanwhile: continued from it")  # fmt: skip
            self.lock.take(fcntl.LOCK_SH)
            self.cache.evict(self.key.name)
        except CACHE_TROUBLE as exc:
            self._trouble(exc)
            return None
        self.entry = entry
        return entry

    def _trouble(self, exc: BaseException) -> None:
        self.lock.release()
        self.entry = None
        self.note = f"disk cache not used: {exc}"
        log.warning("%s: %s; going on without it", self.key.short, self.note)

    def use(self, s: Session) -> None:
        """The cell's disks become overlays on the entry's."""
        assert self.entry is not None
        for index, disk in enumerate(self.entry.disks, start=1):
            overlay(self.entry.path(disk), s.folder.disk(index))
        s.transcript.append({"stage": s.stages.waiting_for(), "note": self.note})
        log.info("%s: %s", s.folder.path.name, self.note)

    def used(self) -> DiskUse | None:
        if self.entry is None:
            return None
        return DiskUse(key=self.key.name, made=self.entry.made,
                       action="started-from" if self.started_from else "published")  # fmt: skip

    def close(self) -> None:
        self.lock.release()


@dataclass
class DiskPlan:
    """A run's published disks: its cache, and what every key of the run shares."""

    cache: DiskCache
    env: Environment
    scenario: Scenario
    inputs: Inputs
    options: RunOptions
    kinds: Mapping[str, StepKind]
    dvd_sha256: Callable[[Path], str] = field(default_factory=diskkey.file_sha256_cache)

    @property
    def index(self) -> int | None:
        """Where the scenario's publish-disk step is (None: it publishes nothing)."""
        found = [i for i, c in enumerate(self.scenario.steps) if c.kind == PUBLISH_DISK]
        return found[0] if found else None

    def cell(self, cell: Cell) -> CellDisk | None:
        index = self.index
        if index is None:
            return None
        call = self.scenario.steps[index]
        try:
            key = diskkey.derive(disk=call.text("disk"), cell=cell.name,
                                 steps=self.scenario.steps[:index], kinds=self.kinds,
                                 inputs=self.inputs, options=self.options, env=self.env,
                                 dvd_sha256=self.dvd_sha256)  # fmt: skip
        except CACHE_TROUBLE as exc:  # an input that cannot be hashed: made, not published
            log.warning("%s: disk cache not used: %s", cell.name, exc)
            return None
        return CellDisk(cache=self.cache, key=key, skips=self.scenario.steps[:index])


# -- the step ----------------------------------------------------------------------------


def publish_disk(s: Session, call: StepCall) -> None:
    disk = s.disk
    if disk is not None and disk.started_from:
        disk.use(s)  # the runner skipped the steps that make it
        return
    if s.guest is not None and s.guest.running:
        shut_down(s)
    elif s.guest is not None:  # it stopped itself (install-server: the installer's reboot)
        s.guest.console.poll()
        if STOPPED.search(s.guest.console.text[-8192:]) is None:
            raise CellFailed(UNCLEAN, "the machine stopped without the kernel's 'Restarting "
                             "system' or 'Power down': its disk is not published")  # fmt: skip
        s.stop_machine()
    if disk is not None and disk.publish(s.folder.disks()) is not None:
        disk.use(s)


def shut_down(s: Session) -> None:
    """Ctrl-Alt-Delete at the login prompt (init stops the services and unmounts), with the
    machine's reboot made a power-off; the kernel must say it restarts in order."""
    guest = s.running()
    since = s.boot_mark
    s.wait(lambda: LOGIN_PROMPT.search(s.console_since(since)) is not None, s.timeout_in_stage)
    guest.reboot_powers_off()
    mark = len(guest.console.text)
    guest.send_keys(["ctrl-alt-delete"])
    s.wait(lambda: not guest.running, s.timeout_in_stage)
    guest.console.poll()
    if STOPPED.search(guest.console.text, mark) is None:
        raise CellFailed(UNCLEAN, "the machine stopped without the kernel's 'Restarting "
                         "system' after Ctrl-Alt-Delete: its disk is not published")
    s.stop_machine()


def _order(call: StepCall, state: FlowState) -> list[str]:
    problems = []
    if not state.disk:
        problems.append("no disk to publish: no step before it installs one (boot-media, "
                        "install-server)")  # fmt: skip
    if state.published:
        problems.append("a scenario publishes one disk: a publish-disk step came before")
    return problems


KINDS = (
    StepKind(
        name=PUBLISH_DISK,
        summary="shut the machine down in order (Ctrl-Alt-Delete at its login prompt, its "
        "reboot made a power-off; one that stopped itself, as after install-server, must "
        "have stopped in order); with --disk-cache publish its disks as DISK, keyed by all "
        "that made them, and go on from an overlay on them. When DISK is published already, "
        "the steps before are skipped and the cell starts here (BIOS cells only)",
        example='{ do = "publish-disk", disk = "minimal-server", limit = 120 }',
        run=publish_disk,
        params=(Param("disk", "the published disk's name (scenarios that make it the same "
                      "way share it)", pattern=NAME),),
        stage="publish-disk",
        classes=(UNCLEAN,),
        needs_machine=False, stops=True, firmwares=(Firmware.BIOS,), marks=("published",),
        validate=_order,
    ),  # fmt: skip
)
