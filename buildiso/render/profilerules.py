"""Profile rules that apply to a hand-written kickstart too (``profilereader``, ``validate``).

The profile's admin user must be an ordinary account and its paths normalised; ``validate``
applies the same rules to a kickstart's ``user`` and mount points. One place for both.
"""

from __future__ import annotations

import posixpath

# root and the accounts of a RHEL 6.10 minimal install (setup's /etc/passwd and the @core
# packages' users): the console user must be none of them.
SYSTEM_ACCOUNTS = frozenset(
    "root bin daemon adm lp sync shutdown halt mail uucp operator games gopher ftp nobody "
    "dbus vcsa rpc rpcuser nfsnobody abrt haldaemon ntp saslauth postfix sshd tcpdump "
    "oprofile avahi avahi-autoipd apache mysql postgres tomcat".split()
)


def path_problem(value: str, *, absolute: bool) -> str | None:
    """Why ``value`` is no normalised path (no ``..`` or ``.`` parts, ``//``, trailing ``/``)."""
    if ".." in value.split("/"):
        return f"{show(value)} must not contain '..' (it could leave its place)"
    if posixpath.normpath(value) != value or value.startswith("//"):
        return f"{show(value)} is not normalised (allowed: {_norm(value)})"
    if absolute != value.startswith("/"):
        return f"{show(value)} must be {'absolute' if absolute else 'relative'}"
    return None


def admin_user_problem(name: str) -> str | None:
    """Why ``name`` cannot be the console (admin) user."""
    if name in SYSTEM_ACCOUNTS:
        return (
            f"{show(name)} is root or a RHEL 6 system account: the console user gets a "
            "password that first boot expires and logs in (the kickstart locks root); "
            "use an ordinary user name such as cs-admin"
        )
    return None


def _norm(value: str) -> str:
    return str(posixpath.normpath(value)).replace("//", "/")


def show(value: str) -> str:
    # repr() makes a newline or a quote visible in the error line instead of breaking it.
    return repr(value) if len(value) <= 80 else repr(value[:77] + "...")
