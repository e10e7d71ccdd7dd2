#!/usr/bin/python
"""lokkit for the buildiso sample OS (installed as /usr/sbin/lokkit, package
system-config-firewall-base): the part of RHEL 6's lokkit that anaconda 13 uses.

anaconda 13 carries out a kickstart's ``firewall`` command by running
``lokkit --quiet --nostart -f ARGS`` chrooted into the installed system, and its ``selinux``
setting by running ``lokkit --quiet --nostart --selinux=MODE`` there (security.py). This
program writes what RHEL 6's system-config-firewall-base 1.2.27 writes for those options, in
the same format: /etc/sysconfig/system-config-firewall, /etc/sysconfig/iptables,
/etc/sysconfig/ip6tables and /etc/selinux/config (docs/anaconda13-firewall.md describes the
formats and where they come from). Every other option of RHEL's lokkit is refused with an
error and exit code 2, before anything is written; so is activating the rules (no
``--nostart``): the sample OS has no iptables service.

Options: -q/--quiet, -n/--nostart, -f, --enabled, --disabled,
-p/--port=PORT[-PORT]:tcp|udp, -s/--service=NAME, -t/--trust=INTERFACE,
--selinux=enforcing|permissive|disabled.
Without -f the saved configurations are read first and the options change them, as RHEL's
does; with only --selinux options the firewall files are left alone.
"""

from __future__ import annotations

import os
import shutil
import socket
import sys
from dataclasses import dataclass, field
from pathlib import Path

CONFIG = "etc/sysconfig/system-config-firewall"
# fw_config.py: SE_CONFIG, else OLD_SE_CONFIG (read only); SELINUX_MODES; the defaults
SE_CONFIG = "etc/selinux/config"
OLD_SE_CONFIG = "etc/sysconfig/selinux"
SELINUX_MODES = ("enforcing", "permissive", "disabled")
DEFAULT_SELINUX_TYPE = "targeted"
RULES = {"ipv4": "etc/sysconfig/iptables", "ipv6": "etc/sysconfig/ip6tables"}
USAGE = (
    "usage: lokkit [-q] [-n] [-f] [--enabled|--disabled] [--port=PORT[-PORT]:PROTO] "
    "[--service=NAME] [--trust=INTERFACE] [--selinux=MODE]  (buildiso sample)"
)

# RHEL 6's predefined services (system-config-firewall 1.2.27-7.2.el6_6, fw_services.py, with
# libvirt-tls on 16514 as its rhbz#565625 patch has it): name -> "PORT/PROTO" or a bare
# protocol (no port). telnet is not one of them.
SERVICES: dict[str, tuple[str, ...]] = {
    "ipp-client": ("631/udp",),
    "ipp": ("631/tcp", "631/udp"),
    "mdns": ("5353/udp",),
    "ipsec": ("ah", "esp", "500/udp"),
    "ssh": ("22/tcp",),
    "http": ("80/tcp",),
    "ftp": ("21/tcp",),
    "nfs": ("2049/tcp",),
    "https": ("443/tcp",),
    "smtp": ("25/tcp",),
    "samba-client": ("137/udp", "138/udp"),
    "samba": ("137/udp", "138/udp", "139/tcp", "445/tcp"),
    "dns": ("53/tcp", "53/udp"),
    "imaps": ("993/tcp",),
    "pop3s": ("995/tcp",),
    "radius": ("1812/udp", "1813/udp"),
    "openvpn": ("1194/udp",),
    "tftp": ("69/udp",),
    "tftp-client": (),
    "cluster-suite": ("5404/udp", "5405/udp", "11111/tcp", "21064/tcp"),
    "amanda-client": ("10080/udp",),
    "bacula-client": ("9102/tcp",),
    "bacula": ("9101/tcp", "9102/tcp", "9103/tcp"),
    "libvirt": ("16509/tcp",),
    "libvirt-tls": ("16514/tcp",),
}
# mDNS is only accepted for its multicast group
DESTINATIONS = {"mdns": {"ipv4": "224.0.0.251", "ipv6": "ff02::fb"}}
# RHEL's lokkit options this one does not carry out (refused by name)
NOT_IMPLEMENTED = (
    "-v", "--verbose", "--version", "--update", "--default", "--list-services",
    "--list-icmp-types", "--addmodule", "--removemodule", "-m", "--masq", "--high", "--medium",
    "--custom-rules", "--forward-port", "--block-icmp", "--selinuxtype", "-?",
    "-h", "--help", "--usage",
)  # fmt: skip
_FLAGS = {"-q": "quiet", "--quiet": "quiet", "-n": "nostart", "--nostart": "nostart",
          "-f": "force", "--enabled": "enabled", "--disabled": "disabled"}  # fmt: skip
