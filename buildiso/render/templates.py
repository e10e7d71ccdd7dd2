"""Render ks.cfg and the BIOS/UEFI boot menus from the product profile (jinja2).

Templates live in ``kickstart/`` (ks.cfg.j2) and ``isolinux/`` (isolinux.cfg.j2, and the
EFI menus in ``isolinux/efi/``). jinja2 runs with StrictUndefined (a typo in a template is an
error, not an empty string) and without autoescape (these are not HTML); values are made safe
by refusing dangerous ones up front (``profile.unsafe_values``), not by escaping.

Public API: ``render_media_files`` for the build, ``render_command`` for ``buildiso render``.
"""

from __future__ import annotations

import re
from contextlib import ExitStack
from pathlib import Path

import jinja2

from buildiso import outdir, paths
from buildiso.atomicfile import open_atomic
from buildiso.config import EfiFlavour, IsolinuxFlavour, Variant
from buildiso.errors import InputError, ValidationFailed
from buildiso.log import step
from buildiso.render import layout
from buildiso.render.password import admin_password_hash, profile_salt
from buildiso.render.profile import (
    EFI_PARTITION_MB,
    REPORT_PATH,
    DiskLayout,
    Profile,
    load_profile,
    unsafe_values,
)

KS_PATH = "ks.cfg"
ISOLINUX_CFG_PATH = "isolinux/isolinux.cfg"
EFI_MENU_PATHS = {
    EfiFlavour.GRUB_LEGACY: "EFI/BOOT/BOOTX64.conf",
    EfiFlavour.GRUB2: "EFI/BOOT/grub.cfg",
}
# GRUB 2's graphical menu: the theme (with the menu title) and its font (staging copies the font).
GRUB2_THEME_PATH = "EFI/BOOT/theme.txt"
GRUB2_FONT_PATH = "EFI/BOOT/fonts/ascii.pf2"
GRUB2_BACKGROUND_PATH = "EFI/BOOT/background.png"  # staging writes it (grubbackground.py)
GRUB2_DESKTOP_COLOUR = "#000000"
_EFI_TEMPLATES = {
    EfiFlavour.GRUB_LEGACY: "efi/BOOTX64.conf.j2",
    EfiFlavour.GRUB2: "efi/grub.cfg.j2",
}
# What each syslinux flavour needs in isolinux/ next to isolinux.cfg (the build copies these
# from the base tree or the syslinux package).
ISOLINUX_FILES: dict[IsolinuxFlavour, tuple[str, ...]] = {
    IsolinuxFlavour.SYSLINUX4: ("isolinux.bin", "vesamenu.c32"),
    IsolinuxFlavour.SYSLINUX6: (
        "isolinux.bin", "ldlinux.c32", "vesamenu.c32", "libcom32.c32", "libutil.c32",
        "chain.c32",
    ),
}  # fmt: skip
CHAIN_C32 = "isolinux/chain.c32"


def chain_loads_local(flavour: IsolinuxFlavour, *, base_has_chain: bool) -> bool:
    """Whether the BIOS "Boot from local drive" entry uses chain.c32 (by disk signature).

    syslinux 6 media always do: the build adds Debian's chain.c32 (same 6.04 ABI) when the
    base lacks it. syslinux 4 media (RHEL 6) only with the base's own chain.c32: Debian's
    6.04 com32 modules do not load in isolinux 4.04, so they keep ``localboot``.
    """
    return flavour is IsolinuxFlavour.SYSLINUX6 or base_has_chain


def _printf_octal(data: bytes) -> str:
    # POSIX printf format that writes exactly these bytes (octal escapes: dash and busybox)
    return "".join(f"\\{b:03o}" for b in data)


