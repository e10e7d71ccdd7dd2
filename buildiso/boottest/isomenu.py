"""The boot menus an ISO really carries, read back from the ISO (pycdlib), and checked.

The boot test must know the menu's entries, their order and the default to drive the
menu with arrow keys, and must check them against the profile. It reads the rendered
``isolinux/isolinux.cfg`` (BIOS) and the EFI menu (``EFI/BOOT/grub.cfg`` for GRUB 2 or
``EFI/BOOT/BOOTX64.conf`` for RHEL 6's grub-legacy) from the ISO, never from the build's
work folder: what is tested is what ships.
"""

from __future__ import annotations

import io
import re
import shlex
from dataclasses import dataclass
from pathlib import Path

from buildiso.config import Firmware
from buildiso.errors import InputError
from buildiso.tmpdirs import private_dir

ISOLINUX_CFG = ("isolinux/isolinux.cfg",)
EFI_CFGS = ("EFI/BOOT/grub.cfg", "EFI/BOOT/BOOTX64.conf", "EFI/BOOT/bootx64.conf")
EFIBOOT_IMG = "images/efiboot.img"


class NotAnIso(InputError):
    """The file is no ISO 9660 image at all (bad input, not a product defect)."""


@dataclass(frozen=True)
class BootMenu:
    """A boot menu as configured: visible entries in screen order, the default, timeout."""

    source: str  # path inside the ISO
    loader: str  # isolinux, grub2 or grub-legacy
    title: str | None  # isolinux "menu title"; GRUB menus have none
    entries: tuple[str, ...]
    default_index: int
    timeout_s: float | None

    @property
    def default_label(self) -> str:
        return self.entries[self.default_index]

    def keys_to(self, label: str) -> list[str]:
        """Arrow keys that move the highlight from the default entry to ``label``."""
        target = self.entries.index(label)
        delta = target - self.default_index
        return ["down"] * delta if delta >= 0 else ["up"] * (-delta)


def _menu_label(text: str) -> str:
    # "^" marks the hotkey letter in isolinux labels; it is not shown.
    return text.replace("^", "").strip()


def parse_isolinux(text: str, *, source: str = "isolinux.cfg") -> BootMenu:
    title: str | None = None
    timeout: float | None = None
    default_name: str | None = None
    labels: list[tuple[str, str, bool, bool]] = []  # (name, text, hidden, menu default)
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        word, _, rest = line.partition(" ")
        word, rest = word.lower(), rest.strip()
        if word == "label":
            labels.append((rest, rest, False, False))
        elif word == "menu":
            sub, _, value = rest.partition(" ")
            sub, value = sub.lower(), value.strip()
            if sub == "title":
                title = value
            elif labels and sub == "label":
                name, _, hidden, dflt = labels[-1]
                labels[-1] = (name, _menu_label(value), hidden, dflt)
            elif labels and sub == "hide":
                name, shown, _, dflt = labels[-1]
                labels[-1] = (name, shown, True, dflt)
            elif labels and sub == "default":
                name, shown, hidden, _ = labels[-1]
                labels[-1] = (name, shown, hidden, True)
        elif word == "timeout":
            timeout = int(rest) / 10 if rest.isdigit() else None
        elif word in ("default", "ontimeout") and not labels:
            # "default vesamenu.c32" names the menu module, not an entry.
            if not rest.endswith(".c32"):
                default_name = rest
    visible = [lb for lb in labels if not lb[2]]
    if not visible:
        raise InputError(
            f"{source}: no menu entries found",
            hint="check the menu template and the build that rendered it (buildiso inspect ISO)",
        )
    default_index = 0
    for index, (name, _shown, _hidden, dflt) in enumerate(visible):
        if dflt or (default_name is not None and name == default_name):
            default_index = index
            if dflt:
                break
    return BootMenu(
        source=source,
        loader="isolinux",
        title=title,
        entries=tuple(lb[1] for lb in visible),
        default_index=default_index,
        timeout_s=timeout,
    )


_GRUB2_ENTRY = re.compile(r"^\s*menuentry\s+(.*?)\s*\{?\s*$")
_GRUB2_SET = re.compile(r"^\s*set\s+(default|timeout)\s*=\s*(.+?)\s*$")


def parse_grub2(text: str, *, source: str = "grub.cfg") -> BootMenu:
    """Top-level ``menuentry`` titles; ``set default`` by index, ``--id`` or title.

    GRUB 2's menu has no title line; a top-level ``echo`` before the first entry (how the
    product prints its title above the menu, and on the serial port) counts as the title.
    """
    entries: list[str] = []
    ids: dict[str, int] = {}
    title: str | None = None
    default = "0"
    timeout: float | None = None
    depth = 0
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("#"):
            continue
        match = _GRUB2_ENTRY.match(line)
        if match and depth == 0:
            words = shlex.split(match.group(1).rstrip("{").strip())
            if words:
                for index, word in enumerate(words[1:], start=1):
                    if word == "--id" and index + 1 < len(words):
                        ids[words[index + 1]] = len(entries)
                    elif word.startswith("--id="):
                        ids[word[5:]] = len(entries)
                entries.append(words[0])
        elif depth == 0 and not entries and stripped.startswith("echo ") and title is None:
            words = [w for w in shlex.split(stripped[5:]) if not w.startswith("-")]
            title = " ".join(words) or None
        else:
            setting = _GRUB2_SET.match(line)
            if setting and depth == 0:
                value = setting.group(2).strip("\"'")
                if setting.group(1) == "default":
                    default = value
                else:
                    timeout = float(value) if value.lstrip("-").isdigit() else None
        depth += stripped.count("{") - stripped.count("}")
    if not entries:
        raise InputError(
            f"{source}: no menuentry found",
            hint="check the menu template and the build that rendered it (buildiso inspect ISO)",
        )
    if default.isdigit():
        index = int(default)
    elif default in ids:
        index = ids[default]
    else:
        index = entries.index(default) if default in entries else 0
    return BootMenu(
        source=source,
        loader="grub2",
        title=title,
        entries=tuple(entries),
        default_index=min(index, len(entries) - 1),
        timeout_s=timeout,
    )


