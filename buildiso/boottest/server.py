"""The "existing server" of Appendix A: a Minimal RHEL 6.10 installed from a RHEL 6.10 DVD.

Installed the way a PXE install would be: the DVD's own ``images/pxeboot`` kernel and
initrd booted directly by QEMU with ``ks=cdrom:/ks.cfg repo=cdrom``, the DVD as the
installation source and a second small CD carrying the kickstart
(``data/minimal-rhel6-ks.cfg``: separate / and /var, @core, no gateway). Nothing of the
product is involved. The installer reports its stages on ttyS1 (the same protocol as the
product install), so the stage clock, timeouts and failure classes are the install's.
"""

from __future__ import annotations

import secrets
import shutil
import string
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.celldriver import CellConfig, CellDriver
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.qemu import VmSpec, create_disk
from buildiso.boottest.vm import Vm
from buildiso.config import Firmware, Media
from buildiso.errors import InputError
from buildiso.render.password import hash_password
from buildiso.run import run

KICKSTART_TEMPLATE = Path(__file__).with_name("data") / "minimal-rhel6-ks.cfg"
PXEBOOT = ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img")
KS_LABEL = "MINIMAL_KS"
BOOT_ARGS = "ks=cdrom:/ks.cfg repo=cdrom console=tty0 console=ttyS0,115200 panic=1"


@dataclass(frozen=True)
class ServerMedia:
    """What the server's install boots: kernel, initrd, the kickstart CD, root's password."""

    kernel: Path
    initrd: Path
    ks_iso: Path
    root_password: str


def _throwaway_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "Bt-" + "".join(secrets.choice(alphabet) for _ in range(16)) + "9x"


def prepare(*, rhel_iso: Path, work: Path) -> ServerMedia:
    """Extract the DVD's PXE kernel + initrd and write the kickstart CD into ``work``."""
    if not rhel_iso.is_file():
        raise InputError(
            f"{rhel_iso}: RHEL 6.10 DVD not found",
            hint="pass --server-base RHEL-6.10-DVD.iso (default: the sample base ISO)",
        )
    work.mkdir(parents=True, exist_ok=True)
    boot = work / "pxeboot"
    shutil.rmtree(boot, ignore_errors=True)
    boot.mkdir()
    for inside in PXEBOOT:
        run(["osirrox", "-indev", rhel_iso, "-extract", f"/{inside}", boot / Path(inside).name])
    password = _throwaway_password()
    root_hash = hash_password(password, salt=secrets.token_hex(8))  # a throwaway: any salt
    ks_dir = work / "ks"
    shutil.rmtree(ks_dir, ignore_errors=True)
    ks_dir.mkdir()
    (ks_dir / "ks.cfg").write_text(KICKSTART_TEMPLATE.read_text().format(root_hash=root_hash))
    ks_iso = work / "minimal-ks.iso"
    run(["xorriso", "-as", "mkisofs", "-quiet", "-V", KS_LABEL, "-J", "-r", "-o", ks_iso, ks_dir])
    return ServerMedia(
        kernel=boot / "vmlinuz", initrd=boot / "initrd.img", ks_iso=ks_iso, root_password=password
    )


def install_server(
    *,
    media: ServerMedia,
    rhel_iso: Path,
    disk: Path,
    disk_mb: int,
    config: CellConfig,
    driver_factory: Callable[[Vm], CellDriver],
) -> CellDriver:
    """Install the Minimal server onto ``disk``; return the driver (its stage clock)."""
    create_disk(disk, size_mb=disk_mb)
    spec = VmSpec(
        firmware=Firmware.BIOS,
        media=Media.DVD,
        iso=rhel_iso,
        disk=disk,
        accel=config.accel,
        memory_mb=config.memory_mb,
        reboot=False,  # the installer's reboot ends this QEMU; the disk boots in the next
        boot_media=False,  # QEMU boots the kernel itself (it holds boot index 0)
        kernel=media.kernel,
        initrd=media.initrd,
        append=BOOT_ARGS,
        extra_cdroms=(media.ks_iso,),
    )
    with Vm(spec, artifacts=config.artifacts / "server-install") as vm:
        driver = driver_factory(vm)
        driver.stages.enter("kernel", driver.clock())
        driver.follow_install()
        driver.stages.enter("reboot", driver.clock())
        deadline = driver.clock() + driver.stages.timeouts.get("reboot", 120)
        while vm.running:
            if driver.clock() > deadline:
                raise CellFailed("timeout-in-stage-reboot", "the server's installer did not reboot")
            time.sleep(0.2)
        driver.stages.finish("reboot", driver.clock())
    return driver