# Where RHEL 6's anaconda has the install media mounted during the install (see
# docs/design.md, "Install media during the install"): /mnt/source holds the tree for the
# cdrom: method and the loop-mounted image for hd:, /mnt/isodir the hd: device itself,
# /mnt/stage2 loader's mount of the CD.
MEDIA_MOUNT = "/mnt/source"
# Said in the %pre's comment, after the firmware sentence (plain: nothing more to say).
LAYOUT_COMMENTS = {
    DiskLayout.PLAIN: "",
    DiskLayout.LVM: (
        "\n# Layout lvm: /boot on a partition, the rest LVM (volume group vg_gateway)."
    ),
    DiskLayout.RAID1: (
        "\n# Layout raid1: every file system a RAID 1 array over the first two disks."
    ),
}
MEDIA_CANDIDATES = ("/mnt/source", "/mnt/isodir", "/mnt/stage2")
# anaconda 13 carries out the kickstart's firewall command by running the installed system's
# /usr/sbin/lokkit, which system-config-firewall-base ships: in RHEL 6's @base, not @core
# (docs/anaconda13-firewall.md). A "%packages --nobase" kickstart must list it by name.
LOKKIT = "/usr/sbin/lokkit"
LOKKIT_PACKAGE = "system-config-firewall-base"

_SHA512_CRYPT = re.compile(r"\$6\$[./A-Za-z0-9]{1,16}\$[./A-Za-z0-9]{86}")


def _environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(
            [str(paths.KICKSTART_TEMPLATES), str(paths.ISOLINUX_TEMPLATES)]
        ),
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def check_renderable(profile: Profile, *, password_hash: str) -> None:
    """Refuse values that could break out of a kickstart or menu line, before rendering."""
    problems = [f"{profile.path}: {p}" for p in unsafe_values(profile)]
    if _SHA512_CRYPT.fullmatch(password_hash) is None:
        problems.append("password hash: not a SHA-512 crypt hash ($6$SALT$HASH)")
    if problems:
        raise ValidationFailed(problems, what="refusing to render unsafe values")


def _render(template: str, **context: object) -> str:
    try:
        return _environment().get_template(template).render(**context)
    except jinja2.TemplateError as exc:
        # A template bug, not user input: name the template so it can be fixed.
        raise InputError(f"template {template}: {exc}", hint="fix the template") from exc


def _safe_file_name(path: Path) -> str:
    # The profile's file name goes into a comment line: a name with a newline or % must not.
    name = path.name
    return name if re.fullmatch(r"[A-Za-z0-9_.+-]{1,100}", name) else "the product profile"


def firewall_packages(profile: Profile) -> list[str]:
    """What %packages adds for the firewall and selinux lines: lokkit's package, when the
    profile opens ports or wants SELinux other than enforcing (anaconda sets both with the
    installed system's lokkit; without it the mode stays selinux-policy's default,
    enforcing: docs/anaconda13-firewall.md), unless the profile installs or removes the
    package itself (a removed lokkit: the build refuses an enabled firewall)."""
    listed = {*profile.packages.install, *profile.packages.remove}
    needed = bool(profile.firewall.ports) or profile.system.selinux != "enforcing"
    return [LOKKIT_PACKAGE] if needed and LOKKIT_PACKAGE not in listed else []


def render_kickstart(profile: Profile, *, password_hash: str, chain_local: bool = True) -> str:
    """ks.cfg. ``chain_local``: the BIOS menu's local entry chain-loads by disk signature
    (``chain_loads_local``), so the kickstart stamps it; default as on syslinux 6 media."""
    check_renderable(profile, password_hash=password_hash)
    return _render(
        "ks.cfg.j2",
        profile=profile,
        profile_name=_safe_file_name(profile.path),
        password_hash=password_hash,
        efi_partition_mb=EFI_PARTITION_MB,
        media_mount=MEDIA_MOUNT,
        media_candidates=MEDIA_CANDIDATES,
        firewall_packages=firewall_packages(profile),
        key_name=profile.signing.public_key.name,
        report_path=REPORT_PATH,
        disk_signature_printf=_printf_octal(profile.menu.bios_disk_signature_bytes),
        layout_pre=layout.pre_lines(profile, media_label=profile.volume_label),
        layout_comment=LAYOUT_COMMENTS[profile.disk_layout],
        chain_local=chain_local,
    )


