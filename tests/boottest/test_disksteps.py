"""buildiso.boottest.disksteps: the publish-disk step and the runner with --disk-cache, against
scripted machines (bootfakes) whose disks qemu-img really makes.

The first run makes the disk, shuts the machine down in order, publishes it and goes on
from an overlay; the second starts from the published disk with the making steps skipped
and says so in its result, transcript and log; a damaged entry is made again; a machine
that does not stop in order publishes nothing.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import subprocess
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from bootfakes import (
    TIMEOUTS,
    FakeClock,
    FakeFactory,
    FakeGuest,
    Script,
    clean_shutdown,
    disk_boot,
    good_report,
    install_script,
    iso_media,
    plan_for,
    quick,
)

from buildiso.boottest.diskcache import DiskCache, check_entry, sha256_of
from buildiso.boottest.diskkey import Environment
from buildiso.boottest.disksteps import DiskPlan
from buildiso.boottest.inputs import Account, Inputs, ServerMedia
from buildiso.boottest.qemu import VmSpec
from buildiso.boottest.results import CellResult
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.scenarioreader import read_scenario
from buildiso.boottest.vocabulary import VOCABULARY
from buildiso.config import Firmware, Media
from buildiso.errors import InputError, ValidationFailed
from buildiso.render.profile import Profile

CELL = Cell(Firmware.BIOS, Media.DVD)
ENV = Environment(tools={"qemu-img": {"version": "7.2"}}, code="c" * 64)
INSTALL_LIMITS = ("limits = { kernel = 60, media = 60, kickstart = 60, partitioning = 60, "
                  "packages = 60, bootloader = 60, post = 60, reboot = 60 }")  # fmt: skip
SERVER = f"""
[scenario]
name = "server-boot"
proves = "a Minimal server installs and boots its disk"
[cells]
allowed = ["bios-dvd"]
[inputs]
iso = "product-iso"
server = "server-dvd"
[[steps]]
do = "install-server"
{INSTALL_LIMITS}
[[steps]]
do = "publish-disk"
disk = "minimal-server"
limit = 60
[[steps]]
do = "boot-disk"
folder = "server"
limit = 60
"""
GATEWAY = f"""
[scenario]
name = "gateway-boot"
proves = "the gateway installs and boots its disk again"
[cells]
allowed = ["bios-dvd"]
[inputs]
iso = "product-iso"
[[steps]]
do = "boot-media"
folder = "install"
limit = 60
[[steps]]
do = "choose-entry"
limit = 60
[[steps]]
do = "follow-install"
{INSTALL_LIMITS}
[[steps]]
do = "boot-local"
limit = 60
[[steps]]
do = "firstboot-report"
limit = 60
[[steps]]
do = "publish-disk"
disk = "gateway"
limit = 60
[[steps]]
do = "boot-disk"
stage = "gateway-boot"
limit = 60
"""


def _scenario(tmp_path: Path, text: str, name: str = "s") -> Scenario:
    path = tmp_path / f"{name}.toml"
    path.write_text(text)
    return read_scenario(path)


def server_install() -> Script:
    """install-server's machine: its stages, the result, the kernel restarts, QEMU exits."""
    return [("start", 1.0, "protocol", "BUILDISO-STAGE name=kernel status=start t=1\n"),
            ("start", 2.0, "protocol", "INSTALL-RESULT status=ok\n"),
            ("start", 2.4, "console", "[  50.2] reboot: Restarting system\r\n"),
            ("start", 2.5, "exit", "")]  # fmt: skip


class DiskFactory(FakeFactory):
    """Real (sparse) disks; records each machine's disk as QEMU would open it."""

    def __init__(self, clock: FakeClock, scripts: dict[str, Script]) -> None:
        super().__init__(clock, scripts, real_disks=True)
        self.backing: list[str | None] = []

    @contextmanager
    def __call__(self, spec: VmSpec, artifacts: Path, *, new_disks: Sequence[Path] = (),
                 disk_mb: int = 0) -> Iterator[FakeGuest]:  # fmt: skip
        with super().__call__(spec, artifacts, new_disks=new_disks, disk_mb=disk_mb) as guest:
            assert spec.disk is not None and spec.disk.is_file()
            out = subprocess.run(["qemu-img", "info", "-U", "--output=json", spec.disk],
                                 check=True, capture_output=True, text=True).stdout
            self.backing.append(json.loads(out).get("backing-filename"))
            yield guest


@dataclasses.dataclass
class Run:
    result: CellResult
    factory: DiskFactory


