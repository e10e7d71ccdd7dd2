"""Kickstart settings written to the files RHEL 6 keeps them in (anaconda's writeConfig).

Pure text builders (tested on the host) plus ``apply``, which writes them under the
installed system's root. No plaintext password is written anywhere: a password that is
not given --iscrypted is hashed here with SHA-512 crypt, as anaconda did (users.py
cryptPassword), by buildiso's pure-Python implementation (no ``crypt`` module: gone in
Python 3.13). The network files are network.py's.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import shutil
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pykickstart.constants import FIRSTBOOT_RECONFIG, FIRSTBOOT_SKIP

from buildiso.render.md5crypt import md5_crypt
from buildiso.render.shacrypt import ALPHABET, sha512_crypt

from . import firewall, security
from .errors import InstallFailed
from .kstable import unsupported

AUTHCONFIG = "usr/sbin/authconfig"  # inside the installed system
SALT_LENGTH = 16  # users.py cryptPassword: 16 characters of [a-zA-Z0-9./]


def quoted(value: str) -> str:
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def i18n(lang: str) -> str:
    return f"LANG={quoted(lang)}\nSYSFONT=\"latarcyrheb-sun16\"\n"


def keyboard(layout: str) -> str:
    return (f"KEYTABLE={quoted(layout)}\nMODEL=\"pc105+inet\"\nLAYOUT={quoted(layout)}\n"
            "KEYBOARDTYPE=\"pc\"\n")


def clock(zone: str, utc: bool) -> str:
    return f"ZONE={quoted(zone)}\n" + ("UTC=true\n" if utc else "")


def hash_password(password: str, is_crypted: bool, *, algo: str = "sha512") -> str:
    """users.py cryptPassword: ``$6$`` (or ``$1$`` for md5) with a 16-character salt, of
    which MD5 crypt reads the first 8."""
    if is_crypted:
        if not password.startswith("$") and password not in ("!", "*", "!!"):
            raise InstallFailed("kickstart", "an --iscrypted password must be a crypt hash")
        return password
    salt = "".join(secrets.choice(ALPHABET) for _ in range(SALT_LENGTH))
    return md5_crypt(password, salt) if algo == "md5" else sha512_crypt(password, salt)


def pass_algo(authconfig: str) -> tuple[str, str]:
    """instdata.py getPassAlgo: the hash of plain-text passwords (None there: SHA-512), and
    the words of the authconfig line that chose it."""
    for word, algo in (("--enablemd5", "md5"), ("--passalgo=md5", "md5"),
                       ("--passalgo=sha256", "sha256")):  # fmt: skip
        if word in authconfig:
            return algo, word
    return "sha512", ""


def crypt_passwords(handler: Any) -> None:
    """Replace the plain-text passwords of the parsed kickstart (rootpw, user, sshpw,
    bootloader) by hashes, so neither the system nor anaconda-ks.cfg (regenerated from the
    parsed kickstart) holds them in clear: root's and the users' with authconfig's
    algorithm (SHA-512 or MD5; SHA-256 is refused), the others with SHA-512."""
    plain = [d for d in [handler.rootpw, *handler.user.userList] if d.password
             and not d.isCrypted]
    algo, word = pass_algo(handler.authconfig.authconfig or "")
    if plain and algo not in ("sha512", "md5"):
        command = getattr(handler.authconfig, "currentCmd", "") or "authconfig"  # or auth
        raise unsupported(f"{command} {word}", f"line {handler.authconfig.lineno}",
                          f"plain-text passwords are hashed with SHA-512 or MD5 crypt, not {algo}")
    for data in plain:
        data.password = hash_password(data.password, False, algo=algo)
        data.isCrypted = True
    for data in handler.sshpw.sshUserList:  # the installer's own logins: never on the system
        if data.password and not data.isCrypted:
            data.password = hash_password(data.password, False)
            data.isCrypted = True
    loader = handler.bootloader
    if loader.password and not loader.isCrypted:  # booty x86.py setPassword: $6$ always
        loader.password = hash_password(loader.password, False)
        loader.isCrypted = True


def _read_table(path: Path) -> list[list[str]]:
    if not path.exists():
        return []
    return [line.split(":") for line in path.read_text().splitlines() if line.strip()]


def _write_table(path: Path, rows: list[list[str]], mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(":".join(r) + "\n" for r in rows))
    os.chmod(tmp, mode)
    tmp.replace(path)


def shadow_today() -> str:
    """Today as /etc/shadow counts it: days since 1970-01-01 (UTC)."""
    return str(int(time.time()) // 86400)


def set_shadow_password(root: Path, user: str, hashed: str, *, lock: bool) -> None:
    """The password as users.py sets it through libuser 0.56 (RHEL 6): the last change is
    today (lib/user.c lu_user_setpass, lu_util_update_shadow_last_change; a new user's
    default is today too), never 0, which would make PAM demand a new password."""
    shadow = root / "etc/shadow"
    rows = _read_table(shadow)
    for row in rows:
        if row[0] == user:
            row[1] = ("!" + hashed) if lock else hashed
            if len(row) > 2:
                row[2] = shadow_today()
            break
    else:
        rows.append([user, ("!" + hashed) if lock else hashed, shadow_today(), "0", "99999",
                     "7", "", "", ""])  # fmt: skip
    _write_table(shadow, rows, 0o000)


_NAME = re.compile(r"[a-z_][a-z0-9_.-]*\$?")


def _next_id(used: set[int]) -> int:
    """libuser's choice: the lowest free ID from 500 (RHEL 6's first regular ID)."""
    candidate = 500
    while candidate in used:
        candidate += 1
    return candidate


def add_group(root: Path, data: Any) -> str | None:
    """The ``group`` command as users.py createGroup: a warning (no failure) when the group
    exists or cannot be made; returns that warning."""
    name = data.name
    group = _read_table(root / "etc/group")
    if not _NAME.fullmatch(name or "") or any(r[0] == name for r in group):
        return f"group {name} exists already or is not a valid name: not created (as anaconda)"
    used = {int(r[2]) for r in group if len(r) > 2 and r[2].isdigit()}
    gid = int(data.gid) if data.gid is not None else _next_id(used)
    group.append([name, "x", str(gid), ""])
    _write_table(root / "etc/group", group, 0o644)
    gshadow = root / "etc/gshadow"
    if gshadow.exists():
        _write_table(gshadow, [*_read_table(gshadow), [name, "!", "", ""]], 0o000)
    return None


def add_user(root: Path, data: Any) -> list[str]:
    """The ``user`` command as users.py createUser (libuser): uid from 500, a private group,
    /home/NAME from /etc/skel. A user that exists, or a name libuser refuses, is not created
    and only logged; supplementary groups that do not exist are left out. Returns the
    warnings."""
    name = data.name
    passwd = _read_table(root / "etc/passwd")
    group = _read_table(root / "etc/group")
    if not _NAME.fullmatch(name or "") or any(r[0] == name for r in passwd):
        return [f"user {name} exists already or is not a valid name: not created (as "
                "anaconda)"]
    warnings: list[str] = []
    used = {int(r[2]) for r in passwd if len(r) > 2 and r[2].isdigit()}
    used_g = {int(r[2]) for r in group if len(r) > 2 and r[2].isdigit()}
    uid = int(data.uid) if data.uid else _next_id(used)
    gid = uid if uid not in used_g else _next_id(used_g)
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
            warnings.append(f"user {name}: group {extra} does not exist: left out (as "
                            "anaconda)")
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
    return warnings


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


def run_authconfig(root: Path, words: str) -> str | None:
    """instdata.write: ``authconfig --update --nostart WORDS`` inside the installed system.
    Missing or failing, anaconda only logs it: so a warning here, and nothing written."""
    if not (root / AUTHCONFIG).is_file():
        return (f"/{AUTHCONFIG} is not on the installed system: authentication settings not "
                "written (anaconda logs this too)")
    proc = subprocess.run(["/usr/sbin/chroot", str(root), f"/{AUTHCONFIG}", "--update",
                           "--nostart", *shlex.split(words)], capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        return f"authconfig failed ({proc.returncode}): {' '.join(proc.stderr.split())[:200]}"
    return None


def write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".ks-tmp")
    tmp.write_text(text)
    os.chmod(tmp, mode)
    tmp.replace(path)


def apply(root: Path, handler: Any, say: Any, *, boot_args: Mapping[str, str] | None = None,
          ) -> None:  # fmt: skip
    """Write every system setting of the kickstart under ``root`` (``boot_args``: the
    kernel command line's, for ``selinux=0``)."""
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
    warning = run_authconfig(root, handler.authconfig.authconfig or "")
    if warning:
        say(f"Warning: {warning}")
    if handler.rootpw.password or handler.rootpw.lock:
        hashed = (hash_password(handler.rootpw.password, handler.rootpw.isCrypted)
                  if handler.rootpw.password else "!!")
        set_shadow_password(root, "root", hashed, lock=bool(handler.rootpw.lock))
    for group in handler.group.groupList:  # groups before users, as instdata.write
        warning = add_group(root, group)
        if warning:
            say(f"Warning: {warning}")
    for user in handler.user.userList:
        for warning in add_user(root, user):
            say(f"Warning: {warning}")
    # both through the target's lokkit, in instdata.write's order
    firewall.write(root, handler.firewall, say)
    security.write(root, security.mode(handler.selinux, boot_args or {}, say), say)
    if handler.firstboot.firstboot == FIRSTBOOT_SKIP:  # packages.py firstbootConfiguration
        write(root, "etc/sysconfig/firstboot", "RUN_FIRSTBOOT=NO")
    elif handler.firstboot.firstboot == FIRSTBOOT_RECONFIG:
        write(root, "etc/reconfigSys", "")
    for name in handler.services.enabled:
        if not set_service(root, name, True):
            say(f"Warning: services --enabled={name}: no such service on the installed system")
    for name in handler.services.disabled:
        set_service(root, name, False)
