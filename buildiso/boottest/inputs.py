"""A scenario's inputs, resolved and checked before anything boots.

A scenario declares its inputs by kind (``steps.INPUT_KINDS``); the command line gives
their sources (``Sources``). ``resolve`` reads exactly what the steps need of each
(``steps.Need``: the menus a firmware shows, the manifest's install set, the Rufus-style
stick, the cs-repo release, its signer and the repositories its cs-email-repo-conf
defines, a login account, the online tree a server is given) and refuses bad input in one
line: an ISO that is no ISO, a damaged manifest, an admin password that is not the one
the ISO was built with (none given: the guide's default must be), an OLD.iso whose
cs-email is not older than the ISO's, an online tree that is not the product ISO's
repository.
"""

from __future__ import annotations

import hashlib
import logging
import re
import secrets
import shutil
import stat
import string
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from buildiso import paths
from buildiso.boottest import release as releases
from buildiso.boottest.artifacts import RunFolder
from buildiso.boottest.cellfailure import CellFailed
from buildiso.boottest.isomenu import BootMenu, NotAnIso, read_menu
from buildiso.boottest.onlinetree import OnlineTree, resolve_online
from buildiso.boottest.release import ReleaseRepo, RepoDefinition
from buildiso.boottest.results import IsoUnderTest
from buildiso.boottest.scenario import Cell, Scenario
from buildiso.boottest.steps import (
    ACCOUNT,
    INSTALL_SET,
    MENUS,
    RELEASE,
    REPOS,
    SIGNER,
    STICK,
    Need,
)
from buildiso.boundedjson import Fields, parse_json, read_bytes
from buildiso.config import Firmware, Media, Variant
from buildiso.errors import InputError
from buildiso.log import step
from buildiso.render.password import hash_password, read_custom_password
from buildiso.render.profile import Profile, load_profile
from buildiso.render.shacrypt import sha512_crypt
from buildiso.run import run

log = logging.getLogger(__name__)

KICKSTART_TEMPLATE = Path(__file__).with_name("data") / "minimal-rhel6-ks.cfg"
PXEBOOT = ("images/pxeboot/vmlinuz", "images/pxeboot/initrd.img")
KS_LABEL = "MINIMAL_KS"
MAX_MANIFEST_BYTES = 64 * 2**20
# The admin's default password as the installation guide prints it (section 3.3,
# docs/product-facts.md "After the install"): what a reader of the guide types at the first
# login of an ISO built without a custom password. The build itself only has its hash.
GUIDE_PASSWORD = "password"


@dataclass(frozen=True)
class Account:
    """Who logs in on a machine's console; the password is typed, never written or shown."""

    user: str
    password: str = field(repr=False)


@dataclass(frozen=True)
class IsoMedia:
    """An ISO input: the file, its profile and what the steps need of it."""

    name: str  # the input's name in the scenario (iso, old)
    path: Path
    profile: Profile
    sha256: str
    size: int
    menus: Mapping[Firmware, BootMenu | str] = field(default_factory=dict)  # str: why none
    install_set: frozenset[str] | None = None  # the manifest's (N-V-R.A); None: no manifest
    stick: Path | None = None  # the Rufus-style stick made from it (usb-files cells)
    release: ReleaseRepo | None = None
    signer: str | None = None
    repos: tuple[RepoDefinition, ...] | None = None  # what its cs-email-repo-conf defines
    account: Account | None = None  # previous-release: the admin it was built with

    def menu(self, firmware: Firmware) -> BootMenu:
        """The menu ``firmware`` shows; an ISO without one fails the cell (a product defect)."""
        menu = self.menus.get(firmware, f"{self.path.name}: its {firmware.value} menu was not read")
        if isinstance(menu, str):
            raise CellFailed("menu-not-found", menu)
        return menu

    def tested(self) -> IsoUnderTest:
        prof = self.profile
        return IsoUnderTest(role=self.name, path=str(self.path), sha256=self.sha256, size=self.size,
                         product=prof.product, version=prof.version, build=prof.build)  # fmt: skip


@dataclass(frozen=True)
class ServerMedia:
    """A server-dvd input: what the Minimal server's install boots, and root's account."""

    name: str
    dvd: Path
    kernel: Path
    initrd: Path
    ks_iso: Path
    account: Account
    kickstart_sha256: str = ""  # what the server is installed with (a published disk's key)


