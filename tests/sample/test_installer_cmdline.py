"""Sample installer: RHEL 6 boot arguments (ks=, repo=) parsed as the loader reads them."""

from __future__ import annotations

import pytest

from buildiso.sample.installer.guest.cmdline import Location, boot_args, parse_ks, parse_repo
from buildiso.sample.installer.guest.errors import InstallFailed


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("cdrom", Location("cdrom", None, "/ks.cfg")),
        ("cdrom:/ks/test.cfg", Location("cdrom", None, "/ks/test.cfg")),
        ("hd:sdb1:/ks.cfg", Location("hd", "sdb1", "/ks.cfg")),
        ("hd:LABEL=EMAIL_490_190:/ks.cfg", Location("hd", "LABEL=EMAIL_490_190", "/ks.cfg")),
        ("hd:UUID=2018-06-19-10-00-00-00:/a/b.cfg",
         Location("hd", "UUID=2018-06-19-10-00-00-00", "/a/b.cfg")),
        ("hd:LABEL=RHEL-6.10\\x20Server.x86_64:/ks.cfg",
         Location("hd", "LABEL=RHEL-6.10 Server.x86_64", "/ks.cfg")),
        ("file:/tmp/ks.cfg", Location("file", None, "/tmp/ks.cfg")),
    ],
)
def test_ks_locations(value: str, expected: Location) -> None:
    assert parse_ks(value) == expected


@pytest.mark.parametrize("value", ["http://host/ks.cfg", "nfs:host:/ks.cfg", "hd:sdb1",
                                   "hd::/ks.cfg", "cdrom:ks.cfg", ""])
def test_unsupported_ks_locations_fail_as_kickstart(value: str) -> None:
    with pytest.raises(InstallFailed) as info:
        parse_ks(value)
    assert info.value.klass == "kickstart"
    assert value in info.value.reason


def test_repo_locations() -> None:
    assert parse_repo("hd:LABEL=EMAIL_490_190:/") == Location("hd", "LABEL=EMAIL_490_190", "/")
    assert parse_repo("hd:sda1:/trees/rhel") == Location("hd", "sda1", "/trees/rhel")
    assert parse_repo("hd:sda1") == Location("hd", "sda1", "/")
    assert parse_repo("cdrom") == Location("cdrom", None, "/")
    with pytest.raises(InstallFailed) as info:
        parse_repo("nfs:server:/export")
    assert info.value.klass == "media"


def test_boot_args_last_one_wins_and_flags_are_empty() -> None:
    args = boot_args("initrd=initrd.img ks=cdrom ks=hd:sdb1:/ks.cfg quiet buildiso.poweroff\n")
    assert args["ks"] == "hd:sdb1:/ks.cfg"
    assert args["quiet"] == "" and "buildiso.poweroff" in args
    assert "repo" not in args
