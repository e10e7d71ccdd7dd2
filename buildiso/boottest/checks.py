"""Checks of an installed system, judged from what its own tools print on the serial console.

Each check (``CHECKS``, the names a scenario's ``check`` step lists) says which commands it
reads (``QUERIES``); the step types each needed command once, until two readings agree,
and hands the outputs over. Checks that compare with the state before a change (an
upgrade) read the ``inventory`` step's readings (``INVENTORY``) as ``before``. What the
gateway must be comes from the ISO's ``cs-repo`` (``boottest/release.py``), never from a
version written here.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from buildiso.boottest.release import METAPACKAGE, REPO_CONF, ReleaseRepo, RepoDefinition
from buildiso.boottest.results import Check

# The packages that conflict with the gateway's own mail, logging and Samba components.
FORBIDDEN = ("postfix", "rsyslog", "samba-common")
CONFIG = "/etc/cs-email/cs-email.conf"
CONSOLE = "sudo cs-console"  # the gateway's Server Console command (cs-email-core)
# A serial line has no window size: bash's line editor assumes 80 columns and scrolls a
# longer line sideways, redrawing its echo. Commands stay short enough to echo on one
# line after a prompt such as "[cs-admin@localhost ~]$ ".
MAX_COMMAND = 54
_PORT = re.compile(r"-p (tcp|udp)\b.*?--dport (\d+)")
# rpm --checksig --verbose: "V4 RSA/SHA256 Signature, key ID 2c9acbb1: OK" (rpm 4.8 alike)
_KEY_LINE = re.compile(r"key ID ([0-9a-f]{8}): (.*)$")
_NOT_OK = re.compile(r"NOT OK|BAD|NOKEY|NOTTRUSTED|MISSING|error|failed", re.IGNORECASE)
# yum list installed: "cs-email.x86_64   4.9.0-190   @cs-email" (a long name wraps a line)
_INSTALLED = re.compile(r"(\S+)\.(?:x86_64|noarch|i686)\s+\S+\s+@(\S+)")

Setting = tuple[str, str]  # what an edit-setting step set: (key, value)

QUERIES: Mapping[str, Callable[[Setting | None], str | None]] = {
    "rpms": lambda s: "rpm -qa --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' 'cs-*'",
    "config": lambda s: f"md5sum {CONFIG}",
    "setting": lambda s: f"grep ^{s[0]} {CONFIG}" if s else None,
    "data": lambda s: "md5sum /var/lib/cs-email/data/*",
    "status": lambda s: f"{CONSOLE} status",
    "forbidden": lambda s: "rpm -q " + " ".join(FORBIDDEN),
    "repos": lambda s: "yum repolist --all",
    "keys": lambda s: "rpm -q gpg-pubkey --qf '%{VERSION}\\n'",
    # the package Appendix B downloaded with curl --remote-name into root's home
    "checksig": lambda s: f"rpm --checksig --verbose ~/{REPO_CONF}-*.rpm",
    "origins": lambda s: "yum list installed 'cs-*'",
}
# What the inventory step reads, before a change, for the checks that compare.
INVENTORY = ("rpms", "config", "setting", "data", "status")


@dataclass(frozen=True)
class Facts:
    now: Mapping[str, str]  # query name -> output, read by the check step
    before: Mapping[str, str] | None  # the inventory step's readings
    release: ReleaseRepo | None  # the ISO's cs-repo
    signer: str | None  # the key that signed the ISO's cs-email
    setting: Setting | None
    repos: tuple[RepoDefinition, ...] | None = None  # what the ISO's cs-email-repo-conf defines

    def old(self, query: str) -> str:
        return (self.before or {}).get(query, "")


def packages(rpms: str) -> dict[str, str]:
    pairs = (line.split(" ", 1) for line in rpms.splitlines() if line.startswith("cs-"))
    return {name: vr.strip() for name, vr in pairs}


def services(status: str) -> list[str]:
    return sorted(ln.split(":", 1)[1].strip() for ln in status.splitlines()
                  if ln.startswith("service:"))  # fmt: skip


def open_ports(status: str) -> list[str]:
    """``PORT/PROTO`` of each ACCEPT rule of the Server Console's firewall lines."""
    rules = (ln for ln in status.splitlines() if ln.startswith("firewall:"))
    return sorted({f"{m[1]}/{m[0]}" for ln in rules for m in _PORT.findall(ln)})


def _release(f: Facts) -> ReleaseRepo:
    assert f.release is not None  # resolved before booting (the check step's needs)
    return f.release