@dataclass(frozen=True)
class Inputs:
    items: Mapping[str, IsoMedia | ServerMedia | OnlineTree]

    def iso(self, name: str) -> IsoMedia:
        item = self.items[name]
        assert isinstance(item, IsoMedia), name
        return item

    def server(self, name: str) -> ServerMedia:
        item = self.items[name]
        assert isinstance(item, ServerMedia), name
        return item

    def online(self, name: str) -> OnlineTree:
        item = self.items[name]
        assert isinstance(item, OnlineTree), name
        return item

    def account(self, name: str) -> Account:
        item = self.items[name]
        assert item.account is not None, name  # resolved (the login step's needs)
        return item.account

    def tested(self) -> tuple[IsoUnderTest, ...]:
        return tuple(i.tested() for i in self.items.values() if isinstance(i, IsoMedia))


@dataclass(frozen=True)
class Sources:
    """Where the inputs come from: the command line."""

    iso: Path
    profile: Profile
    variant: Variant = Variant.TEST
    from_iso: Path | None = None
    from_profile: Path | None = None
    password_file: Path | None = None
    server_base: Path | None = None
    server_base_default: Callable[[], Path] | None = None  # the CLI's: the sample base ISO
    online_tree: Path | None = None  # default: <ISO stem>.online beside the ISO
    # root's password on a server (None: a throwaway made for the run); a disk cache's keeps
    # the server's kickstart, and so its published disk's key, the same between runs
    server_password: Callable[[], str] | None = None


OPTIONS = {"previous-release": "--from", "server-dvd": "--server-base",
           "online-tree": "--online-tree"}  # fmt: skip


def check_sources(scenario: Scenario, sources: Sources, *, users: Mapping[str, list[str]]) -> None:
    """Options the scenario needs present and those it does not refused (``users``: the
    shipped scenarios using each input kind, for the hint)."""
    given = {"previous-release": sources.from_iso, "server-dvd": sources.server_base,
             "online-tree": sources.online_tree}  # fmt: skip
    for kind, option in OPTIONS.items():
        wanted = scenario.inputs_of(kind)
        if given[kind] is not None and not wanted:
            who = ", ".join(users.get(kind, [])) or "none shipped"
            raise InputError(
                f"{option} is only for a scenario with a {kind} input ({who}); "
                f"--scenario {scenario.name} has none",
                hint=f"drop {option}, or choose such a scenario",
            )
    if scenario.inputs_of("previous-release"):
        if sources.from_iso is None:
            raise InputError(
                f"--scenario {scenario.name} needs --from OLD.iso (the previous release it "
                "upgrades from)",
                hint="e.g. --from out/EMAIL_480_150.iso (buildiso build --profile "
                "profiles/email-480.toml)",
            )
        if not sources.from_iso.is_file():
            raise InputError(f"{sources.from_iso}: --from is not a file",
                             hint="pass the previous release's ISO")  # fmt: skip


def resolve(
    scenario: Scenario,
    sources: Sources,
    *,
    cells: Collection[Cell],
    needs: Collection[Need],
    run_folder: RunFolder,
    work: Path,
) -> Inputs:
    """Every input of ``scenario`` with what ``needs`` asks of it (``work``: private)."""
    wants = {(name, what) for name, what in needs}
    known: dict[str, ReleaseRepo] = {}
    for name in scenario.inputs_of("previous-release"):  # the cheap refusal first
        assert sources.from_iso is not None  # check_sources
        (product,) = scenario.inputs_of("product-iso")
        known[name] = releases.read_release(sources.from_iso, work=work / name)
        known[product] = releases.read_release(sources.iso, work=work / product)
        releases.refuse_unless_older(old=known[name], old_iso=sources.from_iso,
                                     new=known[product], new_iso=sources.iso)  # fmt: skip
    items: dict[str, IsoMedia | ServerMedia | OnlineTree] = {}
    for name, kind in scenario.inputs.items():
        want = {what for n, what in wants if n == name}
        if kind == "server-dvd":
            items[name] = _server(name, sources, work / name)
            continue
        if kind == "online-tree":
            items[name] = resolve_online(
                name, iso=sources.iso, given=sources.online_tree, work=work / name
            )
            continue
        path, profile = sources.iso, sources.profile
        if kind == "previous-release":
            assert sources.from_iso is not None  # check_sources
            path = sources.from_iso
            profile = profile_of(path, variant=sources.variant, profile_path=sources.from_profile)
        items[name] = _iso(name, path, profile, want, cells=cells, run_folder=run_folder,
                           work=work / name, password_file=sources.password_file,
                           release=known.get(name))  # fmt: skip
    return Inputs(items)