_VALUED = {"-p": "port", "--port": "port", "-s": "service", "--service": "service",
           "-t": "trust", "--trust": "trust", "--selinux": "selinux"}  # fmt: skip
# What the saved configuration may hold (RHEL: fw_parser.py parseSysconfigArgs, the standard
# options only)
_SAVED_OPTIONS = frozenset({"--enabled", "--disabled", "-p", "--port", "-s", "--service", "-t",
                            "--trust"})  # fmt: skip

Port = tuple[tuple[int, ...], str]  # ((22,) or (6000, 6010), "tcp")


class LokkitError(Exception):
    """A refused option or value: message printed, exit code 2 (as RHEL's option parser)."""


@dataclass
class Settings:
    enabled: bool = True
    ports: list[Port] = field(default_factory=list)
    services: list[str] = field(default_factory=list)
    trust: list[str] = field(default_factory=list)


@dataclass
class Flags:
    quiet: bool = False
    nostart: bool = False
    force: bool = False
    selinux: str | None = None


@dataclass(frozen=True)
class SELinux:
    """What /etc/selinux/config says (None: not there)."""

    mode: str | None = None
    type: str | None = None


def _port_id(text: str) -> int:
    """A port number or /etc/services name; -1 when it is neither (RHEL: getPortID)."""
    text = text.strip()
    if text.isdigit():
        number = int(text)
    else:
        try:
            number = socket.getservbyname(text) if text else -1
        except OSError:
            return -1
    return number if number <= 65535 else -1


def _port_range(text: str) -> tuple[int, ...]:
    """``22``, ``ssh``, ``6000-6010`` (either order): every way to read it must agree."""
    parts = text.split("-")
    readings: list[tuple[int, ...]] = []
    for cut in range(len(parts), 0, -1):
        first, second = _port_id("-".join(parts[:cut])), "-".join(parts[cut:])
        if not second:
            if first >= 0:
                readings.append((first,))
                if cut == len(parts):
                    break
            continue
        other = _port_id(second)
        if first >= 0 and other >= 0:
            low, high = sorted((first, other))
            readings.append((low,) if low == high else (low, high))
    if not readings:
        raise LokkitError(f"invalid port definition {text}.")
    if len(readings) > 1:
        raise LokkitError(f"port range {text} is not unique.")
    return readings[0]


def parse_port(value: str) -> Port:
    ports, sep, proto = value.partition(":")
    if not sep or ":" in proto:
        raise LokkitError(f"invalid port definition {value}.")
    if proto.strip() not in ("tcp", "udp"):
        raise LokkitError(f"{proto.strip()} is not a valid protocol.")
    return _port_range(ports.strip()), proto.strip()


def _check_interface(value: str) -> str:
    if not value or len(value) > 16 or value == "+" or any(c in value for c in " /!:*"):
        raise LokkitError(f"invalid interface '{value}'.")
    return value


def parse_args(args: list[str], settings: Settings, flags: Flags, *, source: str = "") -> None:
    """Apply ``args`` to ``settings``/``flags`` in order (last --enabled/--disabled wins;
    repeated values are kept once); LokkitError for anything else."""
    where = f"{source}: " if source else ""
    queue = list(args)
    while queue:
        arg = queue.pop(0)
        name, eq, value = arg.partition("=") if arg.startswith("--") else (arg[:2], "", arg[2:])
        if name in _FLAGS and value and not arg.startswith("--"):  # -qnf: -q -n -f
            queue.insert(0, "-" + value)
            value = ""
        if name in NOT_IMPLEMENTED:
            raise LokkitError(f"{where}option {name} is not implemented by the buildiso sample's "
                              "lokkit")  # fmt: skip
        if source and name not in _SAVED_OPTIONS:
            raise LokkitError(f"{where}no such option: {name}")
        if name in _FLAGS:
            if eq:
                raise LokkitError(f"{where}{name} option does not take a value")
            key = _FLAGS[name]
            if key in ("enabled", "disabled"):
                settings.enabled = key == "enabled"
            else:
                setattr(flags, key, True)
            continue
        if name not in _VALUED:
            raise LokkitError(f"{where}no such option: {arg}")
        if not eq and not value:
            if not queue:
                raise LokkitError(f"{where}{name} option requires an argument")
            value = queue.pop(0)
        kind = _VALUED[name]
        if kind == "selinux":
            flags.selinux = _selinux_mode(value)
        elif kind == "port":
            port = parse_port(value)
            if port not in settings.ports:
                settings.ports.append(port)
        elif kind == "service":
            if value not in SERVICES:
                raise LokkitError(f"{where}invalid service '{value}'.")
            if value not in settings.services:
                settings.services.append(value)
        elif _check_interface(value) not in settings.trust:
            settings.trust.append(value)


