"""Network devices and their ifcfg files, as RHEL 6's loader writes them and anaconda 13's
kickstart ``network`` command changes them.

- ``machine_devices``: the loader writes an ifcfg file for every network device of the
  machine, switched off (loader/net.c writeDisabledIfcfgFile: DEVICE, HWADDR, TYPE, UUID,
  ONBOOT=no, NM_CONTROLLED=yes, BOOTPROTO=dhcp). A machine without one gets none.
- ``apply_line``: each ``network`` line changes one device (kickstart.py
  NetworkData.execute), before the disks are touched. Without ``--device``: the ksdevice=
  boot argument, else the first device by name; a machine with no device makes anaconda
  stop (``min()`` of an empty list). A ``--device`` the machine lacks stops it too, unless
  the line only sets ``--hostname``.
- ``files``: what network.py Network.write and copyConfigToPath leave on the installed
  system: the ifcfg files (rewritten sorted and quoted when a line changed them) and
  /etc/sysconfig/network; nothing at all on a machine without network devices.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .errors import InstallFailed

SYS_NET = Path("/sys/class/net")
ARPHRD_ETHER = "1"
SCRIPTS = "etc/sysconfig/network-scripts"
DEFAULT_HOSTNAME = "localhost.localdomain"


@dataclass
class Device:
    name: str
    values: dict[str, str | None]
    changed: bool = False  # a kickstart line changed it: written as NetworkDevice.__str__

    def set(self, key: str, value: str | None) -> None:
        if self.values.get(key) != value:
            self.values[key] = value
            self.changed = True

    def text(self) -> str:
        if not self.changed:  # the loader's file, as it wrote it
            return "".join(f"{k}={v}\n" for k, v in self.values.items() if v is not None)
        keys = sorted(k for k in self.values if k != "DEVICE")
        return "".join(f'{k}="{self.values[k]}"\n' for k in ["DEVICE", *keys]
                       if self.values.get(k) is not None)


@dataclass
class Network:
    devices: dict[str, Device]
    hostname: str = DEFAULT_HOSTNAME
    override_dhcp_hostname: bool = False
    notes: list[str] = field(default_factory=list)


def machine_devices(sys_net: Path = SYS_NET,
                    new_uuid: Callable[[], str] = lambda: str(uuid.uuid4())) -> dict[str, Device]:
    """The loader's ifcfg file of each Ethernet device of the machine, by name."""
    devices: dict[str, Device] = {}
    if not sys_net.is_dir():
        return devices
    for entry in sorted(sys_net.iterdir()):
        try:
            kind = (entry / "type").read_text().strip()
            mac = (entry / "address").read_text().strip().upper()
        except OSError:
            continue
        if entry.name == "lo" or kind != ARPHRD_ETHER or not (entry / "device").exists():
            continue  # only hardware Ethernet devices (the loader's DEVICE_NETWORK)
        devices[entry.name] = Device(entry.name, {
            "DEVICE": entry.name, "HWADDR": mac, "TYPE": "Ethernet", "UUID": new_uuid(),
            "ONBOOT": "no", "NM_CONTROLLED": "yes", "BOOTPROTO": "dhcp"})
    return devices


def _carrier(sys_net: Path, name: str) -> bool:
    try:
        return (sys_net / name / "carrier").read_text().strip() == "1"
    except OSError:
        return False


def _device_name(net: Any, network: Network, boot_args: Mapping[str, str],
                 sys_net: Path) -> str | None:
    """The device a network line names; None when anaconda returns without doing anything."""
    where = f"network (line {net.lineno})"
    if not net.device:
        ksdevice = boot_args.get("ksdevice", "")
        devices = network.devices
        if ksdevice == "link":
            linked = [d for d in sorted(devices) if _carrier(sys_net, d)]
            if linked:
                return linked[0]
        elif ksdevice and ksdevice != "bootif":
            return ksdevice
        if not devices:
            raise InstallFailed("kickstart", f"{where}: no --device and the machine has no "
                                "network device: anaconda 13 stops here (kickstart.py "
                                "NetworkData.execute takes min() of no devices)")
        return min(devices)
    if net.device.lower() == "ibft":
        return None
    if net.device.lower() == "bootif":
        value = boot_args.get("BOOTIF", "")
        if not value:
            raise InstallFailed("kickstart", f"{where}: --device=bootif without a BOOTIF= "
                                "boot argument")
        return value[3:].replace("-", ":")
    return str(net.device)