def render_isolinux(
    profile: Profile, *, flavour: IsolinuxFlavour, base_has_chain: bool = False
) -> str:
    check_renderable(profile, password_hash=profile.admin_password_hash)
    return _render(
        "isolinux.cfg.j2",
        profile=profile,
        flavour=flavour.value,
        chain_local=chain_loads_local(flavour, base_has_chain=base_has_chain),
    )


def render_efi_menu(profile: Profile, *, flavour: EfiFlavour) -> str:
    check_renderable(profile, password_hash=profile.admin_password_hash)
    # entries: install, install-serial, local -> local is the third (index 2)
    return _render(_EFI_TEMPLATES[flavour], profile=profile, local_index=2)


def render_media_files(
    profile: Profile,
    *,
    isolinux: IsolinuxFlavour,
    efi: EfiFlavour,
    password_hash: str,
    base_has_chain: bool = False,
) -> dict[str, str]:
    """Relative path in the ISO tree -> text, for ks.cfg, isolinux.cfg and the EFI menu.

    ``base_has_chain``: the base tree ships its own ``isolinux/chain.c32``.
    """
    chain_local = chain_loads_local(isolinux, base_has_chain=base_has_chain)
    files = {
        KS_PATH: render_kickstart(profile, password_hash=password_hash, chain_local=chain_local),
        ISOLINUX_CFG_PATH: render_isolinux(
            profile, flavour=isolinux, base_has_chain=base_has_chain
        ),
        EFI_MENU_PATHS[efi]: render_efi_menu(profile, flavour=efi),
    }
    if efi is EfiFlavour.GRUB2:
        files[GRUB2_THEME_PATH] = render_grub2_theme(profile)
    return files


def render_grub2_theme(profile: Profile) -> str:
    """GRUB 2's gfxmenu theme: its title-text puts the menu title on screen."""
    check_renderable(profile, password_hash=profile.admin_password_hash)
    return _render(
        "efi/theme.txt.j2",
        profile=profile,
        desktop_colour=GRUB2_DESKTOP_COLOUR,
        desktop_image=Path(GRUB2_BACKGROUND_PATH).name,  # relative to the theme's folder
    )


def write_files_atomically(files: dict[str, str], *, out_dir: Path) -> list[Path]:
    """Write every file to a temporary name first, then rename them all into place.

    A failure while writing leaves no half-written file behind; files already in
    ``out_dir`` that are not being written stay untouched.
    """
    targets = []
    with ExitStack() as stack:  # on leaving: every file renamed, or (on an error) none
        for rel, text in sorted(files.items()):
            target = out_dir / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            stack.enter_context(open_atomic(target)).write(text.encode("utf-8"))
            targets.append(target)
    return targets


def render_command(
    *,
    profile_path: Path,
    variant: Variant,
    password_file: Path | None,
    isolinux_flavour: IsolinuxFlavour,
    efi_flavour: EfiFlavour,
    out_dir: Path,
) -> None:
    """``buildiso render``: check everything, then write ks.cfg and both menus into out_dir."""
    outdir.check(out_dir)
    profile = load_profile(profile_path, variant)
    password_hash = admin_password_hash(
        default_hash=profile.admin_password_hash,
        salt=profile_salt(profile),
        password_file=password_file,
    )
    files = render_media_files(
        profile, isolinux=isolinux_flavour, efi=efi_flavour, password_hash=password_hash
    )
    outdir.make(out_dir)
    written = write_files_atomically(files, out_dir=out_dir)
    step(f"rendered {profile.iso_name} ({variant.value}) boot files into {out_dir}")
    for path in written:
        step(f"  {path}")