def parse_grub_legacy(text: str, *, source: str = "BOOTX64.conf") -> BootMenu:
    entries: list[str] = []
    default = 0
    timeout: float | None = None
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # grub-legacy accepts "timeout 5" and "timeout=5".
        key = line.split("=", 1)[0].split()[0]
        value = line[len(key) :].lstrip(" =\t")
        key = key.lower()
        if key == "title":
            entries.append(value.strip())
        elif key == "default" and value.strip().isdigit():
            default = int(value)
        elif key == "timeout" and value.strip().isdigit():
            timeout = float(value)
    if not entries:
        raise InputError(
            f"{source}: no title entries found",
            hint="check the menu template and the build that rendered it (buildiso inspect ISO)",
        )
    return BootMenu(
        source=source,
        loader="grub-legacy",
        title=None,
        entries=tuple(entries),
        default_index=min(default, len(entries) - 1),
        timeout_s=timeout,
    )


def _read_iso_file(iso: Path, candidates: tuple[str, ...]) -> tuple[str, str] | None:
    """(path, text) of the first of ``candidates`` in the ISO; for EFI menus, the copy in
    ``images/efiboot.img`` wins: the firmware boots from that FAT image, CD or USB."""
    data = _read_iso_bytes(iso, candidates + (EFIBOOT_IMG,))
    if EFIBOOT_IMG in data and any(c in EFI_CFGS for c in candidates):
        from buildiso.master import efiboot

        with private_dir("menu") as tmp:
            image = Path(tmp) / "efiboot.img"
            image.write_bytes(data[EFIBOOT_IMG])
            for rel in candidates:
                found = efiboot.read_file(image, rel)
                if found is not None:
                    return f"{EFIBOOT_IMG}:{rel}", found.decode("utf-8", "replace")
    for rel in candidates:
        if rel in data:
            return rel, data[rel].decode("utf-8", "replace")
    return None


def _read_iso_bytes(iso: Path, candidates: tuple[str, ...]) -> dict[str, bytes]:
    import pycdlib

    reader = pycdlib.PyCdlib()
    try:
        reader.open(str(iso))
    except Exception as exc:  # noqa: BLE001 - pycdlib raises its own and OSError
        raise NotAnIso(
            f"{iso}: not a readable ISO 9660 image ({exc})", hint="pass the ISO file itself"
        ) from None
    found: dict[str, bytes] = {}
    try:
        for rel in candidates:
            for facility in ("rr_path", "joliet_path"):
                buf = io.BytesIO()
                try:
                    reader.get_file_from_iso_fp(buf, **{facility: "/" + rel})
                except Exception:  # noqa: BLE001 - not there under this name; try the next
                    continue
                found[rel] = buf.getvalue()
                break
        return found
    finally:
        reader.close()


def read_menu(iso: Path, firmware: Firmware) -> BootMenu:
    """The menu this firmware will show for ``iso``; InputError if the ISO has none."""
    if firmware is Firmware.BIOS:
        found = _read_iso_file(iso, ISOLINUX_CFG)
        if found is None:
            raise InputError(
                f"{iso}: no isolinux/isolinux.cfg", hint="is this a bootable install ISO?"
            )
        return parse_isolinux(found[1], source=found[0])
    found = _read_iso_file(iso, EFI_CFGS)
    if found is None:
        raise InputError(
            f"{iso}: no EFI menu ({', '.join(EFI_CFGS)})", hint="is this a UEFI-bootable ISO?"
        )
    rel, text = found
    if rel.lower().endswith("grub.cfg"):
        return parse_grub2(text, source=rel)
    return parse_grub_legacy(text, source=rel)


def menu_problems(
    menu: BootMenu, *, title: str, install: str, serial_install: str, local: str, timeout_s: int
) -> list[str]:
    """Differences between the configured menu and the profile's (empty: it is the product's)."""
    problems = []
    if menu.title is not None and menu.title != title:
        problems.append(f"{menu.source}: menu title {menu.title!r}, profile says {title!r}")
    if menu.loader == "isolinux" and menu.title is None:
        problems.append(f"{menu.source}: no menu title, profile says {title!r}")
    for label in (install, serial_install, local):
        if label not in menu.entries:
            problems.append(f"{menu.source}: no entry {label!r} (entries: {list(menu.entries)})")
    if local in menu.entries and menu.default_label != local:
        problems.append(
            f"{menu.source}: default entry {menu.default_label!r}, profile says {local!r}"
        )
    if menu.timeout_s is not None and abs(menu.timeout_s - timeout_s) > 0.5:
        problems.append(f"{menu.source}: timeout {menu.timeout_s:g} s, profile says {timeout_s} s")
    if menu.timeout_s is None:
        problems.append(f"{menu.source}: no timeout, profile says {timeout_s} s")
    return problems


def _squash(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def menu_texts(menu: BootMenu) -> list[str]:
    """What the menu shows: its title (isolinux) and its entries."""
    return ([menu.title] if menu.title else []) + list(menu.entries)


def menu_on_screen(menu: BootMenu, screen_text: str) -> list[str]:
    """Configured texts (title, entries) not yet visible in the plain serial text."""
    flat = _squash(screen_text)
    return [w for w in menu_texts(menu) if _squash(w) not in flat]