def _run(tmp_path: Path, scenario: Scenario, inputs: dict[str, Any], scripts: dict[str, Script],
         cache: DiskCache | None, folder: str) -> Run:  # fmt: skip
    clock = FakeClock()
    factory = DiskFactory(clock, scripts)
    plan = plan_for(tmp_path / folder, inputs["iso"].profile, factory, scenario=scenario,
                    inputs=inputs, limits=TIMEOUTS)  # fmt: skip
    if cache is not None:
        plan = dataclasses.replace(plan, disks=DiskPlan(
            cache=cache, env=ENV, scenario=scenario, inputs=Inputs(inputs),
            options=plan.options, kinds=VOCABULARY))
    return Run(plan.run_cell(CELL, clock=clock, sleep=clock.sleep), factory)


def _server_inputs(tmp_path: Path, profile: Profile) -> dict[str, Any]:
    dvd = tmp_path / "rhel.iso"
    dvd.write_bytes(b"a RHEL 6.10 DVD")
    server = ServerMedia(name="server", dvd=dvd, kernel=tmp_path / "vmlinuz",
                         initrd=tmp_path / "initrd.img", ks_iso=tmp_path / "ks.iso",
                         account=Account("root", "Bt-Throwaway-9x"), kickstart_sha256="f" * 64)
    return {"iso": iso_media(tmp_path, profile), "server": server}