def _iso(
    name: str,
    path: Path,
    profile: Profile,
    want: set[str],
    *,
    cells: Collection[Cell],
    run_folder: RunFolder,
    work: Path,
    password_file: Path | None = None,
    release: ReleaseRepo | None = None,
) -> IsoMedia:
    work.mkdir(parents=True, exist_ok=True)
    with path.open("rb") as fh:
        sha256 = hashlib.file_digest(fh, "sha256").hexdigest()
    menus: dict[Firmware, BootMenu | str] = {}
    if MENUS in want:
        for firmware in sorted({c.firmware for c in cells}):
            try:
                menus[firmware] = read_menu(path, firmware)
            except NotAnIso:
                raise
            except InputError as exc:  # the ISO lacks this firmware's menu: the cell says so
                menus[firmware] = str(exc)
    stick = None
    if STICK in want and any(c.media is Media.USB_FILES for c in cells):
        from buildiso.boottest.usbfiles import make_usb_files_image

        stick = run_folder.usb_files_image
        if name != "iso":
            stick = stick.with_name(f"{stick.stem}-{name}{stick.suffix}")
        label = make_usb_files_image(iso=path, dest=stick)
        step(f"usb-files: {stick.name}, FAT32 labelled {label} (Rufus ISO Image mode)")
    if release is None and want & {RELEASE, SIGNER, REPOS}:
        release = releases.read_release(path, work=work)
    return IsoMedia(
        name=name, path=path, profile=profile, sha256=sha256, size=path.stat().st_size,
        menus=menus,
        install_set=install_set_beside(path) if INSTALL_SET in want else None,
        stick=stick,
        release=release,
        signer=releases.signer(path, release, work=work) if SIGNER in want and release else None,
        repos=releases.repo_definitions(path, release, work=work)
        if REPOS in want and release else None,
        account=_admin(path, profile, password_file, work) if ACCOUNT in want else None,
    )  # fmt: skip


def install_set_beside(iso: Path) -> frozenset[str] | None:
    """The install set (``N-V-R.A``, as ``rpm -qa`` prints it) of the manifest beside
    ``iso``, or None when the ISO has no manifest (not built by buildiso)."""
    path = iso.with_name(f"{iso.stem}.manifest.json")
    hint = "rebuild the ISO (buildiso build), or remove the damaged manifest beside it"
    try:
        mode = path.lstat().st_mode
    except FileNotFoundError:
        return None
    if stat.S_ISLNK(mode):  # not named by the user: not followed
        raise InputError(f"{path}: a symbolic link, not followed", hint="put the manifest "
                         "itself beside the ISO (or remove the link)")  # fmt: skip
    if not stat.S_ISREG(mode):
        raise InputError(f"{path}: not a regular file", hint=hint)
    try:
        raw = read_bytes(path, max_bytes=MAX_MANIFEST_BYTES)
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror})", hint=hint) from None
    f = Fields(str(path), hint=hint)
    data = f.table(parse_json(raw, source=str(path), hint=hint), "(top)")

    def entry(item: object, key: str) -> str:
        e = f.table(item, key)
        name, arch = f.text(e, key, "name", max_len=200), f.text(e, key, "arch", max_len=40)
        evr = f.text(e, key, "evr", max_len=200).split(":", 1)[-1]
        return f"{name}-{evr}.{arch}"

    return frozenset(f.each(data, "", "install_set", entry, max_items=100000, optional=True))


