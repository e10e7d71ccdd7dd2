"""The sample installer end to end under QEMU: install from the sample DVD, boot the disk.

A throwaway test ISO is mastered from the sample tree (plus the sample gateway RPMs as
cs-repo/) with a boot entry that carries the install arguments and no menu delay; the
kickstart sits on a second small ISO (label BUILDISO-KS). Cells: BIOS/UEFI × CD/USB, each
followed by a boot of the installed disk to its FIRSTBOOT-RESULT; then failing
kickstarts, each of which must end in INSTALL-RESULT status=failed with the right class.
The VMs have a network device that reaches nothing (QEMU user networking, restrict=on) unless
a case needs a machine without one. Each cell also records what anaconda 13 would leave
(docs/anaconda13.md): the media unmounted before %post for hd: and kept for cdrom, no findfs
in stage 2, the NIC's ifcfg file, --fsoptions in fstab, --excludedocs, poweroff --eject.
The guest reports on its second serial port (/dev/ttyS1), see
buildiso/sample/installer/PROTOCOL.md. Timings are printed (pytest -s shows them).
"""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from buildiso.compose.depsolve import resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import load_media
from buildiso.master.basetree import open_base
from buildiso.run import run
from buildiso.sample import iso as sample_iso
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.vm

TEST_LABEL = "BUILDISO-TEST"
KS_LABEL = "BUILDISO-KS"
OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
INSTALL_TIMEOUT = 420.0  # seconds; TCG on a shared 2-core machine
BOOT_TIMEOUT = 240.0
DISK_SIZE = "100G"  # sparse qcow2: / 20 GB + /var 60 GB + swap fit, like the product

# A root password hash of no known password ("!" never matches): nothing secret here.
LOCKED_HASH = "$6$buildisotest$" + "A" * 86

KICKSTART = """\
install
text
lang en_US.UTF-8
keyboard us
timezone --utc Europe/London
network --bootproto=dhcp --device=eth0 --onboot=no --hostname=sample-test.example.com
rootpw --iscrypted {locked}
user --name=cs-admin --iscrypted --password={locked} --groups=wheel
authconfig --enableshadow --passalgo=sha512
firewall --enabled --port=22:tcp,25:tcp,19200:udp
selinux --disabled
firstboot --disable
skipx
zerombr
clearpart --all --initlabel
%include /tmp/part-include
bootloader --location=mbr --timeout=1 --append="buildiso.poweroff"
repo --name=cs-repo --baseurl=file:///mnt/source/cs-repo
{extra_commands}
poweroff --eject

%pre --log=/tmp/ks-pre.log
# anaconda-style firmware check: UEFI machines get an EFI system partition
if [ -d /sys/firmware/efi ]; then
    echo "part /boot/efi --fstype=efi --size=200" > /tmp/part-include
else
    : > /tmp/part-include
fi
echo "part / --fstype=ext4 --size=20480" >> /tmp/part-include
echo "part /var --fstype=ext4 --size=61440 --grow --fsoptions=nodev" >> /tmp/part-include
echo "part swap --size=512" >> /tmp/part-include
%end

%packages --nobase --excludedocs
@core
{packages}
%end

%post --nochroot --log=/mnt/sysimage/root/ks-post-nochroot.log
# anaconda 13 unmounts the media before %post for hd: and keeps a CD; stage 2 has no findfs
if grep -q " /mnt/source " /proc/mounts; then media=mounted; else media=unmounted; fi
if command -v findfs >/dev/null 2>&1; then findfs=present; else findfs=absent; fi
test -d /mnt/sysimage/etc && \\
  echo "nochroot-ok $media $findfs" > /mnt/sysimage/root/nochroot-evidence
%end

%post --log=/root/ks-post.log
# /usr/bin/rpm: busybox's sh would run its own rpm applet for a bare 'rpm'
rpms=$(/usr/bin/rpm -qa --qf '"%{{NAME}}-%{{VERSION}}-%{{RELEASE}}.%{{ARCH}}",' | sed 's/,$//')
selinux=$(sed -n 's/^SELINUX=//p' /etc/selinux/config)
if grep -q '^cs-admin:' /etc/passwd; then admin=true; else admin=false; fi
if grep -q -- '--dport 19200 ' /etc/sysconfig/iptables; then fw=true; else fw=false; fi
nochroot=$(cat /root/nochroot-evidence)
ifcfg=$(grep -hE '^(DEVICE|IPV6INIT|ONBOOT)=' /etc/sysconfig/network-scripts/ifcfg-* \\
  | tr -d '"' | tr '\\n' ' ')
docs=absent
[ -e /usr/share/doc/redhat-release-server/BUILDISO-SAMPLE ] && docs=present
cat > /root/buildiso-postinstall.json <<EOF
{{"schema": 1, "test": "sample-installer", "rpms": [$rpms], "selinux": "$selinux",
 "cs_admin": $admin, "firewall_19200_udp": $fw, "nochroot": "$nochroot",
 "mounts": "$(awk '$2 ~ /^\\/(var|boot\\/efi)?$/ {{print $2}}' /etc/fstab | tr '\\n' ' ')",
 "var_options": "$(awk '$2 == "/var" {{print $4}}' /etc/fstab)", "ifcfg": "$ifcfg",
 "docs": "$docs"}}
EOF
%end
{extra_sections}
"""


