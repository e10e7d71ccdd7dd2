"""``buildiso boot-test --scenario``: the guide's other uses of the ISO, as boot tests.

``install`` is the fresh install (``matrix.py``). ``appendix-a`` is the installation
guide's Appendix A, software install from disc: a Minimal RHEL 6.10 server (``server.py``,
installed from a RHEL 6.10 DVD, nothing of the product on it) boots its disk with the
product ISO in its DVD drive; root logs in on the serial console and types the guide's
commands exactly as printed (``console.py``), each one a stage with its own time limit;
then the installed system is checked with rpm and yum. A failing step fails the cell with
the step's class (``packages`` for rpm/yum, ``media`` for the mount) and the reason the
tool gave (a conflict is named).

Artifacts per cell: ``server-install/`` (the server's install: console, protocol),
``appendix-a/`` (the server's boot and the session: console.log shows every command as
typed and its output), ``transcript.json`` (command, exit status, seconds, output),
``result.json``, ``timings.json``; the table and JUnit are ``matrix.py``'s.
"""

from __future__ import annotations

import logging
import re
import shutil
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from buildiso.atomicfile import write_json_atomic
from buildiso.boottest import bootproto
from buildiso.boottest.bootcell import Cell, CellResult
from buildiso.boottest.celldriver import CellConfig, CellDriver
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.console import CommandResult, SerialShell
from buildiso.boottest.isomenu import read_menu
from buildiso.boottest.mediachecks import FORBIDDEN_QUERY, check, media_install_checks
from buildiso.boottest.postreport import CheckResult
from buildiso.boottest.qemu import VmSpec
from buildiso.boottest.server import ServerMedia, install_server, prepare
from buildiso.boottest.vm import QemuStartError, Vm
from buildiso.config import Accel, Firmware, Media, Scenario
from buildiso.errors import InputError
from buildiso.log import step
from buildiso.render.profile import Profile
from buildiso.run import output, run

log = logging.getLogger(__name__)


REPO_CONF_RPM = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
# Installation guide, Appendix A, steps 1-5, exactly as printed.
APPENDIX_A_STEPS: tuple[tuple[str, str, str], ...] = (
    ("step-1", "mkdir -p /media/os", "media"),
    ("step-2", "mount /dev/cdrom /media/os", "media"),
    ("step-3", f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF_RPM}", "packages"),
    ("step-4", "yum remove -y postfix rsyslog samba-common", "packages"),
    ("step-5", "yum install -y cs-email --enablerepo=cs-*", "packages"),
)
SCENARIO_TIMEOUTS: Mapping[str, float] = {
    "server-boot": 240,  # firmware → login prompt of the installed server
    "step-1": 60,
    "step-2": 60,
    "step-3": 180,
    "step-4": 300,
    "step-5": 600,
    "checks": 300,
}
# dnf's words for what stopped a transaction: the reason a failed step reports.
_REASON = re.compile(
    r"conflicts with [^\n]*|nothing provides [^\n]*|[^\n]*is not signed[^\n]*"
    r"|[^\n]*[Pp]ublic key [^\n]*|No match for argument[^\n]*|mount: [^\n]*|error: [^\n]*"
)


@dataclass(frozen=True)
class ScenarioConfig:
    iso: Path  # the product ISO (in the server's DVD drive)
    rhel_iso: Path  # the DVD the server is installed from
    cell: CellConfig
    disk_mb: int
    skip_steps: frozenset[str] = frozenset()  # e.g. {"step-4"}: the negative test
    timeouts: Mapping[str, float] = field(default_factory=lambda: dict(SCENARIO_TIMEOUTS))


def reason(result: CommandResult) -> str:
    found = _REASON.findall(result.output)
    tail = [ln for ln in result.output.splitlines() if ln.strip()][-2:]
    return "; ".join(dict.fromkeys(s.strip() for s in (found or tail)))[:400]


def signing_key_id(iso: Path, work: Path) -> str | None:
    """The key ID (8 hex digits) that signed the ISO's cs-email-repo-conf: yum must import it."""
    rpm = work / REPO_CONF_RPM
    rpm.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract", f"/cs-repo/Packages/{REPO_CONF_RPM}", rpm])
    sig = output(["rpm", "-qp", "--nosignature", "--qf", "%{RSAHEADER:pgpsig}", rpm])
    found = re.search(r"Key ID ([0-9a-f]+)", sig)
    return found.group(1)[-8:] if found else None


