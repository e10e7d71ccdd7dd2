"""Kickstart settings written to the files RHEL 6 keeps them in (anaconda's writeConfig).

Pure text builders (tested on the host) plus ``apply``, which writes them under the
installed system's root. No plaintext password is written anywhere: a password that is
not given --iscrypted is hashed here with SHA-512 crypt, as anaconda did.
"""

from __future__ import annotations

import os
import re
import shutil
import warnings
from pathlib import Path
from typing import Any

from pykickstart.constants import (
    FIRSTBOOT_RECONFIG,
    FIRSTBOOT_SKIP,
    SELINUX_DISABLED,
    SELINUX_ENFORCING,
    SELINUX_PERMISSIVE,
)

from . import firewall
from .errors import InstallFailed

with warnings.catch_warnings():
    # Stage 2 runs Debian's Python 3.11, which has crypt (SHA-512 crypt, as anaconda used).
    warnings.simplefilter("ignore", DeprecationWarning)
    import crypt


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def i18n(lang: str) -> str:
    return f"LANG={quoted(lang)}\nSYSFONT=\"latarcyrheb-sun16\"\n"


def keyboard(layout: str) -> str:
    return (f"KEYTABLE={quoted(layout)}\nMODEL=\"pc105+inet\"\nLAYOUT={quoted(layout)}\n"
            "KEYBOARDTYPE=\"pc\"\n")


def clock(zone: str, utc: bool) -> str:
    return f"ZONE={quoted(zone)}\n" + ("UTC=true\n" if utc else "")


def selinux(mode: int | None) -> str:
    name = {SELINUX_DISABLED: "disabled", SELINUX_PERMISSIVE: "permissive",
            SELINUX_ENFORCING: "enforcing"}.get(mode if mode is not None else SELINUX_ENFORCING,
                                                 "enforcing")
    return (
        "# This file controls the state of SELinux on the system.\n"
        f"SELINUX={name}\nSELINUXTYPE=targeted\n"
    )


def network_file(networks: list[Any]) -> str:
    hostname = next((n.hostname for n in networks if n.hostname), "localhost.localdomain")
    gateway = next((n.gateway for n in networks if n.gateway), "")
    text = f"NETWORKING=yes\nHOSTNAME={hostname}\n"
    return text + (f"GATEWAY={gateway}\n" if gateway else "")


def ifcfg(net: Any, device: str) -> str:
    proto = (net.bootProto or "dhcp").lower()
    lines = [f"DEVICE={device}", f"BOOTPROTO={'none' if proto == 'static' else proto}",
             f"ONBOOT={'yes' if net.onboot is not False else 'no'}", "TYPE=Ethernet"]
    if proto == "static":
        lines += [f"IPADDR={net.ip}", f"NETMASK={net.netmask}"]
        if net.gateway:
            lines.append(f"GATEWAY={net.gateway}")
        for index, server in enumerate(s for s in (net.nameserver or "").split(",") if s):
            lines.append(f"DNS{index + 1}={server.strip()}")
    return "\n".join(lines) + "\n"


def hash_password(password: str, is_crypted: bool) -> str:
    if is_crypted:
        if not password.startswith("$") and password not in ("!", "*", "!!"):
            raise InstallFailed("kickstart", "an --iscrypted password must be a crypt hash")
        return password
    return crypt.crypt(password, crypt.mksalt(crypt.METHOD_SHA512))


def crypt_passwords(handler: Any) -> None:
    """Replace plain-text rootpw/user passwords in the parsed kickstart by SHA-512 hashes."""
    for data in [handler.rootpw, *handler.user.userList]:
        if data.password and not data.isCrypted:
            data.password = hash_password(data.password, False)
            data.isCrypted = True


def _read_table(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(":") for line in path.read_text().splitlines() if line.strip()]


def _write_table(path: Path, rows: list[list[str]], mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(":".join(r) + "\n" for r in rows))
    os.chmod(tmp, mode)
    tmp.replace(path)


def set_shadow_password(root: Path, user: str, hashed: str, *, lock: bool) -> None:
    shadow = root / "etc/shadow"
    rows = _read_table(shadow)
    for row in rows:
        if row[0] == user:
            row[1] = ("!" + hashed) if lock else hashed
            break
    else:
        days = "0"
        rows.append([user, ("!" + hashed) if lock else hashed, days, "0", "99999", "7", "", "",
                     ""])
    _write_table(shadow, rows, 0o000)