def test_the_second_run_starts_from_the_disk_the_first_published(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = _scenario(tmp_path, SERVER)
    inputs = _server_inputs(tmp_path, profile)
    cache = DiskCache.open(tmp_path / "cache")
    scripts = {CELL.name: server_install(), f"{CELL.name}#2": disk_boot(firstboot=False)}
    first = _run(tmp_path, scenario, inputs, scripts, cache, "one")
    assert first.result.passed, first.result.message
    (key,) = [p.name for p in cache.root.iterdir() if p.name.startswith("minimal-server.")]
    entry = check_entry(cache.root / key, key)
    published = entry.path(entry.disks[0])
    # the install's own disk, then the server booted from an overlay on the published one
    assert first.factory.backing == [None, str(published)]
    assert first.result.disk is not None and first.result.disk.action == "published"
    assert first.result.disk.key == key and f"published disk {key}" in first.result.message
    assert first.result.stage_map["publish-disk"].status == "ok"

    base_sum = sha256_of(published)
    with caplog.at_level(logging.INFO, logger="buildiso"):
        second = _run(tmp_path, scenario, inputs, {CELL.name: disk_boot(firstboot=False)},
                      cache, "two")  # fmt: skip
    result = second.result
    assert result.passed, result.message
    assert len(second.factory.started) == 1 and second.factory.backing == [str(published)]
    assert second.factory.new_disks == [()]  # nothing installed: no fresh disk
    line = f"started from published disk {key} (made {entry.made})"
    assert line in result.message and "step 1 (install-server) skipped" \
        in result.message  # fmt: skip
    assert line in caplog.text
    assert result.disk is not None and (result.disk.action, result.disk.made) == (
        "started-from", entry.made)  # fmt: skip
    transcript = json.loads((Path(result.artifacts) / "transcript.json").read_text())
    assert any(line in t.get("note", "") for t in transcript)
    assert "kernel" not in result.stage_map and result.stage_map["boot-disk"].status == "ok"
    saved = json.loads((Path(result.artifacts) / "result.json").read_text())
    assert saved["disk"] == {"key": key, "made": entry.made, "action": "started-from"}
    assert sha256_of(published) == base_sum  # never modified


def test_a_damaged_published_disk_is_made_again(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture
) -> None:
    scenario = _scenario(tmp_path, SERVER)
    inputs = _server_inputs(tmp_path, profile)
    cache = DiskCache.open(tmp_path / "cache")
    scripts = {CELL.name: server_install(), f"{CELL.name}#2": disk_boot(firstboot=False)}
    assert _run(tmp_path, scenario, inputs, scripts, cache, "one").result.passed
    (key,) = [p.name for p in cache.root.iterdir() if p.name.startswith("minimal-server.")]
    (cache.root / key / "entry.json").write_text('{"format": 1}')
    with caplog.at_level(logging.WARNING, logger="buildiso"):
        again = _run(tmp_path, scenario, inputs, scripts, cache, "two")
    assert again.result.passed and len(again.factory.started) == 2  # installed anew
    assert again.result.disk is not None and again.result.disk.action == "published"
    assert "ignored, made again" in caplog.text and "removed, made again" in caplog.text
    assert check_entry(cache.root / key, key).key == key


def test_without_a_cache_the_machine_still_restarts_from_its_disk(
    tmp_path: Path, profile: Profile
) -> None:
    """publish-disk without --disk-cache: the same path (a clean stop, a new boot of the
    disk), the cell's own disk, nothing published."""
    scenario = _scenario(tmp_path, GATEWAY)
    installed = [*quick(install_script(report=good_report(profile)), 1),
                 ("key2", 5.0, "console", "\r\nlocalhost login: "), *clean_shutdown("key3")]
    run = _run(tmp_path, scenario, {"iso": iso_media(tmp_path, profile)},
               {CELL.name: installed, f"{CELL.name}#2": disk_boot()}, None, "one")
    assert run.result.passed, run.result.message
    installer, booted = run.factory.started
    assert installer.reboot_ends and installer.keys[-1] == ["ctrl-alt-delete"]
    assert run.factory.backing == [None, None] and run.result.disk is None
    assert run.factory.specs[1].disk == run.factory.specs[0].disk  # the same disk, booted anew


def test_a_gateway_shut_down_in_order_is_published_and_started_from(
    tmp_path: Path, profile: Profile
) -> None:
    scenario = _scenario(tmp_path, GATEWAY)
    inputs = {"iso": iso_media(tmp_path, profile)}
    cache = DiskCache.open(tmp_path / "cache")
    installed = [*quick(install_script(report=good_report(profile)), 1),
                 ("key2", 5.0, "console", "\r\nlocalhost login: "), *clean_shutdown("key3")]
    first = _run(tmp_path, scenario, inputs,
                 {CELL.name: installed, f"{CELL.name}#2": disk_boot()}, cache, "one")
    assert first.result.passed and first.result.disk is not None
    second = _run(tmp_path, scenario, inputs, {CELL.name: disk_boot()}, cache, "two")
    assert second.result.passed and len(second.factory.started) == 1
    assert "steps 1-5 (boot-media … firstboot-report) skipped" in second.result.message
    # the skipped steps' checks are still expected (JUnit lists them, skipped)
    assert set(first.result.expected_checks) == set(second.result.expected_checks)
    assert not second.result.checks


def test_a_machine_that_does_not_stop_in_order_publishes_nothing(
    tmp_path: Path, profile: Profile
) -> None:
    scenario = _scenario(tmp_path, GATEWAY)
    cache = DiskCache.open(tmp_path / "cache")
    installed = [*quick(install_script(report=good_report(profile)), 1),
                 ("key2", 5.0, "console", "\r\nlocalhost login: "),
                 ("key3", 0.5, "exit", "")]  # QEMU gone, no "Restarting system"
    run = _run(tmp_path, scenario, {"iso": iso_media(tmp_path, profile)},
               {CELL.name: installed}, cache, "one")
    assert run.result.failure_class == "unclean-shutdown", run.result.message
    assert run.result.stage_map["publish-disk"].status == "failed"
    assert [p for p in cache.root.iterdir() if not p.name.startswith(".")] == []


def test_a_cache_that_cannot_be_written_costs_speed_not_the_verdict(
    tmp_path: Path, profile: Profile, caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    scenario = _scenario(tmp_path, SERVER)
    cache = DiskCache.open(tmp_path / "cache")

    def full(*args: object, **kwargs: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(DiskCache, "publish", full)
    scripts = {CELL.name: server_install(), f"{CELL.name}#2": disk_boot(firstboot=False)}
    with caplog.at_level(logging.WARNING, logger="buildiso"):
        run = _run(tmp_path, scenario, _server_inputs(tmp_path, profile), scripts, cache, "one")
    assert run.result.passed and run.result.disk is None
    assert "disk cache not used: [Errno 28] No space left on device" in caplog.text
    assert run.factory.backing == [None, None]  # went on with its own disk


@pytest.mark.parametrize(("edit", "problem"), [
    (lambda t: t.replace('allowed = ["bios-dvd"]', 'allowed = ["bios-dvd", "uefi-dvd"]'),
     "uefi-dvd: step 2 (publish-disk) runs on bios cells only"),
    (lambda t: t.replace('do = "install-server"\n' + INSTALL_LIMITS, 'do = "boot-disk"\n'
                         "limit = 9"),
     "no disk to publish: no step before it installs one"),
    (lambda t: t.replace('[[steps]]\ndo = "boot-disk"', '[[steps]]\ndo = "publish-disk"\n'
                         'disk = "again"\nstage = "p2"\nlimit = 9\n[[steps]]\ndo = "boot-disk"'),
     "a scenario publishes one disk"),
    (lambda t: t.replace('disk = "minimal-server"', 'disk = "../x"'), "'../x' not allowed"),
])  # fmt: skip
def test_the_reader_refuses_a_publish_disk_that_cannot_work(
    tmp_path: Path, edit: Any, problem: str
) -> None:
    with pytest.raises((InputError, ValidationFailed)) as err:
        _scenario(tmp_path, edit(SERVER))
    text = str(err.value) + "".join(getattr(err.value, "problems", []))
    assert problem in text
