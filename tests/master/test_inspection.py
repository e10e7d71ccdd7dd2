"""`buildiso inspect`: parsing of xorriso's reports, and the verdicts on good/bad images."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from mini_media import EPOCH, make_tree

from buildiso.cli import main
from buildiso.master import inspection as inspect
from buildiso.master import iso
from buildiso.master.isomd5 import APPDATA_POSITION

TORITO = """\
El Torito catalog  : 36  1
El Torito cat path : /isolinux/boot.cat
El Torito images   :   N  Pltf  B   Emul  Ld_seg  Hdpt  Ldsiz         LBA
El Torito boot img :   1  BIOS  y   none  0x0000  0x00      4        1477
El Torito boot img :   2  UEFI  y   none  0x0000  0x00   5760          37
El Torito img path :   1  /isolinux/isolinux.bin
El Torito img opts :   1  boot-info-table isohybrid-suitable
El Torito img path :   2  /images/efiboot.img
"""


def test_el_torito_entries() -> None:
    assert inspect.el_torito_entries(TORITO) == [
        {"platform": "BIOS", "bootable": True, "emulation": "none", "load_size": 4,
         "lba": 1477, "path": "/isolinux/isolinux.bin",
         "options": "boot-info-table isohybrid-suitable"},
        {"platform": "UEFI", "bootable": True, "emulation": "none", "load_size": 5760,
         "lba": 37, "path": "/images/efiboot.img"},
    ]  # fmt: skip
    assert inspect.el_torito_entries("") == []


def test_system_area() -> None:
    area = inspect.system_area(
        "System area summary: MBR isohybrid cyl-align-on GPT\n"
        "GPT disk GUID      :      00112233445566778899aabbccddeeff\n"
    )
    assert area == {
        "summary": "MBR isohybrid cyl-align-on GPT",
        "mbr": True,
        "isohybrid": True,
        "gpt": True,
        "gpt_disk_guid": "00112233445566778899aabbccddeeff",
    }
    assert inspect.system_area("")["gpt"] is False


@pytest.fixture(scope="module")
def mastered(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("inspect")
    tree = make_tree(root / "tree")
    overlay = root / "overlay"
    overlay.mkdir()
    (overlay / "ks.cfg").write_text("%packages\n@core\n%end\n")
    os.utime(overlay / "ks.cfg", (EPOCH, EPOCH))
    plan = iso.MasterPlan(
        base=tree,
        overlay=overlay,
        volume_label="INSPECT_ME",
        hybrid_mbr=iso.DEBIAN_ISOHDPFX,
        gpt_disk_guid=iso.gpt_guid_from(b"inspect"),
        source_date_epoch=EPOCH,
    )
    image = root / "x.iso"
    iso.master_iso(plan, dest=image)
    return image


@pytest.mark.integration
def test_inspect_a_good_image(mastered: Path, capsys: pytest.CaptureFixture[str]) -> None:
    info = inspect.inspect_iso(mastered)
    assert info["volume_label"] == "INSPECT_ME"
    assert [e["platform"] for e in info["el_torito"]] == ["BIOS", "UEFI"]
    assert info["system_area"]["gpt_disk_guid"] == iso.gpt_guid_from(b"inspect")
    assert info["system_area"]["problems"] == []
    assert info["implanted_md5"]["check"] == "pass"
    # The mini tree has no .treeinfo: contents are reported unreadable, not a crash.
    assert "no .treeinfo" in info["error"]
    assert main(["inspect", str(mastered)]) == 0
    text = capsys.readouterr().out
    assert "implanted MD5  pass" in text and "GPT check      OK" in text


@pytest.mark.integration
def test_inspect_sees_damage(
    mastered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "damaged.iso"
    data = bytearray(mastered.read_bytes())
    data[1024 + 40] ^= 0x55  # GPT entry array
    data[len(data) // 2] ^= 0x55  # payload: the implanted MD5 no longer matches
    damaged.write_bytes(bytes(data))
    assert main(["inspect", str(damaged), "--json"]) == 2  # the report, then the verdict
    info = json.loads(capsys.readouterr().out)
    assert info["implanted_md5"]["check"] == "FAIL"
    assert any("CRC" in p for p in info["system_area"]["problems"])

    blank = tmp_path / "blank.iso"
    data = bytearray(mastered.read_bytes())
    data[APPDATA_POSITION : APPDATA_POSITION + 512] = b" " * 512
    blank.write_bytes(bytes(data))
    assert inspect.inspect_iso(blank)["implanted_md5"] == {
        "present": False, "md5": None, "check": "absent"
    }  # fmt: skip


def test_not_an_iso(tmp_path: Path) -> None:
    junk = tmp_path / "junk.iso"
    junk.write_bytes(b"\0" * 40_000)
    assert main(["inspect", str(junk)]) == 2


@pytest.mark.integration
def test_truncated_iso_is_one_line(
    mastered: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cut = tmp_path / "cut.iso"
    cut.write_bytes(mastered.read_bytes()[: 200 * 2048])
    assert main(["inspect", str(cut)]) == 2
    err = capsys.readouterr().err.strip()
    assert "cut.iso: truncated ISO" in err and "\n" not in err