def appendix_a_checks(
    shell: SerialShell, *, profile: Profile, key_id: str | None, timeout: float
) -> list[CheckResult]:
    """What Appendix A must leave: the gateway at this release, the three gone, the cs-*
    repositories defined and disabled, the vendor key in rpm's database."""

    def ask(command: str) -> str:
        return shell.run(command, timeout=timeout, stage="checks").output

    want = f"{profile.version}-{profile.build}"
    nvr = ask("rpm -qa --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' 'cs-email*'")
    installed = dict(line.split(" ", 1) for line in nvr.splitlines() if line.startswith("cs-"))
    product = {n: v for n, v in installed.items() if n != "cs-email-repo-conf"}
    wrong = {n: v for n, v in product.items() if v != want}
    checks = [
        check(
            "gateway-version",
            installed.get("cs-email") == want and not wrong and len(product) > 1,
            f"cs-email and its packages at {want}: {sorted(installed.items())}",
        )
    ]
    checks += media_install_checks(
        forbidden=ask(FORBIDDEN_QUERY),
        repos=ask("yum repolist --all"),
        keys=ask("rpm -q gpg-pubkey --qf '%{VERSION}\\n'"),
        key_id=key_id,
    )
    return checks


def run_appendix_a(
    config: ScenarioConfig,
    *,
    server: ServerMedia,
    key_id: str | None,
    clock: Callable[[], float] = time.monotonic,
) -> CellResult:
    cell = Cell(Firmware.BIOS, Media.DVD)
    art = config.cell.artifacts
    art.mkdir(parents=True, exist_ok=True)
    started = clock()
    limits = bootproto.scaled(
        {**bootproto.DEFAULT_TIMEOUTS, **config.cell.timeouts, **config.timeouts},
        config.cell.timeout_scale,
    )
    stages = bootproto.StageClock(timeouts=limits)
    checks: list[CheckResult] = []
    transcript: list[dict[str, object]] = []
    failure: CellFailed | None = None
    disk = art / "disk.qcow2"

    def driver_for(vm: Vm) -> CellDriver:
        driver = CellDriver(config.cell, vm, clock=clock, sleep=time.sleep, cancelled=lambda: False)
        driver.stages = stages
        return driver

    try:
        install_server(
            media=server,
            rhel_iso=config.rhel_iso,
            disk=disk,
            disk_mb=config.disk_mb,
            config=config.cell,
            driver_factory=driver_for,
        )
        spec = VmSpec(
            firmware=Firmware.BIOS,
            media=Media.DVD,
            iso=config.iso,
            disk=disk,
            accel=config.cell.accel,
            memory_mb=config.cell.memory_mb,
            boot_media=False,
            console_input=True,
        )
        with Vm(spec, artifacts=art / "appendix-a") as vm:
            shell = SerialShell(
                socket_path=vm.files.console_socket, console=vm.console, running=lambda: vm.running
            )
            try:
                stages.enter("server-boot", clock())
                shell.login(
                    user="root",
                    password=server.root_password,
                    since=0,
                    timeout=limits["server-boot"],
                )
                for stage, command, klass in APPENDIX_A_STEPS:
                    if stage in config.skip_steps:
                        continue
                    stages.enter(stage, clock())
                    done = shell.run(command, timeout=limits[stage], stage=stage)
                    transcript.append(
                        {
                            "stage": stage,
                            "command": command,
                            "status": done.status,
                            "seconds": round(done.seconds, 1),
                            "output": done.output,
                        }
                    )
                    if done.status != 0:
                        raise CellFailed(
                            klass, f"{stage} `{command}` exited {done.status}: {reason(done)}"
                        )
                stages.enter("checks", clock())
                checks = appendix_a_checks(
                    shell, profile=config.cell.profile, key_id=key_id, timeout=limits["checks"]
                )
                bad = [c for c in checks if not c.ok]
                if bad:
                    raise CellFailed(
                        "post-install-check", "; ".join(f"{c.name}: {c.message}" for c in bad)
                    )
                stages.finish("checks", clock())
            finally:
                shell.close()
    except CellFailed as exc:
        failure = exc
        stages.fail_current(clock())
    except QemuStartError as exc:
        failure = CellFailed("infrastructure", str(exc))
    result = CellResult(
        cell=cell,
        passed=failure is None,
        failure_class=failure.failure_class if failure else None,
        message=failure.message if failure else "Appendix A steps 1-5 passed; all checks passed",
        stages=stages.timings(),
        checks=checks,
        artifacts=art,
        accel=config.cell.accel.value,
        seconds=clock() - started,
    )
    return record_result(result, transcript=transcript, disk=disk)


