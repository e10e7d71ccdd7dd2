"""Checks shared by the scenarios that install the gateway from the mounted media
(``appendix-a`` and ``upgrade``): what the guest's rpm and yum say afterwards.

Each takes the command outputs the scenario collected on the serial console:
``rpm -q postfix rsyslog samba-common``, ``yum repolist --all`` and
``rpm -q gpg-pubkey --qf '%{VERSION}\\n'``.
"""

from __future__ import annotations

from buildiso.boottest.postreport import CheckResult

# The packages that conflict with the gateway's own mail, logging and Samba components.
FORBIDDEN = ("postfix", "rsyslog", "samba-common")
FORBIDDEN_QUERY = "rpm -q " + " ".join(FORBIDDEN)  # the command whose output is checked


def check(name: str, ok: bool, message: str) -> CheckResult:
    return CheckResult(name=name, ok=ok, message=message)


def media_install_checks(
    *, forbidden: str, repos: str, keys: str, key_id: str | None
) -> list[CheckResult]:
    """The three removed, the cs-* repositories defined and disabled, the vendor key imported
    (``key_id``: the signer of the media's packages; None: any key will do)."""
    present = [
        n
        for n in FORBIDDEN
        if f"{n}-" in forbidden and f"package {n} is not installed" not in forbidden
    ]
    cs = [ln.split() for ln in repos.splitlines() if ln.startswith("cs-")]
    enabled = [r[0] for r in cs if r[-1] != "disabled"]
    imported = keys.split()
    return [
        check("forbidden-absent", not present, f"still installed: {present}"),
        check(
            "cs-repos-disabled",
            bool(cs) and not enabled,
            f"cs-* repositories: {[r[0] for r in cs]}; enabled: {enabled}",
        ),
        check(
            "vendor-key-imported",
            key_id in imported if key_id else bool(imported),
            f"rpm keys {imported}, signer {key_id}",
        ),
    ]
