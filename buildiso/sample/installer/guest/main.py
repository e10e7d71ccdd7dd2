"""The install, step by step, with its progress and protocol lines (PROTOCOL.md).

The steps follow anaconda 13's order (dispatch.py installSteps): the kickstart is read and
carried out into a plan (ksdata.execute: network lines, disks, partitions) before anything
is written; the disks are partitioned and formatted (enablefilesystems) before the install
tree is set up and the packages resolved (reposetup, postselection); the configuration and
the boot loader go in, then the media is released (methodcomplete), then %post runs.
"""

from __future__ import annotations

import subprocess
import traceback
from dataclasses import replace
from pathlib import Path
from typing import Any

from . import (
    autopart,
    bootloader,
    disk,
    disks,
    kickstart,
    media,
    mounts,
    network,
    packages,
    scripts,
    source,
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
    """What the loader does when the install ends (loader/kickstart.c, loader/loader.c):
    ``poweroff`` powers off; ``halt`` and ``shutdown`` halt (setShutdown sets the halt flag
    unless told otherwise); ``reboot`` reboots. Without any of them anaconda waits for a
    key on its last screen, which nobody presses in a test: the sample halts."""
    stop = getattr(handler, "sample_stop", "") if handler is not None else "reboot"
    return {"reboot": "reboot", "poweroff": "poweroff"}.get(stop, "halt")


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
        self.method = source.Method("cdrom")
        self.source: source.Source | None = None
        self.network = network.Network({})
        self.args: dict[str, str] = {}
        self.part_devices: dict[str, str] = {}  # disk.device_key → the partition made
        self.grub_password = ""

    def read_kickstart(self, media_info: media.Media) -> None:
        self.rep.stage("kickstart", "start")
        args = self.args = boot_args(Path("/proc/cmdline").read_text())
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
        for note in kickstart.notes(self.handler):
            self.rep.say(note)
        self.check(media_info)
        self.rep.stage("kickstart", "ok")

    def check(self, media_info: media.Media) -> None:
        """What anaconda checks before it writes anything (ksdata.execute, the storage
        sanity checks): network lines against the machine's devices, the disks, the
        partition plan against their sizes."""
        h = self.handler
        self.method = source.method_of(h, media_info)
        self.network = network.plan(h, boot_args=self.args)
        for note in self.network.notes:
            self.rep.say(f"Note: {note}")
        held = replace(media_info, device=source.media_device(self.method, media_info))
        if h.autopart.autopart:
            autopart.check_alone(h)
            self.targets = disks.target_disks(h, held, every_disk=True, say=self.rep.say)
            requests, self.layout = autopart.layout(
                h, self.targets, uefi=self.uefi, hostname=self.network.hostname)
        else:
            self.targets = disks.target_disks(h, held, say=self.rep.say)
            space = disks.space_mb(h, held)
            requests = disk.requests_from_ks(list(h.partition.partitions), uefi=self.uefi,
                                             disk_space_mb=space)
            self.layout = storage.layout_from_ks(h, requests, disk_space_mb=space)
        if "/" not in {r.mountpoint for r in requests} | self.layout.mounts():
            raise InstallFailed("kickstart", "the kickstart defines no / (part, raid or logvol)")
        storage.check_boot_request(requests, self.layout, uefi=self.uefi)
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
        devices = self.part_devices
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
        """reposetup, postselection, install: the tree mounted, the set resolved, installed."""
        h = self.handler
        self.rep.stage("packages", "start")
        self.source = source.setup(self.method)
        self.rep.say(f"Installation tree: {self.source.tree} ({self.source.device})")
        self.rep.say("Checking dependencies of the packages to install")
        self.chosen = packages.resolve(self.ks_text, media_tree=self.source.tree,
                                       repos=list(h.repo.repoList))
        if source.unmount_stage2():
            self.rep.say(f"Unmounted {source.STAGE2}")
        self.rep.say(f"Installing {len(self.chosen)} packages")
        packages.install(self.chosen, root=SYSIMAGE, say=self.rep.say,
                         excludedocs=bool(h.packages.excludeDocs),
                         install_langs=h.packages.instLangs)
        self.rep.stage("packages", "ok")
        return [p.nvra for p in self.chosen]

    def configure(self, parts: list[tuple[disk.PartRequest, str]]) -> str:
        """System settings and /etc/fstab; returns the UUID of /."""
        self.rep.say("Writing the system configuration")
        entries = [(req, mounts.blkid_uuid(dev), dev) for req, dev in parts]
        sysconfig.write(SYSIMAGE, "etc/fstab", mounts.fstab(entries))
        if self.layout.arrays:
            storage.write_mdadm_conf(SYSIMAGE)
        for rel, text in network.files(self.network).items():
            sysconfig.write(SYSIMAGE, rel, text)
        # Hash plain-text passwords once, so neither the system nor anaconda-ks.cfg
        # (regenerated from the parsed kickstart, as anaconda does) holds them in clear;
        # the boot loader's GRUB 2 form is taken first.
        self.grub_password = bootloader.grub_password(self.handler.bootloader)
        sysconfig.crypt_passwords(self.handler)
        sysconfig.apply(SYSIMAGE, self.handler, self.rep.say, boot_args=self.args)
        sysconfig.write(SYSIMAGE, "root/anaconda-ks.cfg", str(self.handler), 0o600)
        return next(uuid for req, uuid, _ in entries if req.mountpoint == "/")

    def boot_partitions(self) -> dict[str, list[str]]:
        """--location=partition: disk → the partitions holding /boot (or /): the partition
        itself, or each member of a RAID 1 /boot (booty x86.py installGrub)."""
        mountpoints = {r.mountpoint for parts in self.planned.values() for p in parts
                       for r in [p.request]} | self.layout.mounts()
        boot = "/boot" if "/boot" in mountpoints else "/"
        array = next((a for a in self.layout.arrays if a.request and
                      a.request.mountpoint == boot), None)
        wanted = set(array.members) if array else {boot}
        result: dict[str, list[str]] = {}
        for target, planned in self.planned.items():
            for part in planned:
                key = disk.device_key(part)
                if part.request.mountpoint in wanted and key in self.part_devices:
                    result.setdefault(target, []).append(self.part_devices[key])
        if not result:
            raise InstallFailed("bootloader", f"bootloader --location=partition: {boot} is not "
                                "on a partition or a RAID 1 array of partitions")
        return result

    def install_bootloader(self, parts: list[tuple[disk.PartRequest, str]],
                           installed: list[str]) -> None:
        h = self.handler
        assert self.source is not None
        self.rep.stage("bootloader", "start")
        root_uuid = self.configure(parts)
        location = h.bootloader.location or "mbr"
        if location == "none" or getattr(h.bootloader, "sample_disabled", False):
            self.rep.say("No boot loader (bootloader --location=none)")
        else:
            self.rep.say(f"Installing boot loader (--location={location})")
            title = bootloader.product_title(self.source.tree, installed)
            timeout = h.bootloader.timeout if h.bootloader.timeout is not None else 5
            esp_disk, esp = next(((d, p.number) for d, planned in self.planned.items()
                                  for p in planned if p.request.fstype == "efi"),
                                 (self.target, None))
            # BIOS: boot code on every disk (with RAID 1 each disk boots on its own).
            boot_disks = list(self.planned) if not self.uefi else [esp_disk]
            on_partitions = (self.boot_partitions()
                             if location == "partition" and not self.uefi else None)
            warning = bootloader.install(
                root=SYSIMAGE, disk=boot_disks[0], extra_disks=boot_disks[1:], uefi=self.uefi,
                separate_boot=any(r.mountpoint == "/boot" for r, _ in parts),
                root_uuid=root_uuid, title=title, append=h.bootloader.appendLine or "",
                timeout=int(timeout), esp_number=esp, password=self.grub_password,
                boot_partitions=on_partitions)
            if warning:
                self.rep.say(f"Warning: {warning}")
        self.rep.stage("bootloader", "ok")

    def method_complete(self) -> None:
        """dispatch.py methodcomplete, before %post: the media is released for hd:."""
        if self.source is not None:
            for path in source.complete(self.source):
                self.rep.say(f"Unmounted {path} (the install media, method hd:)")

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
        self.method_complete()
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
        if installer.handler.reboot.eject:
            source.eject_all(reporter.say)
        reporter.ok()
        reporter.say({"reboot": "Rebooting", "poweroff": "Powering off",
                      "halt": "Halting"}[action])
    subprocess.run(["/bin/sync"], check=False)
    RESULT_FILE.write_text(status + "\n")
    ACTION_FILE.write_text(action + "\n")
    return 0 if status == "ok" else 1
