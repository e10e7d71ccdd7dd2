"""Sample installer: kickstart reading with pykickstart's RHEL6 handler, strictly."""

from __future__ import annotations

from pathlib import Path

import pytest
from pykickstart.constants import KS_SHUTDOWN

from buildiso.sample.installer.guest import kickstart, kstable
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


def test_refused_command_names_command_and_line(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace("poweroff\n", "url --url=http://x/\n"
                                                          "poweroff\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason == ("unsupported: url at line 11 (the sample installs without a "
                                 "network)")


def test_refused_command_inside_an_include_names_the_file(tmp_path: Path) -> None:
    include = tmp_path / "inc"
    include.write_text("part / --size=20480\niscsiname iqn.x\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, BASE.format(include=include)), first_pass=False)
    assert info.value.reason == (f"unsupported: iscsiname at line 2 of {include} (no iSCSI in "
                                 "the sample)")


def test_refused_option_of_a_carried_command(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace(
        "poweroff\n", "logvol /var --vgname=vg --name=var --useexisting\npoweroff\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith("unsupported: logvol --useexisting at line 11 (")


def test_what_anaconda_13_refuses_fails_as_kickstart(tmp_path: Path) -> None:
    for line, words in (("dmraid --name=x --dev=sda", "dmraid at line 11"),
                        ("method", "method at line 11"),
                        ("bootloader --upgrade", "bootloader --upgrade at line 11")):
        text = BASE.format(include=tmp_path / "inc").replace("poweroff\n", f"{line}\npoweroff\n")
        with pytest.raises(InstallFailed) as info:
            kickstart.parse(_write(tmp_path, text), first_pass=True)
        assert info.value.klass == "kickstart" and info.value.reason.startswith(words), line


def test_unknown_rhel7_syntax_is_a_kickstart_error(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc").replace("%post --nochroot", "%post --nochroot "
                                                         "--no-such-option")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart"
    assert "%post --no-such-option at line 20" in info.value.reason


def test_traceback_section_is_refused(tmp_path: Path) -> None:
    text = BASE.format(include=tmp_path / "inc") + "%traceback\necho x\n%end\n"
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith("unsupported: %traceback at line 23")


def test_every_product_command_is_carried_out() -> None:
    product = {"install", "text", "lang", "keyboard", "timezone", "network", "rootpw", "user",
               "authconfig", "firewall", "selinux", "firstboot", "services", "skipx",
               "zerombr", "clearpart", "part", "bootloader", "repo", "reboot", "poweroff",
               "halt", "volgroup", "logvol", "raid", "ignoredisk", "shutdown"}
    carried = {name for name, entry in kstable.COMMANDS.items()
               if entry.rule.verdict is kstable.Verdict.CARRIED}
    assert product <= carried
    # logging only sets the installer's own log level: accepted, as RHEL 6, no trace left
    assert kstable.COMMANDS["logging"].rule.verdict is kstable.Verdict.NO_EFFECT


def test_rhel6_only_options_are_kept_off_pykickstart_3(tmp_path: Path) -> None:
    """network --domain/--ipv6gateway, bootloader --disabled, clearpart --cdl: RHEL 6's
    parser knows them, this pykickstart does not; the parser keeps them for the install."""
    text = BASE.format(include=tmp_path / "inc").replace(
        "poweroff\n", "network --device=eth0 --domain=example.com --ipv6gateway fe80::1\n"
        "monitor --hsync=31.5 --vsync=50\npoweroff\n").replace(
        "bootloader --location=mbr", "bootloader --location=mbr --disabled").replace(
        "clearpart --all --initlabel", "clearpart --all --initlabel --cdl")
    handler = kickstart.parse(_write(tmp_path, text), first_pass=True)
    [net] = handler.network.network
    assert (net.sample_domain, net.sample_ipv6gateway) == ("example.com", "fe80::1")
    assert handler.bootloader.sample_disabled is True
    assert any("monitor at line 12: no-effect" in note for note in kickstart.notes(handler))


def test_stop_command_is_remembered_for_the_loader(tmp_path: Path) -> None:
    from buildiso.sample.installer.guest.main import final_action

    for stop, action in (("poweroff", "poweroff"), ("shutdown", "halt"), ("halt", "halt"),
                         ("reboot", "reboot"), ("", "halt")):
        text = BASE.format(include=tmp_path / "inc").replace("poweroff\n", f"{stop}\n")
        assert final_action(kickstart.parse(_write(tmp_path, text), first_pass=True)) == action


def test_ksappend_is_refused(tmp_path: Path) -> None:
    text = "%ksappend /tmp/more.cfg\n" + BASE.format(include=tmp_path / "inc")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_write(tmp_path, text), first_pass=True)
    assert info.value.reason.startswith("unsupported: %ksappend at line 1")


def _ks(tmp_path: Path, body: str) -> Path:
    return _write(tmp_path, f"install\n{body}")


def test_sections_without_end_are_read_as_rhel_6_reads_them(tmp_path: Path) -> None:
    """1.74.22 ends a section at the next header without a word, and at the end of the file
    with a deprecation warning; pykickstart 3 refused both (corpus 04, 06, 09, 13, 19, 20)."""
    path = _ks(tmp_path, "%packages --nobase\n@core\n%post\ntouch /x\n")
    for first_pass in (True, False):
        handler = kickstart.parse(path, first_pass=first_pass)
        [post] = kickstart.post_scripts(handler)
        assert post.script.strip() == "touch /x"
        assert handler.packages.groupList[0].name == "core"
    assert kickstart.notes(handler) == [
        "Note: %end (missing) at line 4: no-effect (the section runs to the end of the file: "
        "RHEL 6's parser warns (deprecated) and reads it)"]  # fmt: skip


def test_what_rhel6s_parser_refuses_fails_as_anaconda_though_pykickstart_3_accepts(
    tmp_path: Path,
) -> None:
    """RHEL 6's verdict (render/ks6reader, validate --rules rhel6's) comes first: the sample
    is no kinder than anaconda where pykickstart 3 is (sshpw takes one word in 1.74.22)."""
    path = _ks(tmp_path, "sshpw --username=root secret extra\n")
    kickstart.parse(path, first_pass=True)  # anaconda reads commands after %pre
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(path, first_pass=False)
    assert info.value.klass == "kickstart"
    assert info.value.reason == ("sshpw: takes a single password word at line 2 (RHEL 6's "
                                 "parser, pykickstart 1.74.22, stops here as anaconda 13 does)")


def test_what_only_pykickstart_3_refuses_is_the_samples_limit(tmp_path: Path) -> None:
    """A word after reboot's options: 1.74.22 ignores it, pykickstart 3 refuses the line.
    The install stops, but as kickstart-unsupported: never blamed on anaconda."""
    path = _ks(tmp_path, "reboot now\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(path, first_pass=False)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith("unsupported: reboot at line 2 (the sample's parser "
                                        "(pykickstart 3) refuses what RHEL 6's parser accepts")
    findings = kstable.survey(path)
    assert [(f.line, f.words, f.rule.verdict) for f in findings] == [
        (1, "install", kstable.Verdict.CARRIED), (2, "reboot", kstable.Verdict.CARRIED),
        (2, "reboot", kstable.Verdict.REFUSED)]  # fmt: skip


def test_missing_include_in_the_full_pass_is_anacondas_error(tmp_path: Path) -> None:
    path = _ks(tmp_path, f"%include {tmp_path}/never\n")
    kickstart.parse(path, first_pass=True)
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(path, first_pass=False)
    assert info.value.klass == "kickstart"
    assert info.value.reason.startswith(f"cannot open the %include file {tmp_path}/never at "
                                        "line 2 (RHEL 6's parser")


def test_packages_nocore_is_kept_off_pykickstart_3(tmp_path: Path) -> None:
    handler = kickstart.parse(_ks(tmp_path, "%packages --nobase --noc\nbash\n%end\n"),
                              first_pass=False)  # fmt: skip
    assert handler.packages.sample_nocore is True
    assert handler.packages.packageList == ["bash"]


def test_a_kickstart_over_1_mib_is_not_read(tmp_path: Path) -> None:
    path = _ks(tmp_path, "#" * (kickstart.MAX_KICKSTART_BYTES + 1) + "\n")
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(path, first_pass=True)
    assert info.value.klass == "kickstart" and "over 1024 KiB: not a kickstart" in info.value.reason
