"""treeinfo.py: RHEL 6 .treeinfo/.discinfo read, changed and written back."""

from __future__ import annotations

import configparser
import os
from pathlib import Path

import pytest

from buildiso.errors import InputError
from buildiso.master.treeinfo import DiscInfo, TreeInfo

DATA = Path(__file__).parents[1] / "data" / "treeinfo"
RHEL = DATA / "rhel-6.10-server.treeinfo"


def golden(name: str, text: str) -> None:
    path = DATA / name
    if os.environ.get("BUILDISO_UPDATE_GOLDEN") == "1":
        path.write_text(text)
    assert text == path.read_text()


def test_parse_rhel_610() -> None:
    info = TreeInfo.parse(RHEL.read_text())
    assert info.family == "Red Hat Enterprise Linux"
    assert (info.version, info.arch, info.variant) == ("6.10", "x86_64", "Server")
    assert info.packagedir == "Packages"
    assert info.timestamp == "1527703290.771853"
    assert info.mainimage == "images/install.img"
    assert info.images == {
        "kernel": "images/pxeboot/vmlinuz",
        "initrd": "images/pxeboot/initrd.img",
        "boot.iso": "images/boot.iso",
    }
    assert info.checksums["images/install.img"] == ("sha256", "4" * 64)
    assert len(info.checksums) == 6
    assert info.gateway_repository is None


def test_render_round_trips() -> None:
    text = RHEL.read_text()
    assert TreeInfo.parse(text).render() == text


def test_gateway_repo_and_checksums_golden() -> None:
    info = TreeInfo.parse(RHEL.read_text())
    changed = info.with_gateway_repo(
        repository="cs-repo", name="Secure Email Gateway 4.9.0", repomd_sha256="a" * 64
    ).with_updated_checksums({"images/efiboot.img": "B" * 64, "ks.cfg": "c" * 64})
    text = changed.render()
    golden("rhel-6.10-server-gateway.treeinfo.expected", text)
    # Still what RHEL's ConfigParser-based tools read.
    parser = configparser.RawConfigParser()
    parser.read_string(text)
    assert parser.get("general", "version") == "6.10"
    assert parser.get("checksums", "images/efiboot.img") == "sha256:" + "b" * 64
    again = TreeInfo.parse(text)
    assert again.gateway_repository == "cs-repo"
    assert again.checksums["cs-repo/repodata/repomd.xml"] == ("sha256", "a" * 64)
    assert again.checksums["images/install.img"] == ("sha256", "4" * 64)  # untouched
    assert list(again.checksums) == sorted(again.checksums)
    # The original is unchanged (frozen; changes return new objects).
    assert "ks.cfg" not in info.checksums


def test_checksums_section_created_when_missing() -> None:
    text = "[general]\nfamily = X\nversion = 6.10\narch = x86_64\n"
    info = TreeInfo.parse(text).with_updated_checksums({"b": "2" * 64, "a": "1" * 64})
    assert info.render().endswith(
        "[checksums]\na = sha256:" + "1" * 64 + "\nb = sha256:" + "2" * 64 + "\n"
    )


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("no section header\n", "not a valid .treeinfo"),
        ("[general]\nfamily = X\n[general]\nversion = 6\n", "not a valid .treeinfo"),
        ("[general]\nfamily = X\n", "[general] lacks version, arch"),
    ],
)
def test_bad_treeinfo(text: str, message: str) -> None:
    with pytest.raises(InputError) as err:
        TreeInfo.parse(text, source="base/.treeinfo")
    assert str(err.value).startswith("base/.treeinfo: ")
    assert message in str(err.value)


def test_bad_checksum_value() -> None:
    info = TreeInfo.parse(
        "[general]\nfamily = X\nversion = 6.10\narch = x86_64\n[checksums]\nimages/x = md5-ish\n"
    )
    with pytest.raises(InputError, match="images/x = 'md5-ish' is not ALGO:HEX"):
        _ = info.checksums


def test_discinfo() -> None:
    text = (DATA / "rhel-6.10-server.discinfo").read_text()
    info = DiscInfo.parse(text)
    assert info == DiscInfo("1527703288.954221", "Red Hat Enterprise Linux 6.10", "x86_64", "1")
    assert info.render() == text
    with pytest.raises(InputError, match="expected 4 lines"):
        DiscInfo.parse("123\nRHEL\n", source="base/.discinfo")


def test_without_files_drops_checksums_and_image_keys() -> None:
    info = TreeInfo.parse(RHEL.read_text())
    pruned = info.without_files(["images/boot.iso", "images/efidisk.img", "not/listed"])
    assert "boot.iso" not in pruned.images
    assert pruned.images == {
        "kernel": "images/pxeboot/vmlinuz", "initrd": "images/pxeboot/initrd.img"
    }
    assert set(pruned.checksums) == set(info.checksums) - {"images/boot.iso", "images/efidisk.img"}
    # every other section, key and order as read ([images-xen] never named boot.iso)
    assert [name for name, _ in pruned.sections] == [name for name, _ in info.sections]
    assert pruned.section("images-xen") == info.section("images-xen")
    assert pruned.section("variant-Server") == info.section("variant-Server")
    text = pruned.render()
    assert "boot.iso" not in text and "efidisk" not in text
    assert TreeInfo.parse(text) == pruned
