"""Sample installer: kickstart reading with pykickstart's RHEL6 handler, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pykickstart.constants import KS_SHUTDOWN

from buildiso.sample.installer.guest import kickstart
from buildiso.sample.installer.guest.errors import InstallFailed

BASE = """\
install
text
lang en_US.UTF-8
keyboard us
timezone --utc Europe/London
rootpw --iscrypted $6$salt$hash
zerombr
clearpart --all --initlabel
%include {include}
bootloader --location=mbr
poweroff
%pre
echo "part / --size=20480 --fstype=ext4" > {include}
%end
%packages --nobase
@core
cs-email
-postfix
%end
%post --nochroot --log=/mnt/sysimage/root/post.log --erroronfail
true
%end
"""


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    return path


def test_first_pass_tolerates_the_missing_include_then_full_parse_reads_it(
    tmp_path: Path,
) -> None:
    include = tmp_path / "part-include"
    ks = _write(tmp_path, BASE.format(include=include))
    first = kickstart.parse(ks, first_pass=True)
    assert first.partition.partitions == []
    [pre] = kickstart.pre_scripts(first)
    assert "part /" in pre.script
    include.write_text("part / --size=20480 --fstype=ext4\npart /var --size=61440 --grow\n")
    full = kickstart.parse(ks, first_pass=False)
    assert [p.mountpoint for p in full.partition.partitions] == ["/", "/var"]
    assert full.reboot.action == KS_SHUTDOWN
    assert full.packages.packageList == ["cs-email"]
    assert full.packages.excludedList == ["postfix"]
    [post] = kickstart.post_scripts(full)
    assert post.inChroot is False and post.errorOnFail is True


def test_full_parse_fails_when_the_include_is_still_missing(tmp_path: Path) -> None:
    ks = _write(tmp_path, BASE.format(include=tmp_path / "never-written"))
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(ks, first_pass=False)
    assert info.value.klass == "kickstart"


def test_unsupported_command_names_command_and_line(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace("poweroff\n", "autopart\npoweroff\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart"
    assert info.value.reason == "unsupported kickstart command autopart at line 11"


def test_unsupported_command_inside_an_include_names_the_file(tmp_path: Path) -> None:
    include = tmp_path / "inc"
    include.write_text("part / --size=20480\nautopart\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, BASE.format(include=include)), first_pass=False)
    assert info.value.reason == f"unsupported kickstart command autopart at line 2 of {include}"


def test_unsupported_option_of_a_supported_command(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace(
        "bootloader --location=mbr", "bootloader --location=mbr --md5pass=$1$x$y")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.reason == "unsupported option bootloader --md5pass at line 10"


def test_unknown_rhel7_syntax_is_a_kickstart_error(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace("%post --nochroot", "%post --nochroot "
                                                         "--no-such-option")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart"
    assert str(tmp_path / "ks.cfg") in info.value.reason


def test_traceback_section_is_refused(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc") + "%traceback\necho x\n%end\n"
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert "only %pre, %packages and %post" in info.value.reason


def test_every_product_command_is_supported() -> None:
    product = {"install", "text", "lang", "keyboard", "timezone", "network", "rootpw", "user",
               "authconfig", "firewall", "selinux", "firstboot", "services", "skipx",
               "zerombr", "clearpart", "part", "bootloader", "repo", "reboot", "poweroff",
               "halt"}
    assert product <= kickstart.SUPPORTED_COMMANDS
    # what product kickstarts can reasonably use (issue #12): LVM, RAID, disk selection
    assert {"volgroup", "logvol", "raid", "ignoredisk", "logging", "shutdown"} <= (
        kickstart.SUPPORTED_COMMANDS)


def test_storage_options_that_reuse_old_data_are_refused(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace(
        "poweroff\n", "logvol /var --vgname=vg --name=var --useexisting\npoweroff\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.reason == "unsupported option logvol --useexisting at line 11"
