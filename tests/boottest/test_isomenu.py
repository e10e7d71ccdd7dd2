"""buildiso.boottest.isomenu: boot menus read back from an ISO and checked against the profile."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from buildiso.boottest.isomenu import (
    NotAnIso,
    menu_on_screen,
    menu_problems,
    parse_grub2,
    parse_grub_legacy,
    parse_isolinux,
    read_menu,
)
from buildiso.config import Firmware
from buildiso.errors import InputError

ISOLINUX = """\
serial 0 115200
default vesamenu.c32
timeout 600
menu title Welcome to Clearswift Email Solutions
label linux
  menu label ^Install Secure Email Gateway
  kernel vmlinuz
  append initrd=initrd.img ks=hd:LABEL=EMAIL_490_190:/ks.cfg
label serial
  menu label Install Secure Email Gateway (^serial console)
  kernel vmlinuz
label rescue
  menu label ^Rescue
  menu hide
label local
  menu label Boot from ^local drive
  menu default
  localboot 0xffff
"""

GRUB2 = """\
set default="2"
set timeout=60
serial --unit=0 --speed=115200
menuentry 'Install Secure Email Gateway' --class red {
  linuxefi /images/pxeboot/vmlinuz ks=hd:LABEL=EMAIL_490_190:/ks.cfg
}
menuentry "Install Secure Email Gateway (serial console)" {
  linuxefi /images/pxeboot/vmlinuz
}
menuentry 'Boot from local drive' {
  exit
}
"""

GRUB_LEGACY = """\
default=2
timeout 60
splashimage=/EFI/BOOT/splash.xpm.gz
hiddenmenu
title Install Secure Email Gateway
  kernel /images/pxeboot/vmlinuz
title Install Secure Email Gateway (serial console)
  kernel /images/pxeboot/vmlinuz console=ttyS0
title Boot from local drive
  exit