def record_result(result: CellResult, *, transcript: object, disk: Path) -> CellResult:
    """A scenario cell's transcript.json, timings.json and result.json; a passed cell's
    disk image is dropped (a failed one's is kept for the post-mortem)."""
    write_json(result.artifacts / "transcript.json", transcript)
    write_json(result.artifacts / "timings.json", result.stages)
    write_json(result.artifacts / "result.json", result.to_json())
    if result.passed:
        disk.unlink(missing_ok=True)
    return result


def write_json(path: Path, data: object) -> None:
    write_json_atomic(path, data, sort_keys=True)


def refuse_unsupported(scenario: Scenario, cells: list[Cell]) -> None:
    """InputError for what this module cannot run (checked before anything boots)."""
    if scenario not in (Scenario.APPENDIX_A, Scenario.UPGRADE):
        raise InputError(
            f"--scenario {scenario.value} is not implemented yet",
            hint="use --scenario install, appendix-a or upgrade",
        )
    unsupported = [c.name for c in cells if c != Cell(Firmware.BIOS, Media.DVD)]
    if unsupported:
        machine = (
            "the server is a BIOS machine booting its disk with the ISO in its DVD drive"
            if scenario is Scenario.APPENDIX_A
            else "the gateway is a BIOS machine that takes the new ISO in its DVD drive"
        )
        raise InputError(
            f"--scenario {scenario.value} runs on bios-dvd only, not {', '.join(unsupported)}",
            hint=f"drop --matrix/--firmware/--media: {machine}",
        )


def run_scenario(
    *,
    scenario: Scenario,
    iso: Path,
    rhel_iso: Path,
    cell_config: Callable[[Cell, Path], CellConfig],
    cells: list[Cell],
    artifacts: Path,
    disk_mb: int,
    skip_steps: frozenset[str] = frozenset(),
) -> list[CellResult]:
    """Run ``scenario`` (not ``install``: that is matrix.run_boot_test) on ``cells``."""
    refuse_unsupported(scenario, cells)
    if scenario is not Scenario.APPENDIX_A:
        raise InputError(
            f"--scenario {scenario.value} is not run here", hint="upgrade.upgrade_results runs it"
        )
    results = []
    for cell in cells:
        art = artifacts / f"{cell.name}-{scenario.value}"
        shutil.rmtree(art, ignore_errors=True)
        art.mkdir(parents=True)
        server = prepare(rhel_iso=rhel_iso, work=art / "server-media")
        config = ScenarioConfig(
            iso=iso,
            rhel_iso=rhel_iso,
            cell=cell_config(cell, art),
            disk_mb=disk_mb,
            skip_steps=skip_steps,
        )
        step(f"{cell.name}: Appendix A with {iso.name} (server from {rhel_iso.name})")
        result = run_appendix_a(config, server=server, key_id=signing_key_id(iso, art))
        verdict = "passed" if result.passed else f"FAILED [{result.failure_class}] {result.message}"
        log.info("%s %s: %s in %.0f s", cell.name, scenario.value, verdict, result.seconds)
        results.append(result)
    return results


def scenario_results(
    *,
    scenario: Scenario,
    iso: Path,
    profile: Profile,
    cells: list[Cell],
    accel: Accel,
    artifacts: Path,
    server_base: Path | None,
    timeouts: Mapping[str, float] | None,
    skip_steps: frozenset[str] = frozenset(),
    timeout_scale: float = 1.0,
) -> list[CellResult]:
    """``boot-test --scenario`` (not install): the server base, one CellConfig per cell.
    ``skip_steps``: steps left out on purpose (the negative test)."""
    if server_base is None:
        # the default RHEL 6.10 DVD, as buildiso build's default base: the sample's
        from buildiso import paths
        from buildiso.sample.base import build_sample_base

        server_base = build_sample_base(paths.DEFAULT_SAMPLE_BASE).iso

    def cell_config(cell: Cell, art: Path) -> CellConfig:
        return CellConfig(
            iso=iso,
            profile=profile,
            menu=read_menu(iso, cell.firmware),
            accel=accel,
            artifacts=art,
            timeouts=dict(timeouts or bootproto.DEFAULT_TIMEOUTS),
            timeout_scale=timeout_scale,
        )

    artifacts.mkdir(parents=True, exist_ok=True)
    return run_scenario(
        scenario=scenario,
        iso=iso,
        rhel_iso=server_base,
        cell_config=cell_config,
        cells=cells,
        artifacts=artifacts,
        disk_mb=profile.min_disk_mb,
        skip_steps=skip_steps,
    )