def gateway_version(f: Facts) -> Check:
    release = _release(f)
    now, want = packages(f.now["rpms"]), release.version
    wrong = {n: v for n, v in now.items() if n in release.versions and v != release.versions[n]}
    missing = sorted(n for n in release.requires if n in release.versions and n not in now)
    was = f", was {packages(f.old('rpms')).get(METAPACKAGE)}" if f.before is not None else ""
    return Check(
        "gateway-version",
        now.get(METAPACKAGE) == want and not wrong and not missing,
        f"{METAPACKAGE} {now.get(METAPACKAGE)} (want {want}{was}); not at the release's "
        f"version: {wrong or 'none'}"
        + (f"; required, not installed: {missing}" if missing else ""),
    )


def obsoleted_removed(f: Facts) -> Check:
    old, now = packages(f.old("rpms")), packages(f.now["rpms"])
    obsoleted = sorted(n for n in _release(f).obsoletes if n in old)
    left = [n for n in obsoleted if n in now]
    return Check("obsoleted-removed", bool(obsoleted) and not left,
                 f"obsoleted by the new release and installed before: {obsoleted}; "
                 f"still there: {left}")  # fmt: skip


def added_installed(f: Facts) -> Check:
    release, old, now = _release(f), packages(f.old("rpms")), packages(f.now["rpms"])
    added = sorted(n for n in release.requires if n in release.versions and n not in old)
    missing = [n for n in added if n not in now]
    return Check("added-installed", bool(added) and not missing,
                 f"required by the new {METAPACKAGE}, not in the old release: {added}; "
                 f"missing: {missing}")  # fmt: skip


def config_kept(f: Facts) -> Check:
    assert f.setting is not None  # an edit-setting step came first (the reader checks)
    line = f"{f.setting[0]} = {f.setting[1]}"
    before, after = f.old("config").strip(), f.now["config"].strip()
    was, now = f.old("setting").strip(), f.now["setting"].strip()
    ok = bool(before) and before == after and was == now == line
    return Check("config-kept", ok,
                 f"the admin's {line!r} and the file's checksum unchanged" if ok
                 else f"before: {was!r} {before!r}; after: {now!r} {after!r}")  # fmt: skip


def data_kept(f: Facts) -> Check:
    before, after = f.old("data").strip(), f.now["data"].strip()
    ok = bool(before) and before == after
    return Check("data-kept", ok,
                 f"{len(before.split()) // 2} data file(s) with unchanged checksums" if ok
                 else f"before: {before!r}; after: {after!r}")  # fmt: skip


def forbidden_absent(f: Facts) -> Check:
    out = f.now["forbidden"]
    present = [n for n in FORBIDDEN
               if f"{n}-" in out and f"package {n} is not installed" not in out]  # fmt: skip
    return Check("forbidden-absent", not present, f"still installed: {present}")


def cs_repos_disabled(f: Facts) -> Check:
    cs = [ln.split() for ln in f.now["repos"].splitlines() if ln.startswith("cs-")]
    enabled = [r[0] for r in cs if r[-1] != "disabled"]
    return Check("cs-repos-disabled", bool(cs) and not enabled,
                 f"cs-* repositories: {[r[0] for r in cs]}; enabled: {enabled}")  # fmt: skip


def vendor_key_imported(f: Facts) -> Check:
    imported = f.now["keys"].split()
    return Check("vendor-key-imported", f.signer in imported if f.signer else bool(imported),
                 f"rpm keys {imported}, signer {f.signer}")  # fmt: skip


def vendor_signature_ok(f: Facts) -> Check:
    lines = [ln.strip() for ln in f.now["checksig"].splitlines() if ln.strip()]
    keys = [(m[1], m[2].strip()) for ln in lines if (m := _KEY_LINE.search(ln))]
    bad = [ln for ln in lines if _NOT_OK.search(ln)]
    ok = bool(keys) and not bad and all(k == f.signer and v == "OK" for k, v in keys)
    seen = ", ".join(f"key ID {k}: {v}" for k, v in keys) or "no signature"
    return Check("vendor-signature-ok", ok,
                 f"rpm --checksig of the downloaded {REPO_CONF}: {seen} (vendor key {f.signer})"
                 + (f"; {'; '.join(bad)[:300]}" if bad else ""))  # fmt: skip


def _repos(f: Facts) -> tuple[RepoDefinition, ...]:
    assert f.repos is not None  # resolved before booting (the check step's needs)
    return f.repos