def _selinux_mode(value: str) -> str:
    """An optparse ``choice`` (fw_parser.py ``_addSELinuxOptions``)."""
    if value not in SELINUX_MODES:
        choices = ", ".join(f"'{m}'" for m in SELINUX_MODES)
        raise LokkitError(f"option --selinux: invalid choice: '{value}' (choose from {choices})")
    return value


def read_selinux(root: Path) -> SELinux:
    """/etc/selinux/config (else /etc/sysconfig/selinux): its SELINUX= and SELINUXTYPE= lines
    (RHEL: fw_selinux.py ``read``; a line with other than one ``=`` is skipped, the last of
    each key wins, an unknown mode is refused as on the command line)."""
    path = next((root / rel for rel in (SE_CONFIG, OLD_SE_CONFIG) if (root / rel).is_file()),
                None)  # fmt: skip
    if path is None:
        return SELinux()
    mode = kind = None
    for line in path.read_text(errors="replace").splitlines()[:1000]:
        line = line.strip()
        parts = line.split("=")
        if not line or line.startswith("#") or len(parts) != 2:
            continue
        key, value = parts[0].strip(), parts[1].strip()
        if key == "SELINUX":
            mode = _selinux_mode(value)
        elif key == "SELINUXTYPE":
            kind = value
    return SELinux(mode, kind)


def selinux_text(mode: str, kind: str) -> str:
    """/etc/selinux/config as RHEL's lokkit writes it (fw_selinux.py ``write``)."""
    return (
        "# This file controls the state of SELinux on the system.\n"
        "# SELINUX= can take one of these three values:\n"
        "#\tenforcing - SELinux security policy is enforced.\n"
        "#\tpermissive - SELinux prints warnings instead of enforcing.\n"
        "#\tdisabled - SELinux is fully disabled.\n"
        f"SELINUX={mode}\n"
        "# SELINUXTYPE= type of policy in use. Possible values are:\n"
        "#\ttargeted - Only targeted network daemons are protected.\n"
        "#\tstrict - Full SELinux protection.\n"
        + (f"SELINUXTYPE={kind}\n" if kind else "#SELINUXTYPE=\n")
    )


def update_selinux(root: Path, mode: str | None, old: SELinux | None) -> int:
    """fw_lokkit.py ``updateSELinux``: with --selinux, the type kept from the old file (else
    targeted); the file is written only when mode or type change (always with -f, ``old``
    None); a file that cannot be written is exit status 1. RHEL's lokkit then runs
    ``setenforce`` on the running kernel, which leaves no trace on disk: not done here."""
    if mode is None:
        return 0
    kind = (old.type if old is not None else None) or DEFAULT_SELINUX_TYPE
    if old is not None and (old.mode, old.type) == (mode, kind):
        return 0
    path = root / SE_CONFIG
    try:
        existing = path.stat().st_mode & 0o7777 if path.is_file() else None
        with path.open("w") as handle:  # opened for writing: an existing file keeps its mode
            if existing is None:
                os.chmod(path, 0o644)
            handle.write(selinux_text(mode, kind))
    except OSError:
        print("Failed to write selinux configuration.")
        return 1
    return 0


def sysconfig_text(settings: Settings) -> str:
    """/etc/sysconfig/system-config-firewall: one option per line (RHEL: fw_sysconfig.py)."""
    lines = ["# Configuration file for system-config-firewall", ""]
    lines.append("--enabled" if settings.enabled else "--disabled")
    lines += [f"--trust={dev}" for dev in settings.trust]
    lines += [f"--port={'-'.join(map(str, ports))}:{proto}" for ports, proto in settings.ports]
    lines += [f"--service={name}" for name in settings.services]
    return "\n".join(lines) + "\n"