"""

PROFILE_MENU = {
    "title": "Welcome to Clearswift Email Solutions",
    "install": "Install Secure Email Gateway",
    "serial_install": "Install Secure Email Gateway (serial console)",
    "local": "Boot from local drive",
    "timeout_s": 60,
}
ENTRIES = (
    "Install Secure Email Gateway",
    "Install Secure Email Gateway (serial console)",
    "Boot from local drive",
)


def test_parse_isolinux() -> None:
    menu = parse_isolinux(ISOLINUX)
    assert menu.title == "Welcome to Clearswift Email Solutions"
    assert menu.entries == ENTRIES  # hidden "Rescue" is not on screen
    assert menu.default_label == "Boot from local drive"
    assert menu.timeout_s == 60
    assert menu.keys_to("Install Secure Email Gateway (serial console)") == ["up"]
    assert menu.keys_to("Install Secure Email Gateway") == ["up", "up"]
    assert menu.keys_to("Boot from local drive") == []
    assert menu_problems(menu, **PROFILE_MENU) == []


def test_parse_isolinux_default_by_label_name() -> None:
    text = "default serial\nlabel linux\n menu label A\nlabel serial\n menu label B\n"
    menu = parse_isolinux(text)
    assert menu.default_label == "B" and menu.timeout_s is None
    assert menu.keys_to("A") == ["up"]


def test_parse_grub2_and_legacy() -> None:
    for menu in (parse_grub2(GRUB2), parse_grub_legacy(GRUB_LEGACY)):
        assert menu.entries == ENTRIES
        assert menu.default_index == 2 and menu.timeout_s == 60 and menu.title is None
        assert menu_problems(menu, **PROFILE_MENU) == []
        assert menu.keys_to(ENTRIES[1]) == ["up"]


def test_parse_grub2_ids_and_echo_title() -> None:
    # As the product renders it: ids, default by id, the title echoed above the menu.
    text = (
        'set default="local"\nset timeout=60\n'
        'echo "Welcome to Clearswift Email Solutions"\n'
        'menuentry "Install Secure Email Gateway" --id install {\n  linux /vmlinuz\n}\n'
        'menuentry "Install Secure Email Gateway (serial console)" --id=install-serial {\n}\n'
        'menuentry "Boot from local drive" --id local {\n  exit\n}\n'
    )
    menu = parse_grub2(text)
    assert menu.title == "Welcome to Clearswift Email Solutions"
    assert menu.entries == ENTRIES and menu.default_index == 2
    assert menu_problems(menu, **PROFILE_MENU) == []
    other = parse_grub2(text.replace('default="local"', 'default="install-serial"'))
    assert other.default_index == 1
    assert any("default entry" in p for p in menu_problems(other, **PROFILE_MENU))


def test_parse_grub2_default_by_title() -> None:
    menu = parse_grub2(GRUB2.replace('set default="2"', 'set default="Boot from local drive"'))
    assert menu.default_index == 2


def test_parse_rejects_menus_without_entries() -> None:
    with pytest.raises(InputError, match="no menu entries"):
        parse_isolinux("default vesamenu.c32\n")
    with pytest.raises(InputError, match="no menuentry"):
        parse_grub2("set timeout=5\n")


def test_menu_problems_name_each_difference() -> None:
    bad = ISOLINUX.replace("Welcome to Clearswift", "Welcome to Acme").replace(
        "timeout 600", "timeout 50"
    )
    bad = bad.replace("  menu default\n", "").replace("label linux", "label linux\n  menu default")
    problems = menu_problems(parse_isolinux(bad), **PROFILE_MENU)
    text = "\n".join(problems)
    assert "menu title 'Welcome to Acme Email Solutions'" in text
    assert "default entry 'Install Secure Email Gateway'" in text
    assert "timeout 5 s" in text
    missing = parse_grub2(GRUB2.replace("Boot from local drive", "Local disk"))
    assert any(
        "no entry 'Boot from local drive'" in p for p in menu_problems(missing, **PROFILE_MENU)
    )


def test_menu_on_screen() -> None:
    menu = parse_isolinux(ISOLINUX)
    screen = "Welcome to Clearswift   Email Solutions\n Install Secure Email Gateway\n"
    assert menu_on_screen(menu, screen) == list(ENTRIES[1:])
    assert (
        menu_on_screen(
            menu, screen + "Install Secure Email Gateway (serial console)\nBoot from local drive"
        )
        == []
    )


def _mkiso(tmp_path: Path, *, with_efiboot: bool) -> Path:
    tree = tmp_path / "tree"
    (tree / "isolinux").mkdir(parents=True)
    (tree / "isolinux" / "isolinux.cfg").write_text(ISOLINUX)
    (tree / "EFI" / "BOOT").mkdir(parents=True)
    # The tree's copy differs from efiboot.img's: the image's copy must win.
    (tree / "EFI" / "BOOT" / "grub.cfg").write_text(
        GRUB2.replace("Boot from local drive", "Tree copy")
    )
    if with_efiboot:
        (tree / "images").mkdir()
        img = tree / "images" / "efiboot.img"
        subprocess.run(["mkfs.fat", "-C", str(img), "1440"], check=True, capture_output=True)
        cfg = tmp_path / "grub.cfg"
        cfg.write_text(GRUB2)
        env = {"MTOOLS_SKIP_CHECK": "1", "PATH": "/usr/bin:/bin"}
        subprocess.run(["mmd", "-i", str(img), "::/EFI", "::/EFI/BOOT"], check=True, env=env)
        subprocess.run(
            ["mcopy", "-i", str(img), str(cfg), "::/EFI/BOOT/grub.cfg"], check=True, env=env
        )
    iso = tmp_path / "t.iso"
    subprocess.run(
        ["xorriso", "-as", "mkisofs", "-quiet", "-R", "-J", "-V", "T", "-o", str(iso), str(tree)],
        check=True,
        capture_output=True,
    )
    return iso


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")
def test_read_menu_from_iso(tmp_path: Path) -> None:
    iso = _mkiso(tmp_path, with_efiboot=True)
    bios = read_menu(iso, Firmware.BIOS)
    assert bios.source == "isolinux/isolinux.cfg" and bios.entries == ENTRIES
    uefi = read_menu(iso, Firmware.UEFI)
    assert uefi.source == "images/efiboot.img:EFI/BOOT/grub.cfg" and uefi.entries == ENTRIES


@pytest.mark.integration
@pytest.mark.skipif(shutil.which("xorriso") is None, reason="xorriso not installed")
def test_read_menu_falls_back_to_tree_and_reports_missing(tmp_path: Path) -> None:
    iso = _mkiso(tmp_path, with_efiboot=False)
    assert read_menu(iso, Firmware.UEFI).entries[2] == "Tree copy"
    not_iso = tmp_path / "x.iso"
    not_iso.write_bytes(b"\0" * 4096)
    with pytest.raises(NotAnIso, match="not a readable ISO"):
        read_menu(not_iso, Firmware.BIOS)
