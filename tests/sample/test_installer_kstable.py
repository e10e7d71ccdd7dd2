"""The sample installer's kickstart table: every command and option of RHEL 6 is carried out,
accepted with no effect as RHEL 6 does, refused (kickstart-unsupported), or fails as anaconda
13 fails. Walks pykickstart's RHEL6 handler (this .venv's) and, where it is installed, RHEL 6's
own pykickstart 1.74.22, so a command or option neither knows nor the table lists is caught.
"""

from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import pytest
from pykickstart.parser import KickstartParser
from pykickstart.version import RHEL6, makeVersion

from buildiso.sample.installer.guest import kickstart, kstable
from buildiso.sample.installer.guest.errors import InstallFailed
from buildiso.sample.installer.guest.kstable import Verdict

# RHEL 6's pykickstart (tag r1.74.22-1), unpacked, and a Python 2.7 to run it (MACHINE-NOTES).
RHEL6_PYKICKSTART = Path(os.environ.get("BUILDISO_RHEL6_PYKICKSTART", "/work/rhel6-pykickstart"))
PYTHON2 = Path(os.environ.get("BUILDISO_PYTHON2", "/root/.pyenv/versions/2.7.18/bin/python2.7"))
_DUMP_174 = r"""
import json
from pykickstart.version import makeVersion, RHEL6
from pykickstart.parser import KickstartParser
h = makeVersion(RHEL6)
out = {}
for name in sorted(h.commands):
    cmd = h.commands[name]
    cmd.currentCmd = name  # the method commands' options depend on it
    try:
        op = cmd._getParser()
    except AttributeError:  # no parser: takes any words
        out[name] = None
        continue
    out[name] = sorted(s for o in op.option_list for s in o._long_opts if s != "--help")
print(json.dumps(out))
"""


def _options_378() -> dict[str, set[str]]:
    handler = makeVersion(RHEL6)
    result: dict[str, set[str]] = {}
    for name, command in handler.commands.items():
        parser = command._getParser()
        result[name] = {s for a in parser._actions for s in a.option_strings
                        if s.startswith("--") and s != "--help"}
    return result


def _options_174() -> dict[str, set[str] | None]:
    if not (RHEL6_PYKICKSTART / "pykickstart").is_dir() or not PYTHON2.exists():
        pytest.skip(f"RHEL 6's pykickstart ({RHEL6_PYKICKSTART}) or Python 2.7 not here")
    env = {**os.environ, "PYTHONPATH": f"{RHEL6_PYKICKSTART}:{RHEL6_PYKICKSTART / 'stub'}"}
    out = subprocess.run([str(PYTHON2), "-c", _DUMP_174], env=env, capture_output=True,
                         text=True, check=True).stdout
    return {k: (set(v) if v is not None else None) for k, v in json.loads(out).items()}


def test_every_command_and_option_of_this_rhel6_handler_has_a_verdict() -> None:
    table = kstable.table_words()
    missing = {name: sorted(options - table.get(name, set()))
               for name, options in _options_378().items()
               if name not in table or options - table[name]}
    assert missing == {}


def test_every_command_and_option_of_rhel6_pykickstart_1_74_has_a_verdict() -> None:
    table = kstable.table_words()
    missing = {}
    for name, options in _options_174().items():
        if name not in table:
            missing[name] = ["(command)"]
        elif options is not None and options - table[name]:
            missing[name] = sorted(options - table[name])
    assert missing == {}


def test_the_table_lists_nothing_neither_parser_knows() -> None:
    known = _options_378()
    try:
        for name, options in _options_174().items():
            known.setdefault(name, set()).update(options or ())
    except pytest.skip.Exception:
        pass
    stale = {name: sorted(options - known.get(name, set()))
             for name, options in kstable.table_words().items()
             if options - known.get(name, set())}
    assert stale == {}


def test_section_options_of_this_parser_have_a_verdict() -> None:
    sections = KickstartParser(makeVersion(RHEL6))._sections
    for name in ("%pre", "%post", "%packages", "%traceback"):
        parser = sections[name]._getParser()
        options = {s for a in parser._actions for s in a.option_strings
                   if s.startswith("--") and s != "--help"}
        assert options <= set(kstable.SECTIONS[name].options), name


def _ks(tmp_path: Path, line: str) -> Path:
    path = tmp_path / "ks.cfg"
    path.write_text(f"install\ntext\n{line}\n")
    return path


def _cases(verdict: Verdict) -> list[tuple[str, str]]:
    cases = [(name, "") for name, entry in kstable.COMMANDS.items()
             if entry.rule.verdict is verdict]
    cases += [(name, option) for name, entry in kstable.COMMANDS.items()
              if entry.rule.verdict is not verdict and name not in kstable.FREE_FORM
              for option, rule in entry.options.items() if rule.verdict is verdict]
    return cases


