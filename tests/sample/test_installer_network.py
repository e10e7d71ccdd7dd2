"""Sample installer: the machine's network devices and kickstart network lines, as RHEL 6's
loader and anaconda 13's NetworkData.execute treat them (against a fake /sys/class/net)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from buildiso.sample.installer.guest import kickstart, network
from buildiso.sample.installer.guest.errors import InstallFailed


def _sys_net(tmp_path: Path, *nics: tuple[str, str]) -> Path:
    root = tmp_path / "sys-class-net"
    (root / "lo").mkdir(parents=True)
    (root / "lo/type").write_text("772\n")
    (root / "lo/address").write_text("00:00:00:00:00:00\n")
    for name, mac in nics:
        (root / name / "device").mkdir(parents=True)
        (root / name / "type").write_text("1\n")
        (root / name / "address").write_text(mac + "\n")
    return root


def _plan(tmp_path: Path, lines: str, sys_net: Path, **boot: str) -> network.Network:
    ks = tmp_path / "ks.cfg"
    ks.write_text(lines)
    handler: Any = kickstart.parse(ks, first_pass=True)
    return network.plan(handler, boot_args=boot, sys_net=sys_net, new_uuid=lambda: "U-1")


PRODUCT_LINE = "network --bootproto=dhcp --onboot=no\n"


def test_no_device_option_on_a_machine_without_one_fails_as_anaconda(tmp_path: Path) -> None:
    with pytest.raises(InstallFailed) as info:
        _plan(tmp_path, PRODUCT_LINE, _sys_net(tmp_path))
    assert info.value.klass == "kickstart"
    assert "no --device and the machine has no network device" in info.value.reason
    assert "min()" in info.value.reason


def test_without_devices_nothing_is_written(tmp_path: Path) -> None:
    plan = _plan(tmp_path, "install\n", _sys_net(tmp_path))
    assert network.files(plan) == {}  # no ifcfg-eth0 invented, no /etc/sysconfig/network


def test_product_line_changes_the_first_device(tmp_path: Path) -> None:
    sys_net = _sys_net(tmp_path, ("eth1", "52:54:00:00:00:02"), ("eth0", "52:54:00:12:34:56"))
    files = network.files(_plan(tmp_path, PRODUCT_LINE, sys_net))
    assert files["etc/sysconfig/network-scripts/ifcfg-eth0"] == (
        'DEVICE="eth0"\nBOOTPROTO="dhcp"\nDHCPCLASS=""\nHWADDR="52:54:00:12:34:56"\n'
        'IPV6INIT="yes"\nNM_CONTROLLED="yes"\nONBOOT="no"\nTYPE="Ethernet"\nUUID="U-1"\n')
    # the other device keeps the loader's file, as the loader wrote it
    assert files["etc/sysconfig/network-scripts/ifcfg-eth1"] == (
        "DEVICE=eth1\nHWADDR=52:54:00:00:00:02\nTYPE=Ethernet\nUUID=U-1\nONBOOT=no\n"
        "NM_CONTROLLED=yes\nBOOTPROTO=dhcp\n")
    assert files["etc/sysconfig/network"] == "NETWORKING=yes\nHOSTNAME=localhost.localdomain\n"


def test_static_noipv6_dns_gateway_domain_and_hostname(tmp_path: Path) -> None:
    sys_net = _sys_net(tmp_path, ("eth0", "52:54:00:12:34:56"))
    plan = _plan(tmp_path, "network --device=52:54:00:12:34:56 --bootproto=static "
                 "--ip=10.0.0.5 --netmask=255.255.255.0 --gateway=10.0.0.1 "
                 "--nameserver=10.0.0.2,10.0.0.3 --noipv6 --hostname=gw.example.com "
                 "--domain=example.com --mtu=9000 --nodefroute\n", sys_net)
    text = network.files(plan)["etc/sysconfig/network-scripts/ifcfg-eth0"]
    for pair in ('BOOTPROTO="static"', 'IPADDR="10.0.0.5"', 'NETMASK="255.255.255.0"',
                 'GATEWAY="10.0.0.1"', 'DNS1="10.0.0.2"', 'DNS2="10.0.0.3"',
                 'IPV6INIT="no"', 'ONBOOT="yes"', 'MTU="9000"', 'DOMAIN="example.com"',
                 'DEFROUTE="no"'):
        assert pair + "\n" in text
    assert "DHCP_HOSTNAME" not in text  # static: no DHCP host name
    assert network.files(plan)["etc/sysconfig/network"] == (
        "NETWORKING=yes\nHOSTNAME=gw.example.com\n")


def test_missing_device_fails_unless_the_line_only_names_the_host(tmp_path: Path) -> None:
    sys_net = _sys_net(tmp_path, ("eth0", "52:54:00:12:34:56"))
    with pytest.raises(InstallFailed) as info:
        _plan(tmp_path, "network --device=eth1 --bootproto=dhcp\n", sys_net)
    assert "the provided network interface eth1 does not exist" in info.value.reason
    plan = _plan(tmp_path, "network --device=eth1 --hostname=gw.example.com\n", sys_net)
    files = network.files(plan)
    assert files["etc/sysconfig/network"].endswith("HOSTNAME=gw.example.com\n")
    # eth0 untouched by the line, but a DHCP device gets the kickstart's host name
    assert 'DHCP_HOSTNAME="gw.example.com"' in files[
        "etc/sysconfig/network-scripts/ifcfg-eth0"]


def test_ksdevice_boot_argument_picks_the_device(tmp_path: Path) -> None:
    sys_net = _sys_net(tmp_path, ("eth0", "52:54:00:00:00:01"), ("eth1", "52:54:00:00:00:02"))
    plan = _plan(tmp_path, "network --bootproto=dhcp --noipv6\n", sys_net, ksdevice="eth1")
    assert plan.devices["eth1"].values["IPV6INIT"] == "no"
    assert "IPV6INIT" not in plan.devices["eth0"].values


def test_vlan_lines_do_nothing_as_in_anaconda(tmp_path: Path) -> None:
    sys_net = _sys_net(tmp_path, ("eth0", "52:54:00:00:00:01"))
    plan = _plan(tmp_path, "network --device=eth0 --vlanid=7 --bootproto=dhcp\n", sys_net)
    assert not plan.devices["eth0"].changed and "--vlanid" in plan.notes[0]