# system-config-firewall-base: the firewall line is carried out by the target's lokkit
def kickstart(*, packages: str = "-postfix\n-rsyslog\ncs-email\nsystem-config-firewall-base",
              extra_commands: str = "",
              extra_sections: str = "") -> str:
    return KICKSTART.format(locked=LOCKED_HASH, packages=packages,
                            extra_commands=extra_commands, extra_sections=extra_sections)


# ---------------------------------------------------------------- media for the tests

def _isolinux_cfg(args: str) -> str:
    return (
        "serial 0 115200\ndefault install\nprompt 0\ntimeout 1\n"
        "label install\n  kernel vmlinuz\n"
        f"  append initrd=initrd.img console=tty0 console=ttyS0,115200 panic=1 {args}\n"
    )


def _grub_cfg(args: str) -> str:
    return (
        "set timeout=0\nserial --unit=0 --speed=115200\n"
        "terminal_input console serial\nterminal_output console serial\n"
        f"search --no-floppy --set=root --label {TEST_LABEL}\n"
        "menuentry 'Install (buildiso test)' {\n"
        f"  linux /images/pxeboot/vmlinuz console=tty0 console=ttyS0,115200 panic=1 {args}\n"
        "  initrd /images/pxeboot/initrd.img\n}\n"
    )


def _replace(path: Path, text: str) -> None:
    path.unlink()  # the tree is hard-linked to the sample's: never write through a link
    path.write_text(text)


def build_test_iso(base: SampleBase, *, work: Path, name: str, args: str) -> Path:
    """The sample tree + cs-repo/, with a boot entry carrying ``args``, as a hybrid ISO."""
    tree = work / f"{name}-tree"
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(base.tree, tree, copy_function=os.link)
    repo = tree / "cs-repo"
    (repo / "Packages").mkdir(parents=True)
    for rpm in sorted(base.gateway_rpms.glob("*.rpm")):
        os.link(rpm, repo / "Packages" / rpm.name)
    run(["createrepo_c", "--compatibility", "--quiet", repo])
    _replace(tree / "isolinux/isolinux.cfg", _isolinux_cfg(args))
    _replace(tree / "EFI/BOOT/grub.cfg", _grub_cfg(args))
    efiboot = tree / "images/efiboot.img"
    data = efiboot.read_bytes()
    efiboot.unlink()
    efiboot.write_bytes(data)
    (work / "grub.cfg").write_text(_grub_cfg(args))
    run(["mcopy", "-o", "-i", efiboot, work / "grub.cfg", "::/EFI/BOOT/grub.cfg"],
        env={"MTOOLS_SKIP_CHECK": "1"})
    iso = work / f"{name}.iso"
    cmd = sample_iso.mkisofs_args(tree=tree, iso=iso)
    cmd = [TEST_LABEL if a == sample_iso.VOLUME_LABEL else a for a in cmd]
    run(cmd, env={"SOURCE_DATE_EPOCH": "1700000000"})
    shutil.rmtree(tree)
    return iso


def _install_set(iso: Path, ks_text: str) -> set[str]:
    """What buildiso resolves for ``ks_text`` on ``iso`` (N-V-R.A, as rpm -qa prints it)."""
    with open_base(iso) as reader:
        media = load_media(reader)
    closure = resolve_install_set(ks_packages=parse_packages(ks_text), media=media)
    assert closure.ok, closure.problems(filename="ks.cfg")
    return {f"{p.name}-{p.version}-{p.release}.{p.arch}" for p in closure.packages}


def make_ks_iso(text: str, *, dest: Path) -> Path:
    src = dest.with_suffix(".d")
    shutil.rmtree(src, ignore_errors=True)
    src.mkdir(parents=True)
    (src / "ks.cfg").write_text(text)
    run(["xorriso", "-as", "mkisofs", "-quiet", "-V", KS_LABEL, "-r", "-o", dest, src])
    shutil.rmtree(src)
    return dest


