"""Check the installed system's post-install report against the product profile.

The product kickstart's last ``%post`` writes ``profile.REPORT_PATH`` (schema in
docs/design.md); the installed system's first boot sends it back base64-encoded in
``FIRSTBOOT-RESULT``. Each check is one named result, so CI shows which promise of the
installation guide broke (e.g. ``forbidden-packages-absent: postfix is installed``).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Any

from buildiso.boottest.layoutcheck import layout_problems
from buildiso.boottest.results import Check
from buildiso.render.profile import Profile

REPORT_SCHEMA = 1
# A filesystem reports a little less than its partition (journal, inode tables,
# reserved metadata): ext4 on 20 GiB shows ~1.6 % less. Sizes within this fraction of the
# profile's minimum pass; anything smaller means the partition itself was too small.
FS_OVERHEAD = 0.03


def rpm_name(nevra: str) -> str:
    """``cs-email-4.9.0-190.x86_64`` → ``cs-email`` (name-version-release.arch)."""
    base = nevra
    if "." in base.rsplit("-", 1)[-1]:
        head, _, arch = base.rpartition(".")
        if arch and "-" not in arch:
            base = head
    parts = base.rsplit("-", 2)
    return parts[0] if len(parts) == 3 else base


def _ints(values: object) -> set[int]:
    if not isinstance(values, list):
        return set()
    return {int(v) for v in values if isinstance(v, int | str) and str(v).isdigit()}


INSTALLED_PACKAGES = "installed-packages"


def installed_packages_check(
    report: Mapping[str, Any], install_set: Collection[str]
) -> Check:
    """The installed system's ``rpm -qa`` must be the manifest's install set, exactly."""
    rpms = report.get("rpms")
    if not isinstance(rpms, list):
        return Check(INSTALLED_PACKAGES, False, "report has no rpms list")
    # gpg-pubkey-*: rpm's pseudo-packages for imported keys, not packages anyone installed.
    installed = {str(r) for r in rpms if not str(r).startswith("gpg-pubkey-")}
    extra, missing = sorted(installed - set(install_set)), sorted(set(install_set) - installed)
    problems = [f"not in the install set: {', '.join(extra)}"] if extra else []
    problems += [f"in the install set but not installed: {', '.join(missing)}"] if missing else []
    return Check(
        INSTALLED_PACKAGES,
        not problems,
        "; ".join(problems) or f"rpm -qa = the manifest's install set ({len(installed)} packages)",
    )


def check_report(
    report: Mapping[str, Any],
    profile: Profile,
    *,
    install_set: Collection[str] | None = None,
) -> list[Check]:
    """Every check, passed or not, in a stable order; with ``install_set`` (the manifest's)
    also whether exactly those packages are installed."""
    results: list[Check] = []
    if install_set is not None:
        results.append(installed_packages_check(report, install_set))

    def add(name: str, problems: list[str], ok_message: str) -> None:
        results.append(Check(name, not problems, "; ".join(problems) or ok_message))

    schema = report.get("schema")
    add(
        "report-schema",
        [] if schema == REPORT_SCHEMA else [f"schema {schema!r}, expected {REPORT_SCHEMA}"],
        f"schema {REPORT_SCHEMA}",
    )

    ident = []
    for key, want in (
        ("product", profile.product),
        ("version", profile.version),
        ("build", profile.build),
    ):
        if report.get(key) != want:
            ident.append(f"{key} {report.get(key)!r}, profile says {want!r}")
    add("product-identity", ident, f"{profile.product} {profile.version} build {profile.build}")

    rpms = report.get("rpms")
    names = {rpm_name(str(r)) for r in rpms} if isinstance(rpms, list) else set()
    missing = [n for n in profile.packages.install if n not in names]
    add(
        "gateway-packages-installed",
        [f"{', '.join(missing)} not installed" if rpms else "report has no rpms list"]
        if missing or not rpms
        else [],
        f"{', '.join(profile.packages.install)} installed ({len(names)} packages in all)",
    )

    present = sorted(
        {n for n in profile.packages.remove if n in names}
        | {str(n) for n in report.get("forbidden_present") or []}
    )
    add(
        "forbidden-packages-absent",
        # Without the package list, absence cannot be shown: that is a failure too.
        [f"{n} is installed" for n in present] if rpms else ["report has no rpms list"],
        f"{', '.join(profile.packages.remove)} absent",
    )

    fs = report.get("filesystems")
    fs = fs if isinstance(fs, dict) else {}
    for part in profile.partitions:
        if part.mount == "swap":
            continue
        entry = fs.get(part.mount)
        size = entry.get("size_mb") if isinstance(entry, dict) else None
        problems = []
        if not isinstance(size, int | float):
            problems.append(f"no size reported for {part.mount} (separate partition missing?)")
        elif size < part.size_mb * (1 - FS_OVERHEAD):
            problems.append(f"{part.mount} is {size} MB, profile minimum {part.size_mb} MB")
        add(
            f"filesystem-size {part.mount}",
            problems,
            f"{part.mount} file system {size} MB for a {part.size_mb} MB partition "
            f"(within {FS_OVERHEAD:.0%} file-system overhead)",
        )

    users = report.get("users")
    user = users.get(profile.admin_user) if isinstance(users, dict) else None
    user_problems = []
    if not isinstance(user, dict) or not user.get("exists"):
        user_problems.append(f"user {profile.admin_user} does not exist")
    elif user.get("password_expired") is not False:
        # The First Boot Console asks for the new password; an expired one would make PAM
        # ask first (docs/product-facts.md, "After the install").
        user_problems.append(
            f"{profile.admin_user}'s password is expired: PAM would demand a new one before "
            "the First Boot Console appears"
        )
    add("admin-user", user_problems,
        f"{profile.admin_user} exists, password not expired (the First Boot Console asks)")

    fw = report.get("firewall")
    fw = fw if isinstance(fw, dict) else {}
    open_tcp, open_udp = _ints(fw.get("tcp")), _ints(fw.get("udp"))
    closed = [f"{p}/tcp" for p in profile.firewall.tcp if p not in open_tcp]
    closed += [f"{p}/udp" for p in profile.firewall.udp if p not in open_udp]
    add(
        "firewall-ports",
        [f"not open: {', '.join(closed)}"] if closed else [],
        f"{len(profile.firewall.ports)} ports open",
    )

    repos = report.get("repos_enabled")
    repo_problems = []
    if not isinstance(repos, list):
        repo_problems.append("report has no repos_enabled list")
    elif profile.repos_offline:
        online = sorted(str(r) for r in repos if str(r).startswith("cs-"))
        if online:
            repo_problems.append(f"online repositories enabled: {', '.join(online)}")
    add(
        "repositories-offline" if profile.repos_offline else "repositories",
        repo_problems,
        "no cs-* repository enabled" if profile.repos_offline else "as profiled",
    )

    tls10 = report.get("tls10")
    add(
        "tls10",
        [] if tls10 is profile.tls10 else [f"tls10 is {tls10!r}, profile says {profile.tls10}"],
        f"TLS 1.0 {'enabled' if profile.tls10 else 'disabled'} as profiled",
    )
    add("storage-layout", *layout_problems(report, profile))
    return results
