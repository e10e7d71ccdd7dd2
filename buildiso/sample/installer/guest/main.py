"""The install, step by step, with its progress and protocol lines (PROTOCOL.md)."""

from __future__ import annotations

import subprocess
import traceback
from pathlib import Path
from typing import Any

from pykickstart.constants import (
    KS_REBOOT,
    KS_SHUTDOWN,
)

from . import (
    bootloader,
    disk,
    disks,
    kickstart,
    media,
    mounts,
    packages,
    scripts,
    storage,
    sysconfig,
)
from .cmdline import boot_args, parse_ks
from .errors import InstallFailed
from .protocol import Reporter

RESULT_FILE = Path("/run/buildiso-result")
ACTION_FILE = Path("/run/buildiso-final-action")
SYSIMAGE = Path("/mnt/sysimage")


def final_action(handler: Any) -> str:
    if handler is None:
        return "reboot"
    action = handler.reboot.action
    if action == KS_REBOOT:
        return "reboot"
    if action == KS_SHUTDOWN:
        return "poweroff"
    return "halt"


class Installer:
    def __init__(self, reporter: Reporter) -> None:
        self.rep = reporter
        self.handler: Any = None
        self.mounts = mounts.Mounts(SYSIMAGE)
        self.uefi = Path("/sys/firmware/efi").is_dir()
        self.targets: list[str] = []  # the disks installed to, e.g. /dev/vda (first: boot)
        self.chosen: list[packages.Chosen] = []
        self.ks_text = ""
        self.planned: dict[str, list[disk.PlannedPart]] = {}  # per disk
        self.layout = storage.Layout()

    def read_kickstart(self, media_info: media.Media) -> None:
        self.rep.stage("kickstart", "start")
        args = boot_args(Path("/proc/cmdline").read_text())
        value = media_info.ks or args.get("ks", "")
        if not value:
            raise InstallFailed("kickstart", "no ks= on the kernel command line: the sample "
                                "installer only installs unattended from a kickstart")
        self.rep.say(f"Reading kickstart {value}")
        path = media.fetch_kickstart(parse_ks(value))
        first = kickstart.parse(path, first_pass=True)
        self.handler = first  # so a failing %pre still honours reboot/poweroff
        for script in kickstart.pre_scripts(first):
            self.rep.say(f"Running pre-installation script (line {script.lineno})")
            scripts.run_script(script, kind="pre")
        self.handler = kickstart.parse(path, first_pass=False)
        self.ks_text = path.read_text(encoding="utf-8")
        self.check(media_info)
        self.rep.stage("kickstart", "ok")

    def check(self, media_info: media.Media) -> None:
        """Everything that can fail before the disk is touched, as anaconda does it: the
        package set is resolved and the partitions planned against the disk first."""
        h = self.handler
        self.rep.say("Checking dependencies of the packages to install")
        self.chosen = packages.resolve(
            self.ks_text, media_tree=media.SOURCE, repos=list(h.repo.repoList)
        )
        self.targets = disks.target_disks(h, media_info)
        requests = disk.requests_from_ks(list(h.partition.partitions), uefi=self.uefi)
        self.layout = storage.layout_from_ks(h, requests)
        if "/" not in {r.mountpoint for r in requests} | self.layout.mounts():
            raise InstallFailed("kickstart", "the kickstart defines no / (part, raid or logvol)")
        self.planned = disks.plan_all(requests, self.targets, gpt=self.uefi)
        for group in self.layout.groups:  # does each volume group hold its volumes?
            disks.check_group_fits(group, self.layout, self.planned)

    @property
    def target(self) -> str:
        """The boot disk: the first of the kickstart's (driveorder) or of the machine's."""
        return self.targets[0]

    def partition(self) -> list[tuple[disk.PartRequest, str]]:
        self.rep.stage("partitioning", "start")
        by_request: list[tuple[disk.PartRequest, str]] = []
        devices: dict[str, str] = {}
        for target, planned in self.planned.items():
            self.rep.say(f"Partitioning {target}")
            made = disk.apply(planned, disk=target, gpt=self.uefi)
            devices.update(made)
            by_request += [(p.request, made[disk.device_key(p)]) for p in planned
                           if not p.request.is_container]
        if self.layout.arrays or self.layout.groups:
            self.rep.say("Creating RAID arrays and LVM volume groups")
            by_request += storage.create(self.layout, devices)
        self.mounts.mount_filesystems(by_request)
        self.mounts.bind_kernel_filesystems()
        self.rep.stage("partitioning", "ok")
        return by_request

    def install_packages(self) -> list[str]:
        self.rep.stage("packages", "start")
        self.rep.say(f"Installing {len(self.chosen)} packages")
        packages.install(self.chosen, root=SYSIMAGE, say=self.rep.say)
        self.rep.stage("packages", "ok")
        return [p.nvra for p in self.chosen]

    def configure(self, parts: list[tuple[disk.PartRequest, str]]) -> str:
        """System settings and /etc/fstab; returns the UUID of /."""
        self.rep.say("Writing the system configuration")
        entries = [(req, mounts.blkid_uuid(dev)) for req, dev in parts]
        sysconfig.write(SYSIMAGE, "etc/fstab", mounts.fstab(entries))
        if self.layout.arrays:
            storage.write_mdadm_conf(SYSIMAGE)
        # Hash plain-text passwords once, so neither the system nor anaconda-ks.cfg
        # (regenerated from the parsed kickstart, as anaconda does) holds them in clear.
        sysconfig.crypt_passwords(self.handler)
        sysconfig.apply(SYSIMAGE, self.handler, self.rep.say)
        sysconfig.write(SYSIMAGE, "root/anaconda-ks.cfg", str(self.handler), 0o600)
        return next(uuid for req, uuid in entries if req.mountpoint == "/")

    def install_bootloader(self, parts: list[tuple[disk.PartRequest, str]],
                           installed: list[str]) -> None:
        h = self.handler
        self.rep.stage("bootloader", "start")
        root_uuid = self.configure(parts)
        if (h.bootloader.location or "mbr") == "none":
            self.rep.say("No boot loader (bootloader --location=none)")
        else:
            self.rep.say("Installing boot loader")
            title = bootloader.product_title(media.SOURCE, installed)
            timeout = h.bootloader.timeout if h.bootloader.timeout is not None else 5
            esp_disk, esp = next(((d, p.number) for d, planned in self.planned.items()
                                  for p in planned if p.request.fstype == "efi"),
                                 (self.target, None))
            # BIOS: boot code on every disk (with RAID 1 each disk boots on its own).
            boot_disks = list(self.planned) if not self.uefi else [esp_disk]
            warning = bootloader.install(
                root=SYSIMAGE, disk=boot_disks[0], extra_disks=boot_disks[1:], uefi=self.uefi,
                separate_boot=any(r.mountpoint == "/boot" for r, _ in parts),
                root_uuid=root_uuid, title=title, append=h.bootloader.appendLine or "",
                timeout=int(timeout), esp_number=esp)
            if warning:
                self.rep.say(f"Warning: {warning}")
        self.rep.stage("bootloader", "ok")

    def finish_storage(self) -> None:
        if self.layout.arrays or self.layout.groups:
            storage.stop_all()

    def run_post(self) -> None:
        self.rep.stage("post", "start")
        self.rep.say("Running post-installation scripts")
        for script in kickstart.post_scripts(self.handler):
            scripts.run_script(script, kind="post", sysimage=SYSIMAGE)
        self.rep.stage("post", "ok")

    def run(self) -> None:
        media_info = media.read_media_file()
        self.read_kickstart(media_info)
        parts = self.partition()
        installed = self.install_packages()
        # anaconda (RHEL 6) writes the configuration and installs the boot loader before
        # %post runs.
        self.install_bootloader(parts, installed)
        self.run_post()


def main() -> int:
    reporter = Reporter()
    installer = Installer(reporter)
    status = "failed"
    try:
        installer.run()
        status = "ok"
    except InstallFailed as exc:
        installer.mounts.unmount_all()
        reporter.failed(exc.klass, exc.reason)
    except Exception as exc:  # noqa: BLE001 - any bug must still end in a result line
        traceback.print_exc()
        installer.mounts.unmount_all()
        reporter.failed("internal", f"{type(exc).__name__}: {exc}")
    action = final_action(installer.handler)
    if status == "ok":
        installer.mounts.unmount_all()
        installer.finish_storage()
        reporter.stage("reboot", "start")
        reporter.ok()
        reporter.say({"reboot": "Rebooting", "poweroff": "Powering off",
                      "halt": "Halting"}[action])
    subprocess.run(["/bin/sync"], check=False)
    RESULT_FILE.write_text(status + "\n")
    ACTION_FILE.write_text(action + "\n")
    return 0 if status == "ok" else 1