@pytest.mark.parametrize(("command", "option"), _cases(Verdict.REFUSED))
def test_each_refused_command_or_option_stops_with_one_line_naming_it(
        tmp_path: Path, command: str, option: str) -> None:
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_ks(tmp_path, f"{command} {option}".strip()), first_pass=True)
    assert info.value.klass == "kickstart-unsupported"
    assert info.value.reason.startswith(f"unsupported: {command} {option}".strip() + " at line 3 (")
    assert "\n" not in info.value.reason


@pytest.mark.parametrize(("command", "option"), _cases(Verdict.FAILS))
def test_each_command_or_option_anaconda_refuses_fails_as_kickstart(
        tmp_path: Path, command: str, option: str) -> None:
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_ks(tmp_path, f"{command} {option}".strip()), first_pass=True)
    assert info.value.klass == "kickstart"
    assert info.value.reason.startswith(f"{command} {option}".strip() + " at line 3: ")


@pytest.mark.parametrize("section", sorted(
    (name, option) for name, entry in kstable.SECTIONS.items() if name.startswith("%")
    and name not in ("%include", "%ksappend")
    for option, rule in entry.options.items() if rule.verdict is not Verdict.CARRIED))
def test_section_options_not_carried_out_stop_the_install(
        tmp_path: Path, section: tuple[str, str]) -> None:
    name, option = section
    with pytest.raises(InstallFailed) as info:
        kickstart.parse(_ks(tmp_path, f"{name} {option}\n%end"), first_pass=True)
    assert info.value.reason.startswith((f"unsupported: {name}", f"{name} {option} at line 3"))


def test_unknown_commands_and_options_fail_as_anaconda_13s_parser(tmp_path: Path) -> None:
    for line, words in (("autostep --nosuch", "autostep --nosuch at line 3"),
                        ("sshkey --username=x y", "sshkey at line 3"),
                        ("part / --size=1 --nosuch", "part --nosuch at line 3")):
        with pytest.raises(InstallFailed) as info:
            kickstart.parse(_ks(tmp_path, line), first_pass=True)
        assert info.value.klass == "kickstart" and info.value.reason.startswith(words), line


def test_abbreviated_options_are_read_as_rhel_6_reads_them(tmp_path: Path) -> None:
    # optparse (RHEL 6) and argparse (pykickstart 3) take an unambiguous prefix
    handler = kickstart.parse(_ks(tmp_path, "part / --siz=100 --fsopt=noatime"),
                              first_pass=True)
    [part] = handler.partition.partitions
    assert (part.size, part.fsopts) == (100, "noatime")
    [size, fsoptions] = [f for f in handler.sample_findings if f.command == "part" and f.option]
    assert (size.option, fsoptions.option) == ("--size", "--fsoptions")


CORPUS_LIKE = """\
install
cdrom
lang en_US.UTF-8
key --skip
network --device eth0 --bootproto static --ip 10.0.0.2 --netmask 255.255.255.0 --noipv6
rootpw --iscrypted $6$x$y
firewall --service=ssh
authconfig --enableshadow --passalgo=sha512
selinux --enforcing
timezone --utc America/New_York
bootloader --location=mbr --driveorder=sda --append="crashkernel=auto rhgb quiet"
clearpart --all --initlabel
part /boot --fstype=ext4 --size=500
part pv.008002 --grow --size=1
volgroup vg_x --pesize=4096 pv.008002
logvol /home --fstype=ext4 --name=lv_home --vgname=vg_x --size=1024 --fsoptions="nodev"
logvol / --fstype=ext4 --name=lv_root --vgname=vg_x --size=4096
repo --name="EPEL" --baseurl=http://mirror/epel/6/x86_64 --cost=1000
xconfig --startxonboot
reboot --eject
%packages --excludedocs
@core
%end
%post --log=/root/post.log
%wheel ALL=(ALL) ALL
%end
"""


def test_survey_lists_each_verdict_with_its_line_and_installs_nothing(tmp_path: Path) -> None:
    path = tmp_path / "public.ks"
    path.write_text(CORPUS_LIKE)
    findings = kstable.survey(path)
    grouped = kstable.by_verdict(findings)
    refused = [(f.line, f.words) for f in grouped[Verdict.REFUSED]]
    # the repo's value is checked by the install's own check (repo_path): not file://
    assert refused == [(18, "repo --name=EPEL --baseurl=http://mirror/epel/6/x86_64"),
                       (19, "xconfig"), (19, "xconfig --startxonboot")]
    assert [(f.line, f.words) for f in grouped[Verdict.NO_EFFECT]] == [(4, "key"),
                                                                       (4, "key --skip")]
    carried = {(f.line, f.words) for f in grouped[Verdict.CARRIED]}
    assert {(2, "cdrom"), (5, "network --noipv6"), (16, "logvol --fsoptions"),
            (18, "repo --cost"), (20, "reboot --eject"), (21, "%packages --excludedocs"),
            (24, "%post --log")} <= carried
    assert grouped[Verdict.FAILS] == []
    assert all(f.line > 0 for f in findings)