# ---------------------------------------------------------------- QEMU

@dataclass
class Outcome:
    lines: list[str]  # protocol lines read on ttyS1
    seconds: float
    console: str  # what ttyS0 showed (for failure messages)
    qemu_stderr: str = ""
    firmware_log: str = ""  # all of ttyS1 (OVMF prints its boot choices there too)

    def find(self, prefix: str) -> str | None:
        return next((line for line in self.lines if line.startswith(prefix)), None)


def qemu_command(*, work: Path, firmware: str, disk: Path, media: Path | None,
                 media_kind: str, ks_iso: Path | None, vars_file: Path,
                 nic: bool = True) -> list[str]:
    # a NIC that reaches nothing (as boottest/qemu.py), or none at all
    network = (["-netdev", "user,id=net0,restrict=on", "-device", "e1000,netdev=net0,romfile="]
               if nic else ["-nic", "none"])
    cmd = [
        "qemu-system-x86_64", "-machine", "q35", "-accel", "tcg", "-cpu", "max",
        "-m", "1536", "-smp", "1", *network, "-no-reboot", "-display", "none",
        "-serial", f"file:{work / 'ttyS0.log'}", "-serial", f"file:{work / 'ttyS1.log'}",
        "-drive", f"file={disk},if=none,id=disk,format=qcow2",
        "-device", "virtio-blk-pci,drive=disk,bootindex=2",
    ]
    if firmware == "uefi":
        cmd += ["-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
                "-drive", f"if=pflash,format=raw,file={vars_file}"]
    if media is not None and media_kind == "cd":
        cmd += ["-drive", f"file={media},if=none,id=dvd,media=cdrom,readonly=on",
                "-device", "ide-cd,drive=dvd,bus=ide.0,bootindex=1"]
    elif media is not None:
        cmd += ["-device", "qemu-xhci,id=xhci",
                "-drive", f"file={media},if=none,id=stick,format=raw,readonly=on",
                "-device", "usb-storage,bus=xhci.0,drive=stick,bootindex=1"]
    if ks_iso is not None:
        cmd += ["-drive", f"file={ks_iso},if=none,id=ks,media=cdrom,readonly=on",
                "-device", "ide-cd,drive=ks,bus=ide.2"]
    return cmd


def boot(cmd: list[str], *, work: Path, until: str, timeout: float) -> Outcome:
    """Run QEMU until a ttyS1 line starts with ``until`` and QEMU exits (or the deadline)."""
    for name in ("ttyS0.log", "ttyS1.log"):
        (work / name).unlink(missing_ok=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)
    seen_at: float | None = None
    stderr = ""
    try:
        while True:
            now = time.monotonic()
            text = _read(work / "ttyS1.log")
            if seen_at is None and any(ln.startswith(until) for ln in protocol_lines(text)):
                seen_at = now
            if proc.poll() is not None:
                break
            # after the result line the guest reboots/powers off; give it a little time
            if seen_at is not None and now - seen_at > 30:
                break
            if now - start > timeout:
                break
            time.sleep(0.5)
    finally:
        if proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if proc.stderr is not None:
            stderr = proc.stderr.read().decode("utf-8", "replace")
            proc.stderr.close()
    seconds = (seen_at or time.monotonic()) - start
    second = _read(work / "ttyS1.log")
    lines = protocol_lines(second)
    return Outcome(lines, seconds, _read(work / "ttyS0.log"), stderr, second)


_KEYWORD = re.compile(r"(BUILDISO-STAGE|INSTALL-RESULT|FIRSTBOOT-RESULT) .*")


def protocol_lines(text: str) -> list[str]:
    """The protocol lines of a serial log (firmware output may share the port: OVMF)."""
    return [m.group(0).strip() for m in map(_KEYWORD.search, text.splitlines()) if m]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8", "replace")
    except FileNotFoundError:
        return ""


@dataclass
class Cell:
    firmware: str
    media_kind: str
    work: Path
    disk: Path
    vars_file: Path

    def install(self, media: Path, ks_iso: Path, *, disk_size: str = DISK_SIZE,
                nic: bool = True) -> Outcome:
        self.disk.unlink(missing_ok=True)
        run(["qemu-img", "create", "-q", "-f", "qcow2", self.disk, disk_size])
        shutil.copyfile(OVMF_VARS, self.vars_file)
        cmd = qemu_command(work=self.work, firmware=self.firmware, disk=self.disk, media=media,
                           media_kind=self.media_kind, ks_iso=ks_iso, vars_file=self.vars_file,
                           nic=nic)
        return boot(cmd, work=self.work, until="INSTALL-RESULT", timeout=INSTALL_TIMEOUT)

    def boot_disk(self) -> Outcome:
        cmd = qemu_command(work=self.work, firmware=self.firmware, disk=self.disk, media=None,
                           media_kind=self.media_kind, ks_iso=None, vars_file=self.vars_file)
        return boot(cmd, work=self.work, until="FIRSTBOOT-RESULT", timeout=BOOT_TIMEOUT)


