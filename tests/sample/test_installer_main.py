"""Sample installer: the steps in anaconda 13's order (dispatch.py installSteps)."""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample.installer.guest import main, media


def test_steps_follow_dispatch_py(monkeypatch: pytest.MonkeyPatch) -> None:
    """Disks before the package set (enablefilesystems before reposetup/postselection), the
    boot loader before the media is released (instbootloader, methodcomplete), and only
    then %post (postscripts)."""
    steps: list[str] = []
    installer = main.Installer(main.Reporter(devices=()))
    monkeypatch.setattr(media, "read_media_file", lambda: media.Media("hd", "/dev/sdb", "/", ""))
    monkeypatch.setattr(installer, "read_kickstart", lambda m: steps.append("kickstart"))
    monkeypatch.setattr(installer, "partition", lambda: steps.append("partition") or [])
    monkeypatch.setattr(installer, "install_packages", lambda: steps.append("packages") or [])
    monkeypatch.setattr(installer, "install_bootloader",
                        lambda parts, installed: steps.append("bootloader"))
    monkeypatch.setattr(installer, "method_complete", lambda: steps.append("methodcomplete"))
    monkeypatch.setattr(installer, "run_post", lambda: steps.append("post"))
    installer.run()
    assert steps == ["kickstart", "partition", "packages", "bootloader", "methodcomplete",
                     "post"]


def test_method_complete_releases_hd_media_only(monkeypatch: pytest.MonkeyPatch) -> None:
    from buildiso.sample.installer.guest import source

    unmounted: list[Path] = []
    monkeypatch.setattr(source, "_umount", unmounted.append)
    said: list[str] = []
    installer = main.Installer(main.Reporter(devices=()))
    monkeypatch.setattr(installer.rep, "say", said.append)
    installer.source = source.Source(source.Method("cdrom"), source.SOURCE, "/dev/sr0",
                                     [source.SOURCE])
    installer.method_complete()
    assert unmounted == [] and said == []
    installer.source = source.Source(source.Method("hd", "LABEL=X"), source.SOURCE, "/dev/sda",
                                     [source.SOURCE])
    installer.method_complete()
    assert unmounted == [source.SOURCE]
    assert said == ["Unmounted /mnt/source (the install media, method hd:)"]
