"""What the installed system needs to boot and update, which no gateway package may replace.

A gateway RPM that obsoletes ``kernel`` takes the kernel out of the install set (yum, and
libsolv here, install the obsoleter instead); one named ``grub`` or ``rpm`` replaces RHEL's
when its version is higher; one that provides ``yum`` can stand in for yum in a dependency.
The ISO would build and fail only when a machine boots or takes its next update. So a
gateway package may not *obsolete*, *provide* or *be named* any package of ``PROTECTED``,
whatever the version in the relation, and no flag waives it (docs/build-checks.md).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from buildiso.compose.rpms import RpmHeader
from buildiso.compose.rpmversion import Relation

# name -> why the installed system needs that package (RHEL 6.10's package names).
PROTECTED: dict[str, str] = {
    "kernel": "the kernel the installed system boots",
    "grub": "RHEL 6's boot loader, on BIOS and UEFI machines (/EFI/redhat/grub.efi)",
    "dracut": "builds the initramfs every kernel boots with, also after a kernel update",
    "upstart": "RHEL 6's init, process 1",
    "initscripts": "rc.sysinit and the service scripts that bring the system up",
    "filesystem": "the directory tree every other package installs into",
    "setup": "/etc/passwd, /etc/group and the other base files logins read",
    "glibc": "the C library every program and the dynamic loader",
    "bash": "/bin/sh of the boot scripts and of every package scriptlet",
    "util-linux-ng": "mount, fsck and login",
    "e2fsprogs": "fsck of the ext4 file systems at boot",
    "lvm2": "activates the volume group of the lvm layout at boot",
    "mdadm": "assembles the arrays of the raid1 layout at boot",
    "pam": "the cs-admin login and its forced password change",
    "rpm": "installs every update",
    "yum": "the offline update (installation guide section 4) and Appendix A run it",
    "python": "yum runs on it",
    "redhat-release-server": "says the system is RHEL 6.10 Server ($releasever of yum)",
}

_WHY = "which the installed system needs to boot and update"


@dataclass(frozen=True, order=True)
class Replacement:
    """A gateway package that would replace a protected one, and how."""

    package: str  # the gateway RPM's file name
    relation: str  # "obsoletes kernel", "provides rpm", "is named grub"
    protected: str

    def __str__(self) -> str:
        why = PROTECTED[self.protected]
        return f"{self.package}: {self.relation}, {_WHY} ({self.protected}: {why})"


def _named(relations: Iterable[Relation], verb: str) -> list[tuple[str, str]]:
    return [(f"{verb} {rel}", rel.name) for rel in relations if rel.name in PROTECTED]


def replacements(headers: Sequence[RpmHeader]) -> list[Replacement]:
    """Every way a gateway package would replace a protected one, sorted."""
    found: list[Replacement] = []
    for h in headers:
        ways = [(f"is named {h.name}", h.name)] if h.name in PROTECTED else []
        ways += _named(h.obsoletes, "obsoletes")
        # a package provides itself: that is "is named", not a second problem
        ways += [w for w in _named(h.provides, "provides") if w[1] != h.name]
        found += [Replacement(h.filename, relation, name) for relation, name in ways]
    return sorted(set(found))