def _explain(outcome: Outcome) -> str:
    tail = "\n".join(outcome.console.splitlines()[-40:])
    return (f"protocol lines: {outcome.lines}\nqemu stderr: {outcome.qemu_stderr[-2000:]}\n"
            f"--- console (ttyS0) tail ---\n{tail}")


# ---------------------------------------------------------------- fixtures

@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("sample-install")


@pytest.fixture(scope="module")
def cdrom_iso(sample_base: SampleBase, work: Path) -> Path:
    """Media found on the CD-ROM, kickstart from a CD (ks=cdrom:/ks.cfg)."""
    return build_test_iso(sample_base, work=work, name="cdrom-method", args="ks=cdrom:/ks.cfg")


@pytest.fixture(scope="module")
def label_iso(sample_base: SampleBase, work: Path) -> Path:
    """Media and kickstart found by label, as the product's boot entry does."""
    return build_test_iso(
        sample_base, work=work, name="hd-method",
        args=f"ks=hd:LABEL={KS_LABEL}:/ks.cfg repo=hd:LABEL={TEST_LABEL}:/",
    )


@pytest.fixture(scope="module")
def good_ks(work: Path) -> Path:
    return make_ks_iso(kickstart(), dest=work / "ks-good.iso")


def _cell(work: Path, firmware: str, media_kind: str) -> Cell:
    cell_dir = work / f"{firmware}-{media_kind}"
    cell_dir.mkdir(exist_ok=True)
    return Cell(firmware, media_kind, cell_dir, cell_dir / "disk.qcow2",
                cell_dir / "OVMF_VARS.fd")


@pytest.fixture()
def cleanup_disks(work: Path) -> Iterator[None]:
    yield
    for disk in work.glob("*/disk.qcow2"):
        disk.unlink()  # sparse, but the installed system is a few hundred MB each


# ---------------------------------------------------------------- tests

@pytest.mark.parametrize(
    ("firmware", "media_kind", "iso_fixture"),
    [
        ("bios", "cd", "cdrom_iso"),
        ("bios", "usb", "label_iso"),
        ("uefi", "cd", "label_iso"),
        ("uefi", "usb", "label_iso"),
    ],
)
def test_install_then_first_boot(
    request: pytest.FixtureRequest, work: Path, good_ks: Path, firmware: str,
    media_kind: str, iso_fixture: str, cleanup_disks: None,
) -> None:
    if firmware == "uefi" and not OVMF_CODE.is_file():
        pytest.fail(f"{OVMF_CODE} missing: install the Debian package ovmf (./setup.sh)")
    media: Path = request.getfixturevalue(iso_fixture)
    cell = _cell(work, firmware, media_kind)

    installed = cell.install(media, good_ks)
    assert installed.find("INSTALL-RESULT") == "INSTALL-RESULT status=ok", _explain(installed)
    stages = [re.match(r"BUILDISO-STAGE name=(\w+) status=(\w+)", ln) for ln in installed.lines]
    done = [m.group(1) for m in stages if m and m.group(2) == "ok"]
    assert done == ["kernel", "media", "kickstart", "partitioning", "packages", "bootloader",
                    "post"], _explain(installed)

    booted = cell.boot_disk()
    line = booted.find("FIRSTBOOT-RESULT")
    assert line is not None and line.startswith("FIRSTBOOT-RESULT status=ok report="), (
        _explain(booted))
    if firmware == "uefi":
        # registered like anaconda does: the firmware boots our NVRAM entry, by its name
        loads = re.findall(r'BdsDxe: loading Boot[0-9A-F]{4} "([^"]*)"',
                           booted.console + booted.firmware_log)
        assert loads[:1] == ["Secure Email Gateway"], _explain(booted)
    report = json.loads(base64.b64decode(line.split("report=", 1)[1]))
    names = {re.sub(r"-[^-]+-[^-]+$", "", r) for r in report["rpms"]}
    assert {"kernel", "grub", "cs-email", "sample-firstboot-report"} <= names, report
    assert not names & {"postfix", "rsyslog"}, report
    # One solver everywhere: the installer installed exactly the set buildiso resolves.
    rpm_qa = {r for r in report["rpms"] if not r.startswith("gpg-pubkey-")}
    assert rpm_qa == _install_set(media, kickstart()), report["rpms"]
    assert report["selinux"] == "disabled"
    assert report["cs_admin"] is True and report["firewall_19200_udp"] is True
    # anaconda 13: hd: media unmounted before %post (methodcomplete), a CD kept; no findfs
    media_state = "mounted" if iso_fixture == "cdrom_iso" else "unmounted"
    assert report["nochroot"] == f"nochroot-ok {media_state} absent", report
    expected_mounts = {"/", "/var"} | ({"/boot/efi"} if firmware == "uefi" else set())
    assert set(report["mounts"].split()) == expected_mounts, report
    assert report["var_options"] == "nodev" and report["docs"] == "absent", report
    # the VM's NIC: the loader's ifcfg file, changed by the kickstart's network line
    assert report["ifcfg"].split() == ["DEVICE=eth0", "IPV6INIT=yes", "ONBOOT=no"], report
    assert "\nEjected /dev/sr0\r" in installed.console, _explain(installed)
    print(f"\n[{firmware}-{media_kind}] install {installed.seconds:.0f} s, "
          f"boot to FIRSTBOOT-RESULT {booted.seconds:.0f} s")