def rules_text(settings: Settings, family: str) -> str:
    """/etc/sysconfig/iptables (``ipv4``) or ip6tables (``ipv6``), the filter table only
    (RHEL: fw_iptables.py iptablesClass.write, for these options)."""
    v4 = family == "ipv4"
    reject = "icmp-host-prohibited" if v4 else "icmp6-adm-prohibited"
    icmp = "-p icmp" if v4 else "-p ipv6-icmp"
    out = [
        "# Firewall configuration written by system-config-firewall",
        "# Manual customization of this file is not recommended.",
        "*filter",
        ":INPUT ACCEPT [0:0]",
        ":FORWARD ACCEPT [0:0]",
        ":OUTPUT ACCEPT [0:0]",
        "-A INPUT -m state --state ESTABLISHED,RELATED -j ACCEPT",
        f"-A INPUT {icmp} -j ACCEPT",
        "-A INPUT -i lo -j ACCEPT",
    ]
    if not v4:  # DHCPv6 replies, always (RHEL 6's ipv6-dhcp patch)
        out.append("-A INPUT -m state --state NEW -m udp -p udp --dport 546 -d fe80::/64 -j ACCEPT")
    out += [f"-A INPUT -i {dev} -j ACCEPT" for dev in settings.trust]
    for name in settings.services:
        dest = DESTINATIONS.get(name, {}).get(family)
        for entry in SERVICES[name]:
            port, _, proto = entry.rpartition("/") if "/" in entry else ("", "", entry)
            if proto in ("tcp", "udp"):
                match = f"-m state --state NEW -m {proto} -p {proto} "
            else:
                match = f"-p {proto} " if v4 else f"-m ipv6header --header {proto} "
            rule = "-A INPUT " + match + (f"--dport {port} " if port else "")
            out.append(rule + (f"-d {dest} " if dest else "") + "-j ACCEPT")
    for ports, proto in settings.ports:
        out.append(f"-A INPUT -m state --state NEW -m {proto} -p {proto} "
                   f"--dport {':'.join(map(str, ports))} -j ACCEPT")  # fmt: skip
    if settings.trust:  # forwarding between trusted interfaces
        out += ["-A FORWARD -m state --state ESTABLISHED,RELATED -j ACCEPT",
                f"-A FORWARD {icmp} -j ACCEPT", "-A FORWARD -i lo -j ACCEPT"]  # fmt: skip
        out += [f"-A FORWARD -i {dev} -j ACCEPT" for dev in settings.trust]
    out += [f"-A INPUT -j REJECT --reject-with {reject}",
            f"-A FORWARD -j REJECT --reject-with {reject}", "COMMIT"]  # fmt: skip
    return "\n".join(out) + "\n"


def _write(path: Path, text: str) -> None:
    """Keep the previous file as FILE.old, then write mode 0600 (as RHEL's lokkit)."""
    if path.exists():
        shutil.copy2(path, path.with_name(path.name + ".old"))
    with path.open("w") as handle:
        os.chmod(path, 0o600)
        handle.write(text)


def _saved(root: Path) -> Settings:
    """The saved configuration (without -f); the defaults (enabled) when there is none."""
    path = root / CONFIG
    if not path.is_file():
        return Settings()
    lines = path.read_text(errors="replace").splitlines()[:1000]
    args = [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]
    saved = Settings()
    parse_args(args, saved, Flags(), source=f"/{CONFIG}")
    return saved


def main(argv: list[str], *, root: Path = Path("/")) -> int:
    """lokkit ARGS with the installed system at ``root``; returns the exit status."""
    if not argv:
        print(USAGE)
        return 0
    # only --selinux* words: SELinux alone, the firewall files untouched (RHEL: the lokkit
    # script's "nofw"; anaconda's --quiet --nostart --selinux=MODE is not such a call)
    selinux_only = all(arg.startswith("--selinux") for arg in argv)
    try:
        flags = Flags()
        parse_args(argv, Settings(), flags)  # options first: a refused one writes nothing
        old = None if flags.force else _saved(root)
        old_selinux = None if flags.force else read_selinux(root)
        settings = Settings() if old is None else Settings(
            old.enabled, list(old.ports), list(old.services), list(old.trust))
        parse_args(argv, settings, Flags())
        if not flags.nostart and not selinux_only:
            raise LokkitError("activating the firewall is not implemented by the buildiso "
                              "sample's lokkit (no iptables service): use --nostart")  # fmt: skip
    except LokkitError as exc:
        print(exc, file=sys.stderr)
        return 2
    status = update_selinux(root, flags.selinux, old_selinux)
    if selinux_only:
        return status
    try:
        _write(root / CONFIG, sysconfig_text(settings))
    except OSError:
        print(f"Failed to write /{CONFIG}.", file=sys.stderr)
        status += 1
    if settings.enabled or (old is not None and old.enabled) or flags.force:
        for family, rel in RULES.items():
            path = root / rel
            try:
                if settings.enabled:
                    _write(path, rules_text(settings, family))
                elif path.is_file():
                    path.unlink()
            except OSError as exc:
                print(f"Failed to write /{rel}: {exc.strerror}.", file=sys.stderr)
                status += 1
    return status


if __name__ == "__main__":
    if os.geteuid() != 0:
        print(f"\nERROR - You must be root to run {Path(sys.argv[0]).name}.")
        sys.exit(1)
    sys.exit(main(sys.argv[1:]))
