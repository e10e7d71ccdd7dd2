"""Steps for an existing server: install a Minimal RHEL 6.10, boot a machine from its disk.

The server of Appendix A is installed the way a PXE install would be: the DVD's own
``images/pxeboot`` kernel and initrd booted directly by QEMU with ``ks=cdrom:/ks.cfg
repo=cdrom``, the DVD as the installation source and a second small CD carrying the
kickstart (``data/minimal-rhel6-ks.cfg``: separate / and /var, @core, no gateway; made by
``boottest/inputs.py``). Nothing of the product is involved. Its installer reports on
ttyS1 with the product installer's protocol, so the stages, limits and failure classes
are follow-install's.
"""

from __future__ import annotations

from collections.abc import Iterable

from buildiso.boottest.console import LOGIN_PROMPT
from buildiso.boottest.installsteps import INSTALL_STAGES, follow_install
from buildiso.boottest.qemu import REPO_SERVER_ADDR, REPO_SERVER_PORT, VmSpec
from buildiso.boottest.session import Session
from buildiso.boottest.steps import (
    ONLINE,
    ONLINE_INPUTS,
    SERVER,
    SERVER_INPUTS,
    Need,
    Param,
    StepCall,
    StepKind,
    folder_param,
    media_param,
)

BOOT_ARGS = "ks=cdrom:/ks.cfg repo=cdrom console=tty0 console=ttyS0,115200 panic=1"


def install_server(s: Session, call: StepCall) -> None:
    server = s.inputs.server(call.text("server"))
    disk = s.folder.disk()
    spec = VmSpec(
        firmware=s.cell.firmware, media=s.cell.media, iso=server.dvd, disk=disk,
        accel=s.options.accel, memory_mb=s.options.memory_mb,
        reboot=False,  # the installer's reboot ends this QEMU; the disk boots in the next
        boot_media=False,  # QEMU boots the kernel itself (it holds boot index 0)
        kernel=server.kernel, initrd=server.initrd, append=BOOT_ARGS,
        extra_cdroms=(server.ks_iso,), console_input=s.options.console_input,
    )  # fmt: skip
    s.start_machine(spec, call.text("folder"), new_disks=(disk,), disk_mb=s.options.disk_mb)
    follow_install(s)


def boot_disk(s: Session, call: StepCall) -> None:
    network = call.text("network")
    spec = VmSpec(
        firmware=s.cell.firmware, media=s.cell.media, iso=s.inputs.iso(call.text("media")).path,
        disk=s.folder.disk(), accel=s.options.accel, memory_mb=s.options.memory_mb,
        boot_media=False, console_input=s.options.console_input,
        forward_port=s.repo_server(network).port if network else 0,
    )  # fmt: skip
    s.start_machine(spec, call.text("folder"))
    s.booted = None

    def login_prompt() -> bool:
        return LOGIN_PROMPT.search(s.console_since(0)) is not None

    s.wait(login_prompt, s.timeout_in_stage)


def _server_needs(call: StepCall) -> Iterable[Need]:
    return [(call.text("server"), SERVER)]


def _network_needs(call: StepCall) -> Iterable[Need]:
    network = call.text("network")
    return [(network, ONLINE)] if network else []


KINDS = (
    StepKind(
        name="install-server",
        summary="install a Minimal RHEL 6.10 server from SERVER's DVD onto a fresh disk "
        "(its PXE kernel booted directly, a kickstart CD beside it), following its "
        "installer's stages until it powers off",
        example='{ do = "install-server", server = "server", limits = { kernel = 120, '
        "media = 90, kickstart = 60, partitioning = 180, packages = 900, bootloader = 180, "
        "post = 600, reboot = 120 } }",
        run=install_server,
        params=(Param("server", "the DVD the server is installed from", default="server",
                      inputs=SERVER_INPUTS),
                folder_param("server-install", "subfolder for the install's logs")),
        stages=INSTALL_STAGES,
        classes=("kernel-panic", "kernel-not-loaded", "boot-loader-error", "media-not-found",
                 "kickstart", "kickstart-unsupported", "disk", "packages", "bootloader", "post",
                 "installer-internal"),
        needs_machine=False, starts=True, stops=True, marks=("disk",),
        needs=_server_needs,
    ),  # fmt: skip
    StepKind(
        name="boot-disk",
        summary="start the machine from its installed disk, MEDIA in its DVD drive (not "
        "booted from); ends at the installed system's login prompt. With NETWORK, its NIC "
        f"reaches one place: {REPO_SERVER_ADDR}:{REPO_SERVER_PORT}, a web server on the "
        "host's 127.0.0.1 serving that online tree (started here, stopped with the cell; "
        "its requests in repo-server.log)",
        example='{ do = "boot-disk", media = "iso", network = "online", folder = "appendix-b", '
        'stage = "server-boot", limit = 240 }',
        run=boot_disk,
        params=(media_param(doc="the ISO in the DVD drive"),
                Param("network", "the online tree its NIC reaches (none: it reaches nothing)",
                      default="", inputs=ONLINE_INPUTS),
                folder_param("", "subfolder for the machine's logs (default: the cell's)")),
        stage="boot-disk",
        needs_machine=False, starts=True, needs=_network_needs,
    ),  # fmt: skip
)
