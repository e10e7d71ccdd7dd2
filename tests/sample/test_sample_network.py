"""The sample OS's network as RHEL 6's: ``ifup DEVICE`` from its ifcfg file (initscripts),
``dhclient`` for BOOTPROTO=dhcp (busybox's udhcpc underneath), and curl, which rpm runs to
fetch a URL, all in a Minimal root (chroot) inside a network namespace of the test's own.

The namespace has a veth pair: eth0 for the root, its peer with a DHCP server (busybox's
udhcpd) and a web server on 10.9.0.2, so the DHCP path runs for real without a VM; nothing
leaves the machine.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from buildiso.sample.base import SampleBase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot, netns and bind mounts need root"),
]

MAC = "52:54:00:ab:cd:ef"
DHCPD_CONF = """\
start 10.9.0.15
end 10.9.0.20
interface srv0
option subnet 255.255.255.0
option router 10.9.0.2
option dns 10.9.0.3
lease_file {work}/udhcpd.leases
pidfile {work}/udhcpd.pid
"""
IFCFG = f'DEVICE="eth0"\nBOOTPROTO="dhcp"\nHWADDR="{MAC.upper()}"\nNM_CONTROLLED="yes"\n' \
    'ONBOOT="no"\nTYPE="Ethernet"\n'  # fmt: skip
# The namespace's wiring: eth0 (the root's NIC) and srv0 (the network's side).
_WIRE = (
    "ip link set lo up && "
    f"ip link add eth0 address {MAC} type veth peer name srv0 && "
    "ip addr add 10.9.0.2/24 dev srv0 && ip link set srv0 up && "
)


@pytest.fixture(scope="module")
def installed(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minimal")
    packages = sorted(str(p) for p in (sample_base.tree / "Packages").glob("*.rpm"))
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nosignature", *packages],
        check=True, capture_output=True,
    )  # fmt: skip
    return root


@pytest.fixture()
def root(installed: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(installed), str(copy)], check=True)
    (copy / "etc/sysconfig/network-scripts/ifcfg-eth0").write_text(IFCFG)
    return copy


def _netns(root: Path, work: Path, script: str, *, network: str = ""
           ) -> subprocess.CompletedProcess[str]:  # fmt: skip
    """``script`` by the root's /bin/sh -l (root's login shell) in a namespace whose eth0
    leads to ``network`` (shell run on the host side: servers on srv0)."""
    (work / "udhcpd.conf").write_text(DHCPD_CONF.format(work=work))
    (work / "udhcpd.leases").touch()
    setup = (
        f"{_WIRE}{network}"
        f"mount --bind /dev {root}/dev && mount -t proc proc {root}/proc && "
        f"mount -t sysfs sysfs {root}/sys && "
        # as a boot waits for udev to settle before ifup: the new link in this sysfs
        f"for i in $(seq 100); do [ -e {root}/sys/class/net/eth0 ] && break; sleep 0.1; done; "
        f"chroot {root} /usr/bin/env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root "
        '/bin/sh -l -c "$0"'
    )
    return subprocess.run(
        # --pid --fork: the servers die with the namespace's first process
        ["unshare", "--net", "--mount", "--pid", "--fork", "--propagation", "private",
         "sh", "-c", setup, script],
        capture_output=True, text=True, check=False, cwd=work,
    )  # fmt: skip


DHCPD = "busybox udhcpd -f {work}/udhcpd.conf 2>/dev/null & "


def test_ifup_gets_an_address_by_dhcp_as_rhel6(root: Path, tmp_path: Path) -> None:
    proc = _netns(root, tmp_path, "ifup eth0; echo rc=$?; ip -4 addr show eth0; ip route; "
                  "cat /etc/resolv.conf", network=DHCPD.format(work=tmp_path))  # fmt: skip
    out = proc.stdout
    assert "\nDetermining IP information for eth0... done.\nrc=0\n" in out, out + proc.stderr
    assert re.search(r"inet 10\.9\.0\.(1[5-9]|20)/24 ", out), out
    assert "default via 10.9.0.2 dev eth0" in out
    assert "nameserver 10.9.0.3" in out
    assert "fixed-address 10.9.0." in (root / "var/lib/dhclient/dhclient-eth0.leases").read_text()


def test_ifup_without_a_dhcp_server_fails_as_rhel6(root: Path, tmp_path: Path) -> None:
    proc = _netns(root, tmp_path, "ifup eth0; echo rc=$?")
    assert "Determining IP information for eth0... failed.\nrc=1\n" in proc.stdout, proc.stdout


@pytest.mark.parametrize(
    ("edit", "typed", "message"),
    [("", "ifup eth9", "/sbin/ifup: configuration for eth9 not found.\nUsage: ifup <device name>"),
     ("", "ifup", "Usage: ifup <device name>"),
     ('HWADDR="52:54:00:00:00:01"\n', "ifup eth0",
      "Device eth0 has different MAC address than expected, ignoring."),
     ('DEVICE="eth1"\n', "ifup eth0",
      "Device eth1 does not seem to be present, delaying initialization.")],
)  # fmt: skip
def test_ifup_refuses_as_rhel6(root: Path, tmp_path: Path, edit: str, typed: str,
                               message: str) -> None:  # fmt: skip
    ifcfg = root / "etc/sysconfig/network-scripts/ifcfg-eth0"
    ifcfg.write_text(ifcfg.read_text() + edit)
    proc = _netns(root, tmp_path, f"{typed}; echo rc=$?")
    assert "rc=1" in proc.stdout and message in proc.stderr, proc.stdout + proc.stderr


def test_ifup_static_and_ifdown(root: Path, tmp_path: Path) -> None:
    (root / "etc/sysconfig/network-scripts/ifcfg-eth0").write_text(
        'DEVICE=eth0\nBOOTPROTO=none\nIPADDR=10.9.0.7\nNETMASK=255.255.255.0\n'
        'GATEWAY=10.9.0.2\nONBOOT=no\n'
    )
    proc = _netns(root, tmp_path, "ifup eth0 && ip -4 addr show eth0 && ip route && "
                  "ifdown eth0 && ip -4 addr show eth0 && echo down")  # fmt: skip
    out = proc.stdout
    assert "inet 10.9.0.7/24" in out and "default via 10.9.0.2 dev eth0" in out, proc.stderr
    assert out.rstrip().endswith("down") and out.count("inet 10.9.0.7") == 1


def test_rpm_requires_curl_and_fetches_a_key_through_it(
    root: Path, tmp_path: Path, sample_base: SampleBase
) -> None:
    """As RHEL 6's rpm (its rpm.spec: Requires: curl), the sample's rpm imports a key
    from a URL by running curl."""
    served = tmp_path / "www"
    served.mkdir()
    (served / "it-pub.key").write_bytes(sample_base.gpg_public_key.read_bytes())
    web = f"python3 -m http.server 80 --bind 10.9.0.2 --directory {served} >/dev/null 2>&1 & "
    wait = "for i in $(seq 50); do curl -fso /dev/null http://10.9.0.2/ && break; sleep 0.1; done;"
    script = ("rpm -q --whatrequires curl --qf '%{NAME}\\n'; "
              "ip addr add 10.9.0.9/24 dev eth0 && ip link set eth0 up && "
              "rpm --import http://10.9.0.2/it-pub.key && rpm -q gpg-pubkey --qf '%{VERSION}\\n'")
    proc = _netns(root, tmp_path, script, network=web + wait)
    assert proc.stdout.split() == ["rpm", sample_base.key_id], proc.stdout + proc.stderr