def apply_line(network: Network, net: Any, *, boot_args: Mapping[str, str],
               sys_net: Path = SYS_NET) -> None:
    """Carry out one ``network`` line on ``network`` as NetworkData.execute does."""
    name = _device_name(net, network, boot_args, sys_net)
    if name is None:
        network.notes.append(f"network (line {net.lineno}) --device={net.device}: nothing "
                             "to do, as anaconda 13")
        return
    for device in network.devices.values():  # a MAC address names the device that has it
        if (device.values.get("HWADDR") or "").lower() == name.lower():
            name = device.name
            break
    dev = network.devices.get(name)
    if net.vlanid:
        network.notes.append(f"network (line {net.lineno}) --vlanid: only VLANs the loader "
                             "brought up are configured, as anaconda 13: none here")
        return
    if net.hostname:
        network.hostname = net.hostname
        network.override_dhcp_hostname = True
    domain = getattr(net, "sample_domain", "")
    if dev is None and domain:
        raise InstallFailed("kickstart", f"network (line {net.lineno}) --domain: the network "
                            f"interface {name} does not exist (anaconda 13 stops here)")
    if dev is None:
        if net.hostname:
            return  # only the host name, as anaconda does
        raise InstallFailed("kickstart", f"network (line {net.lineno}): the provided network "
                            f"interface {name} does not exist (anaconda 13 stops here)")
    if domain:
        dev.set("DOMAIN", domain)
    if not net.noipv4:
        dev.set("BOOTPROTO", net.bootProto)
        dev.set("DHCPCLASS", net.dhcpclass or "")
        if net.bootProto == "static":
            if net.ip:
                dev.set("IPADDR", net.ip)
            if net.netmask:
                dev.set("NETMASK", net.netmask)
    if net.noipv6:
        dev.set("IPV6INIT", "no")
    else:
        dev.set("IPV6INIT", "yes")
        if net.ipv6 == "auto":
            dev.set("IPV6_AUTOCONF", "yes")
        elif net.ipv6 == "dhcp":
            dev.set("IPV6_AUTOCONF", "no")
            dev.set("DHCPV6C", "yes")
        elif net.ipv6:
            dev.set("IPV6_AUTOCONF", "no")
            dev.set("IPV6ADDR", net.ipv6)
    if not net.noipv6 or not net.noipv4:
        dev.set("ONBOOT", "yes" if net.onboot else "no")
        if net.mtu:
            dev.set("MTU", str(net.mtu))
        if net.ethtool:
            dev.set("ETHTOOL_OPTS", net.ethtool)
    for index, server in enumerate((net.nameserver or "").split(",") if net.nameserver
                                   else [], start=1):
        dev.set(f"DNS{index}", server.strip())
    if net.gateway:
        dev.set("IPV6_DEFAULTGW" if ":" in net.gateway else "GATEWAY", net.gateway)
    ipv6gateway = getattr(net, "sample_ipv6gateway", "")
    if ipv6gateway:
        dev.set("IPV6_DEFAULTGW", ipv6gateway)
    if net.nodefroute:
        dev.set("DEFROUTE", "no")


def plan(handler: Any, *, boot_args: Mapping[str, str], sys_net: Path = SYS_NET,
         new_uuid: Callable[[], str] | None = None) -> Network:
    """The machine's devices with every ``network`` line of the kickstart carried out."""
    devices = machine_devices(sys_net) if new_uuid is None else machine_devices(sys_net,
                                                                                new_uuid)
    network = Network(devices)
    for net in handler.network.network:
        apply_line(network, net, boot_args=boot_args, sys_net=sys_net)
    return network


def files(network: Network) -> dict[str, str]:
    """Installed-system files (relative paths) → text, as Network.write leaves them."""
    if not network.devices:
        return {}
    result: dict[str, str] = {}
    for device in network.devices.values():
        bootproto = (device.values.get("BOOTPROTO") or "").lower()
        if bootproto == "dhcp" and network.hostname and network.override_dhcp_hostname:
            device.set("DHCP_HOSTNAME", network.hostname)
        result[f"{SCRIPTS}/ifcfg-{device.name}"] = device.text()
    text = f"NETWORKING=yes\nHOSTNAME={network.hostname or DEFAULT_HOSTNAME}\n"
    ipv6_gateways = [d.values.get("IPV6_DEFAULTGW") for d in network.devices.values()]
    ipv6_gateway = next((g for g in reversed(ipv6_gateways) if g), "")
    if ipv6_gateway:
        text += f"IPV6_DEFAULTGW={ipv6_gateway}\n"
    result["etc/sysconfig/network"] = text
    return result