def add_user(root: Path, data: Any) -> None:
    """useradd as RHEL 6 does it: uid ≥ 500, a private group, /home/NAME from /etc/skel."""
    name = data.name
    if not re.fullmatch(r"[a-z_][a-z0-9_.-]*\$?", name or ""):
        raise InstallFailed("kickstart", f"user --name={name!r} is not a valid user name")
    passwd = _read_table(root / "etc/passwd")
    group = _read_table(root / "etc/group")
    if any(r[0] == name for r in passwd):
        raise InstallFailed("kickstart", f"user {name} exists already on the installed system")
    used = {int(r[2]) for r in passwd if len(r) > 2 and r[2].isdigit()}
    used_g = {int(r[2]) for r in group if len(r) > 2 and r[2].isdigit()}
    uid = int(data.uid) if data.uid else max([499, *(u for u in used if u < 60000)]) + 1
    gid = uid if uid not in used_g else max([499, *(g for g in used_g if g < 60000)]) + 1
    home = data.homedir or f"/home/{name}"
    shell = data.shell or "/bin/bash"
    passwd.append([name, "x", str(uid), str(gid), getattr(data, "gecos", "") or "", home, shell])
    group.append([name, "x", str(gid), ""])
    for extra in data.groups or []:
        for row in group:
            if row[0] == extra:
                members = [m for m in row[3].split(",") if m] if len(row) > 3 else []
                row[3:] = [",".join([*members, name])]
                break
        else:
            raise InstallFailed("kickstart", f"user {name}: group {extra} does not exist")
    _write_table(root / "etc/passwd", passwd, 0o644)
    _write_table(root / "etc/group", group, 0o644)
    gshadow = root / "etc/gshadow"
    if gshadow.exists():
        rows = _read_table(gshadow)
        rows.append([name, "!", "", ""])
        _write_table(gshadow, rows, 0o000)
    hashed = hash_password(data.password, data.isCrypted) if data.password else "!!"
    set_shadow_password(root, name, hashed, lock=bool(getattr(data, "lock", False)))
    home_dir = root / home.lstrip("/")
    if not home_dir.exists():
        skel = root / "etc/skel"
        if skel.is_dir():
            shutil.copytree(skel, home_dir, symlinks=True)
        else:
            home_dir.mkdir(parents=True)
        for path in [home_dir, *home_dir.rglob("*")]:
            os.lchown(path, uid, gid)
        home_dir.chmod(0o700)


_CHKCONFIG = re.compile(r"^#\s*chkconfig:\s*(\S+)\s+(\d+)\s+(\d+)", re.M)


def set_service(root: Path, name: str, enabled: bool) -> bool:
    """chkconfig NAME on|off: rcN.d links from the script's '# chkconfig:' header."""
    script = root / "etc/rc.d/init.d" / name
    if not script.is_file():
        return False
    match = _CHKCONFIG.search(script.read_text(errors="replace"))
    levels, start, stop = (match.group(1), match.group(2), match.group(3)) if match else (
        "2345", "50", "50")
    levels = "" if levels == "-" else levels
    for level in range(7):
        rc_dir = root / f"etc/rc.d/rc{level}.d"
        rc_dir.mkdir(parents=True, exist_ok=True)
        for old in list(rc_dir.glob(f"[SK][0-9][0-9]{name}")):
            old.unlink()
        on = enabled and str(level) in levels
        link = rc_dir / (f"S{int(start):02d}{name}" if on else f"K{int(stop):02d}{name}")
        link.symlink_to(f"../init.d/{name}")
    return True


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".ks-tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    tmp.replace(path)


def apply(root: Path, handler: Any, say: Any) -> None:
    """Write every system setting of the kickstart under ``root``."""
    if handler.lang.lang:
        write(root, "etc/sysconfig/i18n", i18n(handler.lang.lang))
    if handler.keyboard.keyboard:
        write(root, "etc/sysconfig/keyboard", keyboard(handler.keyboard.keyboard))
    if handler.timezone.timezone:
        zone = handler.timezone.timezone
        write(root, "etc/sysconfig/clock", clock(zone, bool(handler.timezone.isUtc)))
        zoneinfo = root / "usr/share/zoneinfo" / zone
        localtime = root / "etc/localtime"
        if zoneinfo.is_file():
            localtime.unlink(missing_ok=True)
            shutil.copyfile(zoneinfo, localtime)
    networks = list(handler.network.network)
    write(root, "etc/sysconfig/network", network_file(networks))
    for index, net in enumerate(networks):
        device = net.device or f"eth{index}"
        write(root, f"etc/sysconfig/network-scripts/ifcfg-{device}", ifcfg(net, device))
    if handler.rootpw.password or handler.rootpw.lock:
        hashed = (hash_password(handler.rootpw.password, handler.rootpw.isCrypted)
                  if handler.rootpw.password else "!!")
        set_shadow_password(root, "root", hashed, lock=bool(handler.rootpw.lock))
    for user in handler.user.userList:
        add_user(root, user)
    if handler.authconfig.authconfig:
        args = handler.authconfig.authconfig.split()
        algo = next((a.split("=", 1)[1] for a in args if a.startswith("--passalgo=")), "md5")
        write(root, "etc/sysconfig/authconfig",
              f"USESHADOW={'yes' if '--enableshadow' in args or '--useshadow' in args else 'no'}\n"
              f"PASSWDALGORITHM={algo}\n")
    firewall.write(root, handler.firewall, say)  # through the target's lokkit
    write(root, "etc/selinux/config", selinux(handler.selinux.selinux))
    if handler.firstboot.firstboot == FIRSTBOOT_SKIP:
        write(root, "etc/sysconfig/firstboot", "RUN_FIRSTBOOT=NO\n")
        set_service(root, "firstboot", False)
    elif handler.firstboot.firstboot == FIRSTBOOT_RECONFIG:
        write(root, "etc/reconfigSys", "")
    for name in handler.services.enabled:
        if not set_service(root, name, True):
            say(f"Warning: services --enabled={name}: no such service on the installed system")
    for name in handler.services.disabled:
        set_service(root, name, False)
