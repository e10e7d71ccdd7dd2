"""buildiso.sample.bincopy: host binaries copied with the libraries ldd resolves."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildiso.errors import InputError
from buildiso.sample.bincopy import copy_with_libs, main, shared_libraries


def test_dynamic_binary_brings_libc_and_loader(tmp_path: Path) -> None:
    copied = copy_with_libs([Path("/usr/bin/rpmkeys")], tmp_path)
    names = {p.name for p in copied}
    assert "rpmkeys" in names
    assert "librpm.so.9" in names
    assert "libc.so.6" in names
    assert (tmp_path / "lib64" / "ld-linux-x86-64.so.2").is_file()
    # real files, not links back into the host
    assert not any(p.is_symlink() for p in copied)


def test_copied_binary_runs_in_a_chroot_of_the_copy(tmp_path: Path) -> None:
    copy_with_libs([Path("/usr/bin/rpmkeys")], tmp_path)
    proc = subprocess.run(
        ["chroot", str(tmp_path), "/usr/bin/rpmkeys", "--version"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert "RPM version" in proc.stdout


def test_static_binary_has_no_libraries() -> None:
    assert shared_libraries(Path("/bin/busybox")) == []


def test_missing_binary_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="/no/such/tool"):
        copy_with_libs([Path("/no/such/tool")], tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_command_line(tmp_path: Path) -> None:
    assert main([str(tmp_path), "/sbin/mke2fs"]) == 0
    assert (tmp_path / "sbin" / "mke2fs").is_file()
    assert main([str(tmp_path)]) == 2
