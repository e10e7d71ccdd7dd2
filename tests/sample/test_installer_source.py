"""Sample installer: the install tree, set up and released as anaconda 13's yum backend does
(the method, the media checks, what is unmounted before %post)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample.installer.guest import kickstart, source
from buildiso.sample.installer.guest.media import Media

DISCINFO = "1529366400.000000\n6.10\nx86_64\n1\n"


def _handler(tmp_path: Path, text: str) -> object:
    path = tmp_path / "ks.cfg"
    path.write_text(text)
    return kickstart.parse(path, first_pass=True)


def test_kickstart_method_command_comes_before_the_boot_line(tmp_path: Path) -> None:
    boot_hd = Media("hd", "/dev/sdb1", "/", "")
    boot_cd = Media("cdrom", "/dev/sr0", "/", "")
    assert source.method_of(_handler(tmp_path, "install\n"), boot_hd) == source.Method(
        "hd", "/dev/sdb1", "/")
    assert source.method_of(_handler(tmp_path, "install\n"), boot_cd) == source.Method(
        "cdrom", "/dev/sr0")
    assert source.method_of(_handler(tmp_path, "cdrom\n"), boot_hd) == source.Method(
        "cdrom", "", "/", 1)
    assert source.method_of(_handler(tmp_path, "install\nharddrive --partition=LABEL=ISOS "
                                     "--dir=/rhel6\n"), boot_cd) == source.Method(
        "hd", "LABEL=ISOS", "/rhel6", 2)


def test_media_checks_as_image_py(tmp_path: Path) -> None:
    assert source.disc_numbers("1,2") == [1, 2] and source.disc_numbers("ALL") == [1]
    assert not source.verify_media(tmp_path)
    (tmp_path / ".discinfo").write_text(DISCINFO)
    assert source.verify_media(tmp_path)
    (tmp_path / ".discinfo").write_text(DISCINFO.replace("x86_64", "i386"))
    assert not source.verify_media(tmp_path)
    (tmp_path / ".discinfo").write_text(DISCINFO.replace("\n1\n", "\n2\n"))
    assert not source.verify_media(tmp_path)
    (tmp_path / ".discinfo").write_text(DISCINFO)
    assert not source.disc1_usable(tmp_path)  # an ISO image also needs install.img, Packages/
    (tmp_path / "images").mkdir()
    (tmp_path / "images/install.img").write_bytes(b"")
    (tmp_path / "Packages").mkdir()
    assert source.disc1_usable(tmp_path)


def test_iso_image_magic(tmp_path: Path) -> None:
    image = tmp_path / "a.iso"
    image.write_bytes(bytes(32769) + b"CD001" + bytes(100))
    assert source.is_iso_image(image)
    (tmp_path / "b.iso").write_bytes(bytes(40000))
    assert not source.is_iso_image(tmp_path / "b.iso")


def _record_umounts(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    calls: list[Path] = []
    monkeypatch.setattr(source, "_umount", calls.append)
    return calls


def test_hd_media_is_released_before_post_and_a_cd_is_kept(
        monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_umounts(monkeypatch)
    tree = source.Source(source.Method("hd", "LABEL=X", "/"), source.SOURCE, "/dev/sdb",
                         [source.SOURCE])
    assert source.complete(tree) == [source.SOURCE] and calls == [source.SOURCE]
    assert tree.mounted == []
    # hd: with ISO images: the image goes, the device at /mnt/isodir stays (complete()
    # unmounts only the tree)
    calls.clear()
    images = source.Source(source.Method("hd", "sdb1", "/isos"), source.SOURCE, "/dev/sdb1",
                           [source.ISODIR, source.SOURCE])
    assert source.complete(images) == [source.SOURCE] and images.mounted == [source.ISODIR]
    calls.clear()
    cd = source.Source(source.Method("cdrom"), source.SOURCE, "/dev/sr0", [source.SOURCE])
    assert source.complete(cd) == [] and calls == [] and cd.mounted == [source.SOURCE]


def test_stage2_mount_goes_before_the_packages(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = _record_umounts(monkeypatch)
    mounts = "/dev/sr0 /mnt/stage2 iso9660 ro 0 0\ntmpfs /tmp tmpfs rw 0 0\n"
    assert source.unmount_stage2(mounts) and calls == [source.STAGE2]
    assert not source.unmount_stage2("tmpfs /tmp tmpfs rw 0 0\n")
