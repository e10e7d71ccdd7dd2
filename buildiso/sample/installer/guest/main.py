"""The install, step by step, with its progress and protocol lines (PROTOCOL.md)."""

from __future__ import annotations

import subprocess
import traceback
from pathlib import Path
from typing import Any

from pykickstart.constants import (
    CLEARPART_TYPE_ALL,
    CLEARPART_TYPE_LINUX,
    KS_REBOOT,
    KS_SHUTDOWN,
)

from . import bootloader, disk, kickstart, media, mounts, packages, scripts, sysconfig
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
        self.target = ""  # the disk installed to, e.g. /dev/vda
        self.chosen: list[packages.Chosen] = []
        self.ks_text = ""
        self.planned: list[disk.PlannedPart] = []

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
        self.target = self.target_disk(media_info)
        requests = disk.requests_from_ks(list(h.partition.partitions), uefi=self.uefi)
        self.planned = disk.plan(requests, disk_mib=disk.disk_size_mib(self.target),
                                 gpt=self.uefi, disk=self.target)

    def target_disk(self, media_info: media.Media) -> str:
        h = self.handler
        exclude = {media.whole_disk(media_info.device)} if media_info.device else set()
        # part --ondisk / clearpart --drives name the disk; the sample installs to one disk.
        ondisk = sorted({p.disk.removeprefix("/dev/") for p in h.partition.partitions if p.disk})
        if len(ondisk) > 1:
            raise InstallFailed("kickstart", "part --ondisk names several disks "
                                f"({', '.join(ondisk)}): the sample installer uses one disk")
        wanted = ondisk or [d.removeprefix("/dev/") for d in h.clearpart.drives or []]
        disks = [f"/dev/{d}" for d in wanted] if wanted else media.candidate_disks(exclude)
        if wanted and not Path(disks[0]).exists():
            raise InstallFailed("disk", f"disk {wanted[0]} named by the kickstart does not exist")
        if not disks:
            raise InstallFailed("disk", "no disk to install to (the install media excluded)")
        target = disks[0]
        # The sample installer always empties the disk: only a kickstart that asks for that
        # (clearpart --all, or --linux on a disk without partitions) is carried out.
        name = Path(target).name
        has_parts = any(p.name.startswith(name) for p in Path(f"/sys/block/{name}").iterdir())
        if h.clearpart.type != CLEARPART_TYPE_ALL and not (
            h.clearpart.type == CLEARPART_TYPE_LINUX and not has_parts
        ):
            raise InstallFailed("kickstart", f"the kickstart does not clear {target} "
                                "(clearpart --all): the sample installer only installs to an "
                                "emptied disk")
        return target

    def partition(self) -> list[tuple[disk.PartRequest, str]]:
        self.rep.stage("partitioning", "start")
        self.rep.say(f"Partitioning {self.target}")
        devices = disk.apply(self.planned, disk=self.target, gpt=self.uefi)
        by_request = []
        for part in self.planned:
            key = (part.request.mountpoint if part.request.fstype != "swap"
                   else f"swap{part.number}")
            by_request.append((part.request, devices[key]))
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
            esp = next((p.number for p in self.planned if p.request.fstype == "efi"), None)
            warning = bootloader.install(
                root=SYSIMAGE, disk=self.target, uefi=self.uefi,
                separate_boot=any(r.mountpoint == "/boot" for r, _ in parts),
                root_uuid=root_uuid, title=title, append=h.bootloader.appendLine or "",
                timeout=int(timeout), esp_number=esp)
            if warning:
                self.rep.say(f"Warning: {warning}")
        self.rep.stage("bootloader", "ok")

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
        reporter.stage("reboot", "start")
        reporter.ok()
        reporter.say({"reboot": "Rebooting", "poweroff": "Powering off",
                      "halt": "Halting"}[action])
    subprocess.run(["/bin/sync"], check=False)
    RESULT_FILE.write_text(status + "\n")
    ACTION_FILE.write_text(action + "\n")
    return 0 if status == "ok" else 1