def repos_as_packaged(f: Facts) -> Check:
    listed = {cols[0]: "disabled" if cols[-1] == "disabled" else "enabled"
              for cols in (ln.split() for ln in f.now["repos"].splitlines()) if cols}  # fmt: skip
    want = {r.id: "enabled" if r.enabled else "disabled" for r in _repos(f)}
    wrong = {i: listed.get(i, "not defined") for i, state in want.items() if listed.get(i) != state}
    return Check("repos-as-packaged", bool(want) and not wrong,
                 f"{REPO_CONF} defines {', '.join(f'{i} {s}' for i, s in want.items())}"
                 + (f"; on the server: {wrong}" if wrong else ", and so they are"))  # fmt: skip


def installed_from_online(f: Facts) -> Check:
    online = {r.id for r in _repos(f) if r.online}
    origins = dict(_INSTALLED.findall(f.now["origins"]))
    wanted = sorted({METAPACKAGE, *_release(f).requires} & set(_release(f).versions) - {REPO_CONF})
    wrong = {n: origins.get(n, "not installed") for n in wanted if origins.get(n) not in online}
    return Check("installed-from-online", bool(online) and not wrong,
                 f"{', '.join(wanted)} from the online repositories {sorted(online)}"
                 + (f"; not so: {wrong}" if wrong else ""))  # fmt: skip


def firewall_unchanged(f: Facts) -> Check:
    was, now = open_ports(f.old("status")), open_ports(f.now["status"])
    return Check("firewall-unchanged", bool(was) and was == now,
                 f"open as after the fresh install: {', '.join(now)}" if was == now
                 else f"before {was}; after {now}")  # fmt: skip


def services_unchanged(f: Facts) -> Check:
    was, now = services(f.old("status")), services(f.now["status"])
    return Check("services-unchanged", was == now,
                 f"started at boot as after the fresh install: {now}" if was == now
                 else f"before {was}; after {now}")  # fmt: skip


@dataclass(frozen=True)
class CheckKind:
    name: str
    doc: str
    run: Callable[[Facts], Check]
    queries: tuple[str, ...]
    before: bool = False  # compares with an inventory step's readings
    release: bool = False  # reads the ISO's cs-repo
    signer: bool = False  # reads the key that signed the ISO's packages
    setting: bool = False  # reads what an edit-setting step set
    packaged: bool = False  # reads the repositories the ISO's cs-email-repo-conf defines


CHECKS: Mapping[str, CheckKind] = {c.name: c for c in (
    CheckKind("gateway-version", "cs-email and every cs-* package the ISO's cs-repo "
              "carries at its version there; what cs-email requires installed",
              gateway_version, ("rpms",), release=True),
    CheckKind("obsoleted-removed", "what the release's packages obsolete, installed before, "
              "is gone", obsoleted_removed, ("rpms",), before=True, release=True),
    CheckKind("added-installed", "what the release's cs-email requires and was not "
              "installed before is installed", added_installed, ("rpms",), before=True,
              release=True),
    CheckKind("config-kept", "the edited setting and the configuration file's checksum "
              "unchanged", config_kept, ("config", "setting"), before=True, setting=True),
    CheckKind("data-kept", "the checksums of /var/lib/cs-email/data/* unchanged", data_kept,
              ("data",), before=True),
    CheckKind("forbidden-absent", f"{', '.join(FORBIDDEN)} not installed", forbidden_absent,
              ("forbidden",)),
    CheckKind("cs-repos-disabled", "the cs-* repositories defined and disabled",
              cs_repos_disabled, ("repos",)),
    CheckKind("vendor-key-imported", "the key that signed the ISO's cs-email is in rpm's "
              "database", vendor_key_imported, ("keys",), signer=True),
    CheckKind("vendor-signature-ok", f"rpm --checksig --verbose of the {REPO_CONF} package "
              "downloaded into root's home (Appendix B) says OK for every digest and for the "
              "signatures of the key that signed the ISO's cs-email", vendor_signature_ok,
              ("checksig",), signer=True),
    CheckKind("repos-as-packaged", f"every repository the ISO's {REPO_CONF} defines (its "
              ".repo files) is defined on the server, enabled or disabled as the package says",
              repos_as_packaged, ("repos",), packaged=True),
    CheckKind("installed-from-online", "cs-email and what it requires (the ISO's cs-repo) "
              f"were installed by yum from a repository {REPO_CONF} defines with a network "
              "baseurl (yum list installed: @REPO)", installed_from_online, ("origins",),
              release=True, packaged=True),
    CheckKind("firewall-unchanged", "the open ports as before", firewall_unchanged,
              ("status",), before=True),
    CheckKind("services-unchanged", "the services started at boot as before",
              services_unchanged, ("status",), before=True),
)}  # fmt: skip
