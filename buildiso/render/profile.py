"""The product profile: a checked-in TOML file loaded into frozen, typed dataclasses.

``load_profile(path, variant)`` reads e.g. ``profiles/email-490.toml`` and returns one
``Profile`` for the chosen variant (``test`` or ``production``; they differ in the size of
``/var``). Every value is checked here, once, before anything is rendered: an unknown key, a
wrong type or a value out of range is reported with the file, the dotted key and what is
allowed. All problems of a file are reported at once.

Strings are matched against narrow patterns rather than escaped later: a profile value ends
up in a kickstart line, a shell script, an isolinux ``append`` line and a GRUB
``menuentry '...'``, so a newline, ``%``, a quote, ``$`` or a backslash could end a line or
inject a ``%pre``. Such values are refused; the renderer re-checks (``unsafe_values``).
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from buildiso.config import Variant
from buildiso.errors import InputError, ValidationFailed

# Where the product kickstart's last %post writes its JSON report on the installed system
# (schema: docs/design.md, "Post-install report"); the boot test reads it back.
REPORT_PATH = "/root/buildiso-postinstall.json"

# The UEFI system partition RHEL 6 needs on UEFI machines (and must not get on BIOS ones).
EFI_PARTITION_MB = 200
# Room for the partition table and 1 MiB alignment of each partition.
_PARTITION_OVERHEAD_MB = 8

# Product minima (PRODUCT-FACTS: "/ at least 20 GB; /var at least 60 GB for test/demo and
# 200 GB for production; 25% more when message tracking is kept for 2 years").
ROOT_MIN_MB = 20 * 1024
VAR_MIN_MB = {Variant.TEST: 60 * 1024, Variant.PRODUCTION: 200 * 1024}
TRACKING_FACTOR = 1.25

SERIAL_CONSOLE_ARGS = "console=tty0 console=ttyS0,115200"

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
_SHA512_CRYPT = r"\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}"
_ABS_PATH = r"/[A-Za-z0-9_][A-Za-z0-9_./-]{0,99}"
_REL_PATH = r"[A-Za-z0-9_][A-Za-z0-9_./-]{0,199}"
# A zero signature means "none" to firmware and boot loaders alike.
_DISK_SIGNATURE = r"0x(?!0{8})[0-9a-f]{8}"
_FSTYPES = ("ext4", "ext3", "ext2", "xfs", "swap")


@dataclass(frozen=True)
class Menu:
    """Boot menu text, identical in isolinux and the EFI menu."""

    title: str
    install_label: str
    serial_install_label: str
    local_label: str
    timeout_s: int
    # isolinux "localboot" argument: 0xffff = int 18h, next device in the BIOS boot order
    # (RHEL 6's choice), 0x80 = first hard disk. See docs/design.md for what was measured.
    bios_localboot: str
    # MBR disk signature (bytes 440-443) the kickstart's %post stamps on the installed disk,
    # "0x" + 8 hex digits: the syslinux 6 menu's local entry chain-loads the disk by it
    # (chain.c32 mbr:ID), which also works from a USB stick (docs/design.md).
    bios_disk_signature: str

    @property
    def bios_disk_signature_bytes(self) -> bytes:
        """The signature as it sits on disk: a little-endian 32-bit number."""
        return int(self.bios_disk_signature, 16).to_bytes(4, "little")


@dataclass(frozen=True)
class System:
    lang: str
    keyboard: str
    timezone: str
    selinux: str


@dataclass(frozen=True)
class Packages:
    groups: tuple[str, ...]
    install: tuple[str, ...]
    remove: tuple[str, ...]


@dataclass(frozen=True)
class Partition:
    mount: str
    fstype: str
    size_mb: int
    grow: bool


@dataclass(frozen=True, order=True)
class FirewallPort:
    port: int
    proto: str

    def __str__(self) -> str:
        # kickstart "firewall --port=" syntax
        return f"{self.port}:{self.proto}"


@dataclass(frozen=True)
class Firewall:
    ports: tuple[FirewallPort, ...]

    @property
    def tcp(self) -> tuple[int, ...]:
        return tuple(sorted(p.port for p in self.ports if p.proto == "tcp"))

    @property
    def udp(self) -> tuple[int, ...]:
        return tuple(sorted(p.port for p in self.ports if p.proto == "udp"))


@dataclass(frozen=True)
class Signing:
    key_id: str
    public_key: Path

    def require_public_key(self) -> Path:
        """The vendor public key file, or InputError saying where to put it."""
        if not self.public_key.is_file():
            raise InputError(
                f"vendor public key {self.public_key} not found (key ID {self.key_id})",
                hint="export the vendor's RSA public key (gpg --export --armor "
                f"{self.key_id}) to that path, or use --allow-unsigned for a development build",
            )
        return self.public_key


@dataclass(frozen=True)
class Profile:
    path: Path
    variant: Variant
    product: str
    version: str
    build: int
    iso_name: str
    volume_label: str
    menu: Menu
    system: System
    packages: Packages
    admin_user: str
    # SHA-512 crypt hash of the vendor default password (never the plaintext).
    admin_password_hash: str
    partitions: tuple[Partition, ...]
    two_year_tracking: bool
    firewall: Firewall
    repos_offline: bool
    tls10: bool
    # Where the installed system mounts the media for its local repository (Appendix A).
    local_media_mount: str
    signing: Signing

    @property
    def min_disk_mb(self) -> int:
        """Smallest disk that holds every partition, including /boot/efi on UEFI."""
        return sum(p.size_mb for p in self.partitions) + EFI_PARTITION_MB + _PARTITION_OVERHEAD_MB

    @property
    def install_args(self) -> str:
        """Kernel arguments of the install entries (media found by label: DVD and USB)."""
        label = self.volume_label
        return f"ks=hd:LABEL={label}:/ks.cfg repo=hd:LABEL={label}:/"

    @property
    def serial_install_args(self) -> str:
        return f"{self.install_args} {SERIAL_CONSOLE_ARGS}"

    def partition(self, mount: str) -> Partition:
        for part in self.partitions:
            if part.mount == mount:
                return part
        raise KeyError(mount)


# --- checking ---------------------------------------------------------------------------
T = TypeVar("T")


class _Reader:
    """Reads typed values out of TOML tables, collecting every problem with its key."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.problems: list[str] = []

    def problem(self, key: str, message: str) -> None:
        self.problems.append(f"{self.path}: {key}: {message}")

    def table(self, data: Mapping[str, Any], key: str, allowed: set[str]) -> dict[str, Any]:
        value = data.get(key.rsplit(".", 1)[-1])
        if not isinstance(value, dict):
            self.problem(key, f"missing or not a table (expected [{key}])")
            return {}
        for unknown in sorted(set(value) - allowed):
            self.problem(f"{key}.{unknown}", f"unknown key (allowed: {', '.join(sorted(allowed))})")
        return value

    def get(
        self,
        data: Mapping[str, Any],
        section: str,
        name: str,
        kind: type[T],
        default: T,
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        key = f"{section}.{name}" if section else name
        if name not in data:
            self.problem(key, f"missing (expected {kind.__name__})")
            return default
        value = data[name]
        # bool is an int in Python: do not accept true for a number or 1 for a flag.
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            self.problem(key, f"wrong type {type(value).__name__} (expected {kind.__name__})")
            return default
        if check is not None:
            error = check(value)
            if error:
                self.problem(key, error)
                return default
        return value

    def text(
        self,
        data: Mapping[str, Any],
        section: str,
        name: str,
        pattern: str,
        desc: str,
        *,
        secret: bool = False,
    ) -> str:
        return self.get(data, section, name, str, "", _pattern_check(pattern, desc, secret=secret))

    def integer(self, data: Mapping[str, Any], section: str, name: str, lo: int, hi: int) -> int:
        return self.get(data, section, name, int, lo, _range_check(lo, hi))

    def flag(self, data: Mapping[str, Any], section: str, name: str) -> bool:
        return self.get(data, section, name, bool, False)

    def choice(
        self, data: Mapping[str, Any], section: str, name: str, allowed: tuple[str, ...]
    ) -> str:
        def check(value: str) -> str | None:
            if value not in allowed:
                return f"{_show(value)} not allowed (allowed: {', '.join(allowed)})"
            return None

        return self.get(data, section, name, str, allowed[0], check)

    def text_list(
        self, data: Mapping[str, Any], section: str, name: str, pattern: str, desc: str
    ) -> tuple[str, ...]:
        items = self.get(data, section, name, list, [])
        out: list[str] = []
        for index, item in enumerate(items):
            key = f"{section}.{name}[{index}]"
            if not isinstance(item, str):
                self.problem(key, f"wrong type {type(item).__name__} (expected str)")
                continue
            error = _pattern_check(pattern, desc)(item)
            if error:
                self.problem(key, error)
                continue
            out.append(item)
        if len(set(out)) != len(out):
            self.problem(f"{section}.{name}", "duplicate entries")
        return tuple(out)


def _show(value: str) -> str:
    # repr() makes a newline or a quote visible in the error line instead of breaking it.
    return repr(value) if len(value) <= 80 else repr(value[:77] + "...")


def _pattern_check(pattern: str, desc: str, *, secret: bool = False) -> Callable[[str], str | None]:
    def check(value: str) -> str | None:
        if re.fullmatch(pattern, value) is None:
            # A field meant for a hash may hold a plaintext password by mistake: never echo it.
            shown = "value (not shown)" if secret else _show(value)
            return f"{shown} not allowed (allowed: {desc})"
        return None

    return check


def _range_check(lo: int, hi: int) -> Callable[[int], str | None]:
    def check(value: int) -> str | None:
        if not lo <= value <= hi:
            return f"{value} out of range (allowed: {lo}..{hi})"
        return None

    return check


def _firewall_port(reader: _Reader, key: str, value: object) -> FirewallPort | None:
    if not isinstance(value, str):
        reader.problem(key, f"wrong type {type(value).__name__} (expected str like '22/tcp')")
        return None
    match = re.fullmatch(r"([0-9]{1,5})/(tcp|udp)", value)
    if match is None or not 1 <= int(match.group(1)) <= 65535:
        reader.problem(
            key, f"{_show(value)} not allowed (allowed: PORT/tcp or PORT/udp, PORT 1..65535)"
        )
        return None
    return FirewallPort(int(match.group(1)), match.group(2))


_TOP_KEYS = {
    "product", "menu", "system", "packages", "admin", "partitions", "variants",
    "firewall", "gateway", "signing",
}  # fmt: skip


def load_profile(path: Path, variant: Variant) -> Profile:
    """Load and check the profile at ``path`` for ``variant``; InputError on any problem."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: profile not found", hint="pass --profile PATH") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: not valid TOML: {exc}", hint="fix the syntax") from None
    profile = _build(Path(path), data, variant)
    return profile


def _build(path: Path, data: dict[str, Any], variant: Variant) -> Profile:
    r = _Reader(path)
    for unknown in sorted(set(data) - _TOP_KEYS):
        r.problem(unknown, f"unknown key (allowed: {', '.join(sorted(_TOP_KEYS))})")

    prod = r.table(data, "product", {"name", "version", "build", "iso_name", "volume_label"})
    product = r.text(prod, "product", "name", _TEXT, _TEXT_DESC)
    version = r.text(prod, "product", "version", r"[0-9]{1,3}\.[0-9]{1,3}\.[0-9]{1,3}", "X.Y.Z")
    build = r.integer(prod, "product", "build", 1, 99999)
    iso_name = r.text(prod, "product", "iso_name", r"[A-Za-z0-9_.-]{1,60}\.iso", "NAME.iso")
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
    admin_hash = r.text(
        a, "admin", "default_password_hash", _SHA512_CRYPT,
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

    sg = r.table(data, "signing", {"key_id", "public_key"})
    key_id = r.text(sg, "signing", "key_id", r"[0-9a-f]{8}", "8 lower-case hex digits")
    key_rel = r.text(sg, "signing", "public_key", _REL_PATH, "a path relative to the profile")
    if ".." in Path(key_rel).parts:
        r.problem("signing.public_key", "must not contain '..'")
    # absolute() not resolve(): the file name (rendered into ks.cfg) stays the checked one
    signing = Signing(key_id=key_id, public_key=(path.parent / key_rel).absolute())

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
    )


_VARIANT_KEYS = {"description", "sizes_mb", "two_year_tracking"}


def _variant_table(r: _Reader, data: dict[str, Any], variant: Variant) -> dict[str, Any]:
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
    r: _Reader, data: dict[str, Any], variant: Variant, chosen: dict[str, Any], *, tracking: bool
) -> tuple[Partition, ...]:
    vkey = f"variants.{variant.value}"
    overrides: dict[str, Any] = {}
    if "sizes_mb" in chosen:
        overrides = r.get(chosen, vkey, "sizes_mb", dict, {})

    raw = data.get("partitions")
    if not isinstance(raw, list) or not raw:
        r.problem("partitions", "missing (expected [[partitions]] tables)")
        return ()
    parts: list[Partition] = []
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
        size = r.integer(entry, key, "size_mb", 1, 16 * 1024 * 1024)
        if mount in overrides:
            size = r.integer(overrides, f"{vkey}.sizes_mb", mount, 1, 16 * 1024 * 1024)
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


# --- re-check before rendering ----------------------------------------------------------
_UNSAFE = re.compile(r"""[\x00-\x1f\x7f%"'`$\\;#{}<>|&]""")


def _strings(value: object, key: str) -> Iterator[tuple[str, str]]:
    if isinstance(value, str):
        yield key, value
    elif isinstance(value, tuple):
        for index, item in enumerate(value):
            yield from _strings(item, f"{key}[{index}]")
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for field in dataclasses.fields(value):
            yield from _strings(getattr(value, field.name), f"{key}.{field.name}".lstrip("."))


def unsafe_values(profile: Profile) -> list[str]:
    """Profile strings that could break out of a kickstart/menu line (``key: value``).

    ``load_profile`` already refuses these; this guards profiles built in code
    (``dataclasses.replace``) before anything is rendered. The password hash is checked
    against its own pattern since ``$`` is part of it.
    """
    problems = []
    for key, value in _strings(profile, ""):
        if key == "admin_password_hash":
            if re.fullmatch(_SHA512_CRYPT, value) is None:
                problems.append(f"{key}: not a SHA-512 crypt hash")
        elif _UNSAFE.search(value):
            problems.append(
                f"{key}: {_show(value)} contains a character that could end a line "
                "or inject a section (newline, %, quote, $, \\, ...)"
            )
    return problems
