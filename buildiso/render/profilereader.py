"""Reads and checks a profile's TOML data into ``Profile`` (all problems at once).

Every value is checked here, once, before anything is rendered: an unknown key, a wrong type
or a value out of range is reported with the file, the dotted key and what is allowed.
Well-formed values that are still wrong for the product are refused too, each with its
reason: the admin user is not root or a system account, paths are normalised absolute
paths without ``..``, the ISO is named for its version and build. How a value is read
(typed, bounded) is ``profilefields.py``.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from typing import Any

from buildiso.config import Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.render.profilefields import (
    MAX_LIST,
    MAX_NESTING,
    MAX_PARTITIONS,
    MAX_PROFILE_BYTES,
    FieldReader,
    check_toml_nesting,
)
from buildiso.render.profilemodel import (
    ROOT_MIN_MB,
    TRACKING_FACTOR,
    VAR_MIN_MB,
    DiskLayout,
    Firewall,
    FirewallPort,
    Menu,
    Packages,
    Partition,
    Profile,
    Signing,
    System,
)
from buildiso.render.profilerules import admin_user_problem, show

# --- value patterns (anchored with fullmatch) -------------------------------------------
_TEXT = r"[A-Za-z0-9][A-Za-z0-9 ()._,/+-]{0,69}"
_TEXT_DESC = "1-70 characters of letters, digits, spaces and ( ) . _ , / + - (no quotes, %, $, \\)"
_LABEL = r"[A-Z0-9_]{1,11}"
_LABEL_DESC = (
    "1-11 of A-Z 0-9 _ (ISO 9660 d-characters; at most 11 because a FAT volume label holds "
    "11: a USB stick made in Rufus' ISO Image mode (installation guide, Appendix C) carries "
    "the label cut to 11 and the install entries, which find the media by label, would not "
    "find it; no spaces or colons: GRUB 2 and RHEL 6's loader mangle them)"
)
_PKG = r"[A-Za-z0-9][A-Za-z0-9._+-]{0,99}"
_GROUP = r"[a-z0-9][a-z0-9-]{0,63}"
SHA512_CRYPT = r"\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}"
_ABS_PATH = r"/[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}"
_REL_PATH = r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}"
# Where mounting the media would hide part of the installed operating system.
_SYSTEM_DIRS = ("/bin", "/boot", "/dev", "/etc", "/lib", "/lib64", "/proc", "/root", "/sbin",
                "/sys", "/usr", "/var")  # fmt: skip


def _is_system_dir(path: str) -> bool:
    if path == "/":
        return True
    if path.startswith(("/var/tmp/", "/var/cache/")):
        return False  # scratch places under /var hide nothing of the system
    return any(path == d or path.startswith(f"{d}/") for d in _SYSTEM_DIRS)


# A zero signature means "none" to firmware and boot loaders alike.
__all__ = [
    "MAX_LIST", "MAX_NESTING", "MAX_PARTITIONS", "MAX_PROFILE_BYTES", "SHA512_CRYPT",
    "build_profile", "check_toml_nesting", "iso_name_for", "show",
]  # fmt: skip
_DISK_SIGNATURE = r"0x(?!0{8})[0-9a-f]{8}"
_FSTYPES = ("ext4", "ext3", "ext2", "xfs", "swap")


def iso_name_for(version: str, build: int) -> str:
    """The released ISO's name for a version and build: 4.9.0 build 190 is EMAIL_490_190.iso
    (the installation guide's file name)."""
    return f"EMAIL_{version.replace('.', '')}_{build}.iso"


def _firewall_port(reader: FieldReader, key: str, value: object) -> FirewallPort | None:
    if not isinstance(value, str):
        reader.problem(key, f"wrong type {type(value).__name__} (expected str like '22/tcp')")
        return None
    match = re.fullmatch(r"([0-9]{1,5})/(tcp|udp)", value)
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        reader.problem(
            key, f"{show(value)} not allowed (allowed: PORT/tcp or PORT/udp, PORT 1..65535)"
        )
        return None
    return FirewallPort(int(match.group(1)), match.group(2))


_TOP_KEYS = {
    "product", "menu", "system", "packages", "admin", "partitions", "variants",
    "firewall", "gateway", "signing", "storage",
}  # fmt: skip


def build_profile(path: Path, data: dict[str, Any], variant: Variant) -> Profile:
    """``Profile`` for ``variant`` from parsed TOML ``data``; InputError/ValidationFailed."""
    r = FieldReader(path)
    for unknown in sorted(set(data) - _TOP_KEYS):
        r.problem(unknown, f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")

    prod = r.table(data, "product", {"name", "version", "build", "iso_name", "volume_label"})
    product = r.text(prod, "product", "name", _TEXT, _TEXT_DESC)
    reported = len(r.problems)
    version = r.text(prod, "product", "version", r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", "X.Y.Z")
    build = r.integer(prod, "product", "build", 1, 99999)
    iso_name = r.text(prod, "product", "iso_name", r"[A-Za-z0-9_.-]{1,60}\.iso", "NAME.iso")
    if len(r.problems) == reported and iso_name != iso_name_for(version, build):
        r.problem(
            "product.iso_name",
            f"{show(iso_name)} is not {show(iso_name_for(version, build))} (the release's "
            "ISO is named EMAIL_<version without dots>_<build>.iso)",
        )
    volume_label = r.text(prod, "product", "volume_label", _LABEL, _LABEL_DESC)

    m = r.table(
        data, "menu",
        {"title", "install_label", "serial_install_label", "local_label", "timeout_s",
         "bios_localboot", "bios_disk_signature"},
    )  # fmt: skip
    menu = Menu(
        title=r.text(m, "menu", "title", _TEXT, _TEXT_DESC),
        install_label=r.text(m, "menu", "install_label", _TEXT, _TEXT_DESC),
        serial_install_label=r.text(m, "menu", "serial_install_label", _TEXT, _TEXT_DESC),
        local_label=r.text(m, "menu", "local_label", _TEXT, _TEXT_DESC),
        timeout_s=r.integer(m, "menu", "timeout_s", 1, 600),
        bios_localboot=r.choice(m, "menu", "bios_localboot", ("0xffff", "0x80")),
        bios_disk_signature=r.text(
            m, "menu", "bios_disk_signature", _DISK_SIGNATURE, "0x + 8 hex digits, not all zero"
        ),
    )

    s = r.table(data, "system", {"lang", "keyboard", "timezone", "selinux"})
    system = System(
        lang=r.text(s, "system", "lang", r"[a-z]{2,3}_[A-Z]{2}(\.UTF-8)?", "e.g. en_US.UTF-8"),
        keyboard=r.text(s, "system", "keyboard", r"[a-z][a-z0-9_-]{0,31}", "e.g. us, uk"),
        timezone=r.text(
            s,
            "system",
            "timezone",
            r"[A-Z][A-Za-z_]{1,30}(/[A-Za-z0-9_+-]{1,30}){0,2}",
            "an Olson name such as Europe/London or UTC",
        ),
        selinux=r.choice(s, "system", "selinux", ("enforcing", "permissive", "disabled")),
    )

    p = r.table(data, "packages", {"groups", "install", "remove"})
    packages = Packages(
        groups=r.text_list(p, "packages", "groups", _GROUP, "comps group ids (a-z 0-9 -)"),
        install=r.text_list(p, "packages", "install", _PKG, "RPM names"),
        remove=r.text_list(p, "packages", "remove", _PKG, "RPM names"),
    )
    for name in sorted(set(packages.install) & set(packages.remove)):
        r.problem("packages.remove", f"{name} is also in packages.install")

    a = r.table(data, "admin", {"user", "default_password_hash"})
    admin_user = r.text(a, "admin", "user", r"[a-z_][a-z0-9_-]{0,31}", "a Linux user name")
    admin_error = admin_user_problem(admin_user)
    if admin_error:
        r.problem("admin.user", admin_error)
    admin_hash = r.text(
        a, "admin", "default_password_hash", SHA512_CRYPT,
        "a SHA-512 crypt hash $6$SALT$HASH (buildiso never stores a plaintext password)",
        secret=True,
    )  # fmt: skip

    chosen = _variant_table(r, data, variant)
    vkey = f"variants.{variant.value}"
    two_year_tracking = (
        r.flag(chosen, vkey, "two_year_tracking") if "two_year_tracking" in chosen else False
    )
    partitions = _partitions(r, data, variant, chosen, tracking=two_year_tracking)

    f = r.table(data, "firewall", {"ports"})
    raw_ports = r.get(f, "firewall", "ports", list, [])
    ports = [_firewall_port(r, f"firewall.ports[{i}]", v) for i, v in enumerate(raw_ports)]
    firewall = Firewall(tuple(sorted({pt for pt in ports if pt is not None})))

    g = r.table(data, "gateway", {"repos_offline", "tls10", "local_media_mount"})
    repos_offline = r.flag(g, "gateway", "repos_offline")
    tls10 = r.flag(g, "gateway", "tls10")
    local_media_mount = r.text(g, "gateway", "local_media_mount", _ABS_PATH, "an absolute path")
    r.check_path("gateway.local_media_mount", local_media_mount, absolute=True)
    if local_media_mount and _is_system_dir(local_media_mount):
        r.problem(
            "gateway.local_media_mount",
            f"{show(local_media_mount)} is a directory of the operating system itself: "
            "the media mounted there would hide it (Appendix A uses /media/os)",
        )

    sg = r.table(data, "signing", {"key_id", "public_key"})
    key_id = r.text(sg, "signing", "key_id", r"[0-9a-f]{8}", "8 lower-case hex digits")
    key_rel = r.text(sg, "signing", "public_key", _REL_PATH, "a path relative to the profile")
    r.check_path("signing.public_key", key_rel, absolute=False)
    # absolute() not resolve(): the file name (rendered into ks.cfg) stays the checked one
    signing = Signing(key_id=key_id, public_key=(path.parent / key_rel).absolute())

    layout = DiskLayout.PLAIN  # optional [storage] table: the layout of today's profiles
    if "storage" in data:
        st = r.table(data, "storage", {"layout"})
        layout = DiskLayout(r.choice(st, "storage", "layout", tuple(DiskLayout)))

    if r.problems:
        if len(r.problems) == 1:
            raise InputError(r.problems[0], hint="see the comments in profiles/email-490.toml")
        raise ValidationFailed(r.problems, what=f"{path}: invalid profile")

    return Profile(
        path=path,
        variant=variant,
        product=product,
        version=version,
        build=build,
        iso_name=iso_name,
        volume_label=volume_label,
        menu=menu,
        system=system,
        packages=packages,
        admin_user=admin_user,
        admin_password_hash=admin_hash,
        partitions=partitions,
        two_year_tracking=two_year_tracking,
        firewall=firewall,
        repos_offline=repos_offline,
        tls10=tls10,
        local_media_mount=local_media_mount,
        signing=signing,
        disk_layout=layout,
    )


_VARIANT_KEYS = {"description", "sizes_mb", "two_year_tracking"}


def _variant_table(r: FieldReader, data: dict[str, Any], variant: Variant) -> dict[str, Any]:
    variants = r.table(data, "variants", {v.value for v in Variant})
    for v in Variant:  # every variant must be present, not only the one asked for
        if v.value in variants:
            table = r.table(variants, f"variants.{v.value}", _VARIANT_KEYS)
            if "description" in table:
                r.text(table, f"variants.{v.value}", "description", _TEXT, _TEXT_DESC)
        elif variants:
            r.problem(f"variants.{v.value}", "missing")
    chosen = variants.get(variant.value)
    return chosen if isinstance(chosen, dict) else {}


def _partitions(
    r: FieldReader,
    data: dict[str, Any],
    variant: Variant,
    chosen: dict[str, Any],
    *,
    tracking: bool,
) -> tuple[Partition, ...]:
    vkey = f"variants.{variant.value}"
    overrides: dict[str, Any] = {}
    if "sizes_mb" in chosen:
        overrides = r.get(chosen, vkey, "sizes_mb", dict, {})

    raw = data.get("partitions")
    if not isinstance(raw, list) or not raw:
        r.problem("partitions", "missing (expected [[partitions]] tables)")
        return ()
    if len(raw) > MAX_PARTITIONS:
        r.problem("partitions", f"{len(raw)} entries (allowed: at most {MAX_PARTITIONS})")
        return ()
    parts: list[Partition] = []
    unusable_sizes: set[str] = set()
    for index, entry in enumerate(raw):
        key = f"partitions[{index}]"
        if not isinstance(entry, dict):
            r.problem(key, "expected a table")
            continue
        for unknown in sorted(set(entry) - {"mount", "fstype", "size_mb", "grow"}):
            r.problem(f"{key}.{unknown}", "unknown key (allowed: fstype, grow, mount, size_mb)")
        mount = r.text(
            entry, key, "mount", r"/|(/[a-z0-9_]{1,32}){1,4}|swap", "/, /var, ... or swap"
        )
        fstype = r.choice(entry, key, "fstype", _FSTYPES)
        reported = len(r.problems)
        size = r.integer(entry, key, "size_mb", 1, 16 * 1024 * 1024)
        if mount in overrides:
            size = r.integer(overrides, f"{vkey}.sizes_mb", mount, 1, 16 * 1024 * 1024)
        if len(r.problems) > reported:
            unusable_sizes.add(mount)  # reported once; no "1 MB too small" on top
        grow = r.flag(entry, key, "grow") if "grow" in entry else False
        parts.append(Partition(mount=mount, fstype=fstype, size_mb=size, grow=grow))
    mounts = [p.mount for p in parts]
    for unknown in sorted(set(overrides) - set(mounts)):
        r.problem(f"{vkey}.sizes_mb.{unknown}", f"no such partition (allowed: {', '.join(mounts)})")
    if len(set(mounts)) != len(mounts):
        r.problem("partitions", "a mount point appears twice")
    if "/boot/efi" in mounts:
        r.problem(
            "partitions", "/boot/efi is added by the kickstart on UEFI machines only; remove it"
        )

    # Product minima, per variant (+25 % for two-year message tracking).
    var_min = VAR_MIN_MB[variant]
    if tracking:
        var_min = math.ceil(var_min * TRACKING_FACTOR)
    for mount, minimum in (("/", ROOT_MIN_MB), ("/var", var_min)):
        found = [p for p in parts if p.mount == mount]
        if not found:
            r.problem("partitions", f"a separate {mount} partition is required")
        elif mount in unusable_sizes:
            pass
        elif found[0].size_mb < minimum:
            where = f"{vkey}.sizes_mb./var" if mount in overrides else "partitions"
            why = " with two-year message tracking" if tracking and mount == "/var" else ""
            r.problem(
                where,
                f"{mount} size {found[0].size_mb} MB too small for the {variant.value} "
                f"variant{why} (allowed: >= {minimum} MB)",
            )
        elif found[0].fstype not in ("ext4", "ext3", "ext2") and mount == "/":
            r.problem("partitions", "/ must be ext2/3/4 (RHEL 6 GRUB cannot read others)")
    return tuple(parts)
