"""buildiso.render.profilereader: well-formed but wrong values, refused with key and file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from test_profile import _shipped, _write  # the shipped profile as data, and a TOML writer

from buildiso.cli import main
from buildiso.config import Variant
from buildiso.errors import InputError
from buildiso.render.profile import DiskLayout, load_profile


def _refused(tmp_path: Path, data: dict[str, Any]) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        load_profile(path, Variant.TEST)
    assert info.value.exit_code == 2
    message = str(info.value)
    assert message.startswith(f"{path}: ") and "\n" not in message, message
    return message


@pytest.mark.parametrize("user", ["root", "daemon", "nobody", "sshd", "postfix"])
def test_admin_user_is_not_root_or_a_system_account(tmp_path: Path, user: str) -> None:
    data = _shipped()
    data["admin"]["user"] = user
    message = _refused(tmp_path, data)
    assert f"admin.user: '{user}' is root or a RHEL 6 system account" in message


@pytest.mark.parametrize(
    ("mount", "why"),
    [
        ("/media/../../etc", "must not contain '..'"),
        ("/media/os/..", "must not contain '..'"),
        ("/media/./os", "is not normalised (allowed: /media/os)"),
        ("/media//os", "is not normalised (allowed: /media/os)"),
        ("/media/os/", "is not normalised (allowed: /media/os)"),
        ("/etc", "is a directory of the operating system itself"),
        ("/usr/share/os", "is a directory of the operating system itself"),
    ],
)
def test_local_media_mount_normalised_and_not_a_system_dir(
    tmp_path: Path, mount: str, why: str
) -> None:
    data = _shipped()
    data["gateway"]["local_media_mount"] = mount
    assert f"gateway.local_media_mount: {mount!r} {why}" in _refused(tmp_path, data)


@pytest.mark.parametrize("mount", ["/media/os", "/mnt/cdrom", "/srv/media"])
def test_ordinary_media_mounts_accepted(tmp_path: Path, mount: str) -> None:
    data = _shipped()
    data["gateway"]["local_media_mount"] = mount
    assert load_profile(_write(tmp_path, data), Variant.TEST).local_media_mount == mount


@pytest.mark.parametrize(
    ("key_path", "why"),
    [
        ("keys/../../etc/shadow", "must not contain '..'"),
        ("keys/./key", "is not normalised (allowed: keys/key)"),
    ],
)
def test_public_key_path_normalised(tmp_path: Path, key_path: str, why: str) -> None:
    data = _shipped()
    data["signing"]["public_key"] = key_path
    assert f"signing.public_key: {key_path!r} {why}" in _refused(tmp_path, data)


def test_disk_layout_setting(tmp_path: Path) -> None:
    data = _shipped()
    assert load_profile(_write(tmp_path, data), Variant.TEST).disk_layout is DiskLayout.PLAIN
    for layout in DiskLayout:
        data["storage"] = {"layout": layout.value}
        assert load_profile(_write(tmp_path, data), Variant.TEST).disk_layout is layout
    data["storage"] = {"layout": "raid5"}
    assert "storage.layout: 'raid5' not allowed (allowed: plain, lvm, raid1)" in _refused(
        tmp_path, data
    )
    assert DiskLayout.RAID1.disks == 2 and DiskLayout.LVM.disks == 1


def test_render_with_hostile_profile_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = _shipped()
    data["admin"]["user"] = "root"
    profile = _write(tmp_path, data)
    out = tmp_path / "out"
    assert main(["render", "--profile", str(profile), "--out", str(out)]) == 2
    assert not out.exists()
    err = capsys.readouterr().err
    assert f"{profile}: admin.user:" in err and "Traceback" not in err
