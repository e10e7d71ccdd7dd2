"""``buildiso inspect ISO``: what QA checks by hand, in one command (``--json`` for machines).

Every fact comes from an independent reader, not from the build's own records: xorriso
reports the El Torito entries and the MBR/GPT, sgdisk re-checks the GPT, checkisomd5
verifies the implanted MD5, pycdlib (via basetree) reads the menus, the kickstart and
the gateway repository's primary metadata, mtools reads the EFI menu inside efiboot.img.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click

from buildiso import tmpdirs
from buildiso.compose.repo import GATEWAY_REPO_DIR, load_repo
from buildiso.errors import InputError
from buildiso.master import efiboot, iso
from buildiso.master.basetree import open_base

MENU_FILES = (
    "ks.cfg",
    "isolinux/isolinux.cfg",
    "EFI/BOOT/grub.cfg",
    "EFI/BOOT/BOOTX64.conf",
)
EFIBOOT = "images/efiboot.img"
_BOOT_IMG = re.compile(
    r"^El Torito boot img :\s+(\d+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\d+)"
)


def el_torito_entries(report: str) -> list[dict[str, Any]]:
    """Parse ``-report_el_torito plain`` into one dict per boot image."""
    entries: dict[int, dict[str, Any]] = {}
    for line in report.splitlines():
        m = _BOOT_IMG.match(line)
        if m:
            n = int(m.group(1))
            entries[n] = {
                "platform": m.group(2),
                "bootable": m.group(3) == "y",
                "emulation": m.group(4),
                "load_size": int(m.group(7)),
                "lba": int(m.group(8)),
            }
            continue
        for key, field in (("El Torito img path :", "path"), ("El Torito img opts :", "options")):
            if line.startswith(key):
                number, _, value = line[len(key) :].strip().partition(" ")
                if number.isdigit() and int(number) in entries:
                    entries[int(number)][field] = value.strip()
    return [entries[n] for n in sorted(entries)]


def system_area(report: str) -> dict[str, Any]:
    summary = ""
    guid = None
    for line in report.splitlines():
        if line.startswith("System area summary:"):
            summary = line.split(":", 1)[1].strip()
        if line.startswith("GPT disk GUID"):
            guid = line.split(":", 1)[1].strip()
    return {
        "summary": summary,
        "mbr": "MBR" in summary,
        "isohybrid": "isohybrid" in summary,
        "gpt": "GPT" in summary,
        "gpt_disk_guid": guid,
    }


def _md5_status(image: Path) -> dict[str, Any]:
    md5, check = iso.implanted_md5(image)
    return {"present": md5 is not None, "md5": md5, "check": check}


def _volume_label(image: Path) -> str:
    with image.open("rb") as f:
        f.seek(16 * 2048)
        pvd = f.read(2048)
    if pvd[1:6] != b"CD001":
        raise InputError(f"{image}: not an ISO 9660 image", hint="give the built .iso file")
    return pvd[40:72].decode("ascii", "replace").rstrip(" \x00")


def _media_contents(image: Path) -> dict[str, Any]:
    """Menus, kickstart, EFI menu inside efiboot.img, gateway packages (via basetree)."""
    result: dict[str, Any] = {"files": {}, "efiboot_files": {}, "gateway_packages": []}
    try:
        with open_base(image) as media:
            for rel in MENU_FILES:
                if media.exists(rel):
                    result["files"][rel] = media.read_bytes(rel).decode("utf-8", "replace")
            if media.exists(EFIBOOT):
                with tmpdirs.private_dir("inspect") as tmp:
                    img = Path(tmp) / "efiboot.img"
                    media.extract(EFIBOOT, img)
                    for rel in efiboot.list_files(img):
                        if rel.lower().endswith((".cfg", ".conf")):
                            data = efiboot.read_file(img, rel) or b""
                            result["efiboot_files"][rel] = data.decode("utf-8", "replace")
            if media.exists(f"{GATEWAY_REPO_DIR}/repodata/repomd.xml"):
                packages = load_repo(media, repo_id=GATEWAY_REPO_DIR, prefix=GATEWAY_REPO_DIR)
                result["gateway_packages"] = sorted(
                    f"{GATEWAY_REPO_DIR}/{p.location}" for p in packages
                )
    except InputError as exc:
        result["error"] = exc.message
    return result


def inspect_iso(image: Path) -> dict[str, Any]:
    if not image.is_file():
        raise InputError(f"{image}: not a file", hint="give the built .iso file")
    label = _volume_label(image)
    # A truncated image would make xorriso and pycdlib fail with pages of their own words.
    iso.check_complete(image)
    torito = iso.el_torito_report(image)
    area_report = iso.system_area_report(image)
    area = system_area(area_report)
    area["problems"] = iso.hybrid_problems(image)
    return {
        "iso": str(image),
        "size": image.stat().st_size,
        "volume_label": label,
        "el_torito": el_torito_entries(torito),
        "system_area": area,
        "implanted_md5": _md5_status(image),
        **_media_contents(image),
    }


def _text_report(info: dict[str, Any]) -> str:
    area = info["system_area"]
    md5 = info["implanted_md5"]
    out = [
        f"ISO            {info['iso']} ({info['size'] / 2**20:.1f} MiB)",
        f"volume label   {info['volume_label']}",
        "boot entries   "
        + (
            "; ".join(
                f"{e['platform']} {e.get('path', '?')} ({e['emulation']}, load {e['load_size']})"
                for e in info["el_torito"]
            )
            or "none"
        ),
        f"system area    {area['summary'] or 'empty'}"
        + (f", GPT disk GUID {area['gpt_disk_guid']}" if area["gpt_disk_guid"] else ""),
        f"GPT check      {'OK' if not area['problems'] else '; '.join(area['problems'])}",
        f"implanted MD5  {md5['check']}" + (f" ({md5['md5']})" if md5["md5"] else ""),
        f"gateway repo   {len(info['gateway_packages'])} package(s)",
    ]
    out += [f"  {p}" for p in info["gateway_packages"]]
    if "error" in info:
        out.append(f"media contents unreadable: {info['error']}")
    for rel, text in info["files"].items():
        out += ["", f"--- {rel} ---", text.rstrip("\n")]
    for rel, text in info["efiboot_files"].items():
        out += ["", f"--- {EFIBOOT}:{rel} ---", text.rstrip("\n")]
    return "\n".join(out)


def inspect_command(*, iso: Path, as_json: bool) -> None:
    info = inspect_iso(iso)
    if as_json:
        click.echo(json.dumps(info, indent=2, sort_keys=True))
    else:
        click.echo(_text_report(info))
    if info["implanted_md5"]["check"] == "FAIL":
        raise InputError(
            f"{iso}: fails its implanted MD5 check (checkisomd5): the image is damaged",
            hint="copy or download the ISO again, or rebuild it",
        )