FAILING = {
    "missing-package": (dict(packages="-postfix\n-rsyslog\ncs-email\nno-such-package"),
                        DISK_SIZE, "packages", "no-such-package"),
    "conflict-left-in": (dict(packages="cs-email"), DISK_SIZE, "packages", "conflicts"),
    "post-erroronfail": (dict(extra_sections="%post --erroronfail\nexit 3\n%end\n"),
                         DISK_SIZE, "post", "exited with code 3"),
    "unsupported-command": (dict(extra_commands="url --url=http://example.com/os"), DISK_SIZE,
                            "kickstart-unsupported", "unsupported: url at line 19"),
    "disk-too-small": ({}, "50G", "disk", "too small"),
}


@pytest.mark.parametrize("case", sorted(FAILING))
def test_failing_kickstart(work: Path, cdrom_iso: Path, case: str,
                           cleanup_disks: None) -> None:
    options, disk_size, klass, words = FAILING[case]
    ks_iso = make_ks_iso(kickstart(**options), dest=work / f"ks-{case}.iso")
    cell = _cell(work, "bios", "cd")
    outcome = cell.install(cdrom_iso, ks_iso, disk_size=disk_size)
    line = outcome.find("INSTALL-RESULT")
    assert line is not None and line.startswith(
        f"INSTALL-RESULT status=failed class={klass} "), _explain(outcome)
    assert words in line, line
    print(f"\n[{case}] failed as expected in {outcome.seconds:.0f} s: {line}")


def test_network_line_without_a_device_on_a_machine_without_a_nic(
        work: Path, cdrom_iso: Path, cleanup_disks: None) -> None:
    """anaconda 13 stops (kickstart.py NetworkData.execute: min() of no devices), before
    the disk is touched; the sample used to invent an ifcfg-eth0."""
    text = kickstart().replace("network --bootproto=dhcp --device=eth0 --onboot=no "
                               "--hostname=sample-test.example.com", "network --bootproto=dhcp")
    ks_iso = make_ks_iso(text, dest=work / "ks-no-nic.iso")
    outcome = _cell(work, "bios", "cd").install(cdrom_iso, ks_iso, nic=False)
    line = outcome.find("INSTALL-RESULT")
    assert line is not None and line.startswith(
        "INSTALL-RESULT status=failed class=kickstart "), _explain(outcome)
    assert "the machine has no network device" in line, line
    assert "BUILDISO-STAGE name=partitioning status=start" not in outcome.lines
    print(f"\n[network-without-nic] failed as expected in {outcome.seconds:.0f} s: {line}")


def test_media_not_found_names_the_label(sample_base: SampleBase, work: Path, good_ks: Path,
                                         cleanup_disks: None) -> None:
    wrong = build_test_iso(sample_base, work=work, name="wrong-label",
                           args="ks=cdrom:/ks.cfg repo=hd:LABEL=NO-SUCH-MEDIA:/")
    outcome = _cell(work, "bios", "cd").install(wrong, good_ks)
    wrong.unlink()
    line = outcome.find("INSTALL-RESULT")
    assert line is not None and line.startswith(
        "INSTALL-RESULT status=failed class=media "), _explain(outcome)
    assert "LABEL=NO-SUCH-MEDIA" in line
    print(f"\n[media-not-found] failed as expected in {outcome.seconds:.0f} s: {line}")