def profile_of(iso: Path, *, variant: Variant, profile_path: Path | None) -> Profile:
    """The profile OLD.iso was built from: ``profile_path``, or the shipped one naming it."""
    if profile_path is not None:
        return load_profile(profile_path, variant)
    for candidate in sorted(paths.PROFILES_DIR.glob("*.toml")):
        profile = load_profile(candidate, variant)
        if profile.iso_name == iso.name:
            return profile
    raise InputError(
        f"{iso}: no profile in {paths.PROFILES_DIR} builds an ISO of this name",
        hint="pass --from-profile PROFILE.toml (the profile OLD.iso was built from)",
    )


def _admin(iso: Path, profile: Profile, password_file: Path | None, work: Path) -> Account:
    user = profile.admin_user
    return Account(user, admin_password(iso=iso, user=user, password_file=password_file,
                                        work=work))  # fmt: skip


def admin_password(*, iso: Path, user: str, password_file: Path | None, work: Path) -> str:
    """The admin password ``iso`` was built with, checked against its ks.cfg hash: the
    custom one given (--password-file, BUILDISO_CS_ADMIN_PASSWORD), else the installation
    guide's default. Neither is ever shown."""
    custom = read_custom_password(password_file=password_file)
    password, source = custom or (GUIDE_PASSWORD, "the installation guide")
    work.mkdir(parents=True, exist_ok=True)
    ks = work / "old-ks.cfg"
    ks.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract", "/ks.cfg", ks])
    found = re.search(
        rf"^user --name={re.escape(user)} .*--password=(\$6\$([^$\s]+)\$\S+)",
        ks.read_text(encoding="utf-8", errors="replace"),
        re.MULTILINE,
    )
    ks.unlink()
    if found is None:
        raise InputError(f"{iso}: its ks.cfg creates no user {user} with a SHA-512 password",
                         hint="--from takes an ISO made by buildiso build")  # fmt: skip
    if sha512_crypt(password, found.group(2)) != found.group(1):
        if custom is None:
            raise InputError(
                f"{iso.name} was built with a custom {user} password, not the installation "
                "guide's default",
                hint="pass --password-file FILE or set BUILDISO_CS_ADMIN_PASSWORD: the "
                "password buildiso build was given for that ISO",
            )
        raise InputError(
            f"the {user} password from {source} is not the one {iso.name} was built with",
            hint="give the password file (or variable) used for buildiso build of that ISO "
            "(none: the guide's default)",
        )
    return password


def _server(name: str, sources: Sources, work: Path) -> ServerMedia:
    """The DVD's PXE kernel + initrd, and a kickstart CD for a Minimal server."""
    dvd = sources.server_base
    if dvd is None and sources.server_base_default is not None:
        dvd = sources.server_base_default()
    if dvd is None or not dvd.is_file():
        raise InputError(
            f"{dvd or 'no --server-base'}: RHEL 6.10 DVD not found",
            hint="pass --server-base RHEL-6.10-DVD.iso (default: the sample base ISO)",
        )
    boot = work / "pxeboot"
    shutil.rmtree(boot, ignore_errors=True)
    boot.mkdir(parents=True)
    for inside in PXEBOOT:
        run(["osirrox", "-indev", dvd, "-extract", f"/{inside}", boot / Path(inside).name])
    if sources.server_password is None:
        password = _throwaway_password()
        salt = secrets.token_hex(8)  # a throwaway: any salt
    else:  # the same kickstart every run (the password is random: a fixed salt is enough)
        password, salt = sources.server_password(), "buildisoserver"
    root_hash = hash_password(password, salt=salt)
    ks_dir = work / "ks"
    ks_dir.mkdir()
    kickstart = KICKSTART_TEMPLATE.read_text().format(root_hash=root_hash)
    (ks_dir / "ks.cfg").write_text(kickstart)
    ks_iso = work / "minimal-ks.iso"
    run(["xorriso", "-as", "mkisofs", "-quiet", "-V", KS_LABEL, "-J", "-r", "-o", ks_iso, ks_dir])
    return ServerMedia(name=name, dvd=dvd, kernel=boot / "vmlinuz", initrd=boot / "initrd.img",
                       ks_iso=ks_iso, account=Account("root", password),
                       kickstart_sha256=hashlib.sha256(kickstart.encode()).hexdigest())  # fmt: skip


def _throwaway_password() -> str:
    alphabet = string.ascii_letters + string.digits
    return "Bt-" + "".join(secrets.choice(alphabet) for _ in range(16)) + "9x"
