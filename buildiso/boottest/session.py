"""One attempt of one cell: the machine it runs, its stage clock and what the guest said.

The runner (``boottest/runner.py``) makes a ``Session`` per attempt and dispatches the
scenario's steps on it, in order. The session is the one place that starts a machine
(``start_machine``: through the injected ``MachineFactory``, QEMU for real, a scripted
guest in tests) and stops it, and the one place that starts and stops the repository
server a machine may reach (``repo_server``: for the cell's life); it reads the serial
ports as they grow (the installer's protocol lines on ttyS1), keeps the stage clock whose
limits the runner merged and scaled once, takes the filmstrip's frames while it waits, and
collects the checks and the transcript of typed commands that become the cell's result.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from buildiso.boottest import bootproto
from buildiso.boottest.artifacts import CellFolder
from buildiso.boottest.bootproto import LineReader, ProtocolLine, StageClock, last_lines
from buildiso.boottest.cellfailure import GUEST_STOPPED, TIMEOUT, Cancelled, CellFailed
from buildiso.boottest.console import SerialShell
from buildiso.boottest.filmstrip import DEFAULT_INTERVAL_S, Filmstrip
from buildiso.boottest.guest import Guest
from buildiso.boottest.qemu import FIRMWARE_LOG, VmSpec
from buildiso.boottest.reposerver import RepoServer
from buildiso.boottest.results import Check
from buildiso.boottest.scenario import Cell
from buildiso.boottest.screendump import Screenshot
from buildiso.boottest.seriallog import read_tail
from buildiso.config import Accel

if TYPE_CHECKING:
    from buildiso.boottest.disksteps import CellDisk
    from buildiso.boottest.inputs import Inputs

log = logging.getLogger(__name__)

POLL_S = 0.2
FIRMWARE_TAIL = 4 * 2**20  # what is read of the firmware log: SeaBIOS writes a few KiB


class MachineFactory(Protocol):
    """Starts a machine: creates ``new_disks`` (``disk_mb`` each) fresh, logs in ``folder``."""

    def __call__(
        self, spec: VmSpec, folder: Path, *, new_disks: Sequence[Path], disk_mb: int
    ) -> AbstractContextManager[Guest]: ...


@dataclass(frozen=True)
class RunOptions:
    accel: Accel
    frame_every_s: float = DEFAULT_INTERVAL_S  # filmstrip: a frame this often within a stage
    wait_local_timeout: bool = False  # boot-local: let the menu's timeout choose
    memory_mb: int = 2048
    disk_mb: int = 0  # a new disk's size when its media has no profile (0: qemu.MIN_DISK_MB)
    console_input: bool = False  # machines get ttyS0 as a socket (a scenario types)


class Session:
    """What the steps of one cell attempt share (see the module docstring)."""

    def __init__(
        self,
        *,
        cell: Cell,
        folder: CellFolder,
        inputs: Inputs,
        limits: Mapping[str, float],
        options: RunOptions,
        machines: MachineFactory,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        cancelled: Callable[[], bool] = lambda: False,
        on_stage: Callable[[str], None] | None = None,
        disk: CellDisk | None = None,
    ) -> None:
        self.cell = cell
        self.folder = folder
        self.inputs = inputs
        self.options = options
        self.machines = machines
        self.clock = clock
        self.sleep = sleep
        self.cancelled = cancelled
        self.on_stage = on_stage
        self.disk = disk  # the published disk of the scenario's publish-disk (--disk-cache)
        self.stages = StageClock(timeouts=dict(limits))
        self.checks: list[Check] = []
        self.transcript: list[dict[str, object]] = []
        self.before: dict[str, str] | None = None  # the inventory step's readings
        self.setting: tuple[str, str] | None = None  # what edit-setting changed
        # Accounts (by input name): who logged in last, the password each has now where a
        # step changed it, the new ones made for this run. In memory only, never written.
        self.logged_in: str | None = None
        self.passwords: dict[str, str] = {}
        self._fresh: dict[str, str] = {}
        self.menu_screenshot: Screenshot | None = None
        self.booted: str | None = None  # the input whose media the machine booted
        self.guest: Guest | None = None
        self.spec: VmSpec | None = None
        self.last_console = ""  # the console of the last machine, once it stopped
        self._machine: ExitStack | None = None
        self._shell: SerialShell | None = None
        self._servers: dict[str, RepoServer] = {}  # online-tree input -> its server
        self._services = ExitStack()
        self._reset_protocol()
        self.film = Filmstrip(folder.filmstrip, grab=self._grab, started=clock(),
                              interval_s=options.frame_every_s)  # fmt: skip

    def _reset_protocol(self) -> None:
        self.lines = LineReader()
        self.protocol_lines: list[ProtocolLine] = []
        self.install_result: ProtocolLine | None = None
        self.firstboot_result: ProtocolLine | None = None
        self._scanned: dict[str, int] = {}
        # where the current boot began: console offset, RESET events, firmware log size
        self.boot_mark = 0
        # console text before this offset is answered (a login, a page); the next waits after it
        self.read_mark = 0
        self.resets_mark = 0
        self.firmware_mark = 0

    # -- machines ------------------------------------------------------------------------

    def start_machine(
        self, spec: VmSpec, sub: str, *, new_disks: Sequence[Path] = (), disk_mb: int = 0
    ) -> Guest:
        """Start a machine (the one before is stopped); its logs go to the ``sub`` folder."""
        self.stop_machine()
        stack = ExitStack()
        try:
            self.guest = stack.enter_context(
                self.machines(spec, self.folder.machine(sub), new_disks=new_disks,
                              disk_mb=disk_mb)  # fmt: skip
            )
        except BaseException:
            stack.close()
            raise
        self._machine = stack
        self.spec = spec
        self._reset_protocol()
        return self.guest

    def stop_machine(self) -> None:
        if self._shell is not None:
            self._shell.close()
            self._shell = None
        if self.guest is not None:
            self.guest.console.poll()  # its last words, for the failure's console tail
            self.last_console = self.guest.console.text
        if self._machine is not None:
            self._machine.close()
        self._machine, self.guest, self.spec = None, None, None

    def close(self) -> None:
        """Stop the machine, then the servers it reached (also on a failure or Ctrl-C)."""
        try:
            self.stop_machine()
        finally:
            self._services.close()

    def repo_server(self, name: str) -> RepoServer:
        """The server of the online tree ``name`` (an input), started on first use and
        stopped with the session; its requests go to the cell's repo-server.log."""
        if name not in self._servers:
            tree = self.inputs.online(name)
            server = RepoServer(tree.root, log_path=self.folder.repo_server_log)
            self._servers[name] = self._services.enter_context(server)
        return self._servers[name]

    def running(self) -> Guest:
        """The running machine (the reader made sure a step that needs one has one)."""
        if self.guest is None:
            raise CellFailed(GUEST_STOPPED + self.stages.waiting_for(), "no machine is running")
        return self.guest

    def shell(self) -> SerialShell:
        """The serial console's socket, as a person's keyboard (one per machine)."""
        guest = self.running()
        if self._shell is None:
            self._shell = SerialShell(socket_path=guest.console_socket, console=guest.console,
                                      running=lambda: guest.running)  # fmt: skip
        return self._shell

    def _grab(self, path: Path) -> Screenshot:
        if self.guest is None:
            raise RuntimeError("no machine is running")
        return self.guest.screendump(path)  # full size: the filmstrip shrinks it

    def screenshot(self, path: Path) -> Screenshot | None:
        """The screen now, best effort: evidence, never the verdict."""
        try:
            if self.guest is not None and self.guest.running:
                return self.guest.screendump(path)
        except Exception as exc:  # noqa: BLE001 - the guest may be gone; the result is the point
            log.debug("screenshot %s: %s", path.name, exc)
        return None

    def fresh_password(self, account: str, make: Callable[[], str]) -> str:
        """The new password made for ``account`` in this run (``make`` makes it once)."""
        if account not in self._fresh:
            self._fresh[account] = make()
        return self._fresh[account]

    # -- reading -------------------------------------------------------------------------

    def limit(self, stage: str) -> float:
        return float(self.stages.timeouts[stage])

    def console_text(self) -> str:
        """The console so far, for results (a failure's tail): a password made for the run
        is blanked, should the guest have shown it (a defect the step reports)."""
        text = self.guest.console.text if self.guest is not None else self.last_console
        for secret in self._fresh.values():
            text = text.replace(secret, "[password]")
        return text

    def console_tail(self, count: int = 15) -> list[str]:
        return last_lines(self.console_text(), count)

    def poll(self) -> None:
        guest = self.running()
        guest.console.poll()
        now = self.clock()
        for raw in self.lines.feed(guest.protocol.poll()):
            line = bootproto.parse_line(raw)
            if line is None:
                continue
            self.protocol_lines.append(line)
            if line.kind == "BUILDISO-STAGE":
                self.stages.feed(line, now)
            elif line.kind == "INSTALL-RESULT" and self.install_result is None:
                self.install_result = line
            elif line.kind == "FIRSTBOOT-RESULT" and self.firstboot_result is None:
                self.firstboot_result = line

    def firmware_log(self) -> str:
        # SeaBIOS logs to the debug console (port 0x402); OVMF prints BdsDxe lines on ttyS0.
        guest = self.running()
        try:
            return read_tail(guest.console.path.parent / FIRMWARE_LOG, max_bytes=FIRMWARE_TAIL)
        except OSError:
            return ""

    def firmware_summary(self) -> str:
        lines = [ln for ln in last_lines(self.firmware_log(), 200) if "boot" in ln.lower()]
        lines += [ln for ln in last_lines(self.console_text(), 200) if "BdsDxe" in ln]
        return " / ".join(lines[-4:]) or "nothing"

    def console_since(self, offset: int) -> str:
        return bootproto.strip_ansi(self.running().console.text[offset:])

    def scan_console(self, pattern: re.Pattern[str], since: int) -> re.Match[str] | None:
        """``pattern`` in the raw console output after ``since``, scanning only new text."""
        text = self.running().console.text
        start = max(since, self._scanned.get(pattern.pattern, since) - 200)
        self._scanned[pattern.pattern] = len(text)
        return pattern.search(text, start)

    def resets(self) -> int:
        return self.running().event_names().count("RESET")

    def wait(
        self, done: Callable[[], bool], on_timeout: Callable[[str, float], CellFailed]
    ) -> None:
        """Poll until ``done()``; a stage over its limit raises ``on_timeout(stage, secs)``."""
        while True:
            self.poll()
            stage = self.stages.waiting_for()
            self.film.tick(stage, self.clock())
            if self.on_stage is not None:
                self.on_stage(stage)
            if done():
                return
            if self.cancelled():
                raise Cancelled()
            now = self.clock()
            overdue = self.stages.overdue(now)
            if overdue is not None:
                self.stages.mark_timeout(now)
                raise on_timeout(overdue.stage, overdue.seconds)
            guest = self.running()
            if not guest.running:
                why = guest.stderr_tail() or "no error output"
                failure_class = (
                    "qemu-exited" if stage in bootproto.HOST_STAGES else GUEST_STOPPED + stage
                )
                raise CellFailed(failure_class, f"QEMU exited during stage {stage} ({why})")
            self.sleep(POLL_S)

    @staticmethod
    def timeout_in_stage(stage: str, seconds: float) -> CellFailed:
        return CellFailed(TIMEOUT + stage, f"stuck in stage {stage} after {seconds:.0f} s")

    def entered(self, stage: str) -> None:
        """Tell the live progress display (the runner enters a step's stage)."""
        if self.on_stage is not None:
            self.on_stage(stage)
