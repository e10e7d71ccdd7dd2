"""buildiso.atomicfile: the one atomic writer (temp beside, O_EXCL|O_NOFOLLOW, fsync, rename)."""

from __future__ import annotations

import errno
import json
import os
import stat
from pathlib import Path

import pytest

from buildiso import atomicfile
from buildiso.atomicfile import (
    open_atomic,
    replace_dir,
    replace_file,
    temp_path,
    write_bytes_atomic,
    write_json_atomic,
    write_text_atomic,
)
from buildiso.errors import InputError


def _names(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _record(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str]]:
    """fsync (of which file or folder) and replace (of which source) calls, in order."""
    events: list[tuple[str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        events.append(("fsync", os.readlink(f"/proc/self/fd/{fd}")))
        real_fsync(fd)

    def replace(src: str | Path, dst: str | Path) -> None:
        events.append(("replace", str(Path(src).resolve())))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return events


def test_writers_write_whole_files_and_leave_no_temporary(tmp_path: Path) -> None:
    old_umask = os.umask(0o022)
    try:
        write_text_atomic(tmp_path / "a.txt", "héllo\n")
        write_bytes_atomic(tmp_path / "b.bin", b"\0\1")
        write_json_atomic(tmp_path / "c.json", {"b": 1, "a": [1]}, sort_keys=True)
        write_text_atomic(tmp_path / "a.txt", "again\n")  # replaces
    finally:
        os.umask(old_umask)
    assert (tmp_path / "a.txt").read_text() == "again\n"
    assert (tmp_path / "b.bin").read_bytes() == b"\0\1"
    assert (tmp_path / "c.json").read_text() == '{\n  "a": [\n    1\n  ],\n  "b": 1\n}\n'
    assert _names(tmp_path) == ["a.txt", "b.bin", "c.json"]
    # the umask applies, as for open(): not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "a.txt").stat().st_mode) == 0o644


def test_the_rename_comes_after_the_fsync_and_the_folder_after_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    events = _record(monkeypatch)
    dest = tmp_path / "out.json"
    write_json_atomic(dest, {"x": 1}, durable=True)
    (kind0, synced), (kind1, renamed), (kind2, folder) = events
    assert (kind0, kind1, kind2) == ("fsync", "replace", "fsync")
    assert synced == renamed and Path(renamed).parent == tmp_path.resolve()
    assert Path(renamed).name.startswith(".out.json.") and renamed.endswith(".tmp")
    assert folder == str(tmp_path.resolve())
    events.clear()
    write_text_atomic(dest, "not durable")  # no folder fsync unless asked
    assert [e[0] for e in events] == ["fsync", "replace"]


@pytest.mark.parametrize(
    "write",
    [
        lambda p: write_text_atomic(p, "x"),
        lambda p: write_bytes_atomic(p, b"x"),
        lambda p: write_json_atomic(p, {}),
        lambda p: replace_file(p.with_name("made"), p),
        lambda p: temp_path(p).__enter__(),
        lambda p: replace_dir(p.with_name("folder"), p),
    ],
    ids=["text", "bytes", "json", "replace_file", "temp_path", "replace_dir"],
)
def test_a_symlink_destination_is_refused(tmp_path: Path, write) -> None:  # type: ignore[no-untyped-def]
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / "made").write_text("new")
    (tmp_path / "folder").mkdir()
    link = tmp_path / "link"
    link.symlink_to(victim)
    with pytest.raises(InputError, match="is a symbolic link") as info:
        write(link)
    assert info.value.hint and info.value.exit_code == 2
    assert victim.read_text() == "precious" and link.is_symlink()
    assert _names(tmp_path) == ["folder", "link", "made", "victim"]  # no temporary left


def test_a_failure_mid_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    dest = tmp_path / "state.json"
    dest.write_text("old\n")
    with pytest.raises(RuntimeError), open_atomic(dest) as handle:
        handle.write(b"half of the new ")
        raise RuntimeError("disk pulled")
    assert dest.read_text() == "old\n" and _names(tmp_path) == ["state.json"]
    with pytest.raises(TypeError):  # serialised first: nothing is opened
        write_json_atomic(dest, {"x": object()})
    assert dest.read_text() == "old\n" and _names(tmp_path) == ["state.json"]


def test_a_failed_fsync_renames_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    dest = tmp_path / "SHA256SUM"
    dest.write_text("old\n")

    def full(fd: int) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(os, "fsync", full)
    with pytest.raises(OSError, match="No space left"):
        write_text_atomic(dest, "new\n")
    assert dest.read_text() == "old\n" and _names(tmp_path) == ["SHA256SUM"]


def test_a_planted_temporary_name_is_never_written_through(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    victim = tmp_path / "victim"
    victim.write_text("precious")
    (tmp_path / ".x.json.aaaa.tmp").symlink_to(victim)  # someone guessed the first name
    draws = iter(["aaaa", "bbbb"])
    monkeypatch.setattr(atomicfile.secrets, "token_hex", lambda n: next(draws))
    write_text_atomic(tmp_path / "x.json", "{}\n")
    assert victim.read_text() == "precious"
    assert (tmp_path / "x.json").read_text() == "{}\n"
    assert (tmp_path / ".x.json.aaaa.tmp").is_symlink()  # not ours: left alone


def test_temp_path_renames_what_a_program_wrote_or_removes_it(tmp_path: Path) -> None:
    dest = tmp_path / "image.iso"
    with temp_path(dest) as tmp:
        assert not tmp.exists() and tmp.parent == tmp_path
        tmp.write_bytes(b"iso")
    assert dest.read_bytes() == b"iso" and _names(tmp_path) == ["image.iso"]
    with pytest.raises(RuntimeError), temp_path(dest) as tmp:
        tmp.write_bytes(b"half")
        raise RuntimeError("xorriso failed")
    assert dest.read_bytes() == b"iso" and _names(tmp_path) == ["image.iso"]


def test_replace_file_fsyncs_before_it_renames(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    made = tmp_path / "scratch" / "efiboot.img"
    made.parent.mkdir()
    made.write_bytes(b"fat")
    events = _record(monkeypatch)
    replace_file(made, tmp_path / "efiboot.img")
    assert events == [("fsync", str(made.resolve())), ("replace", str(made.resolve()))]
    assert (tmp_path / "efiboot.img").read_bytes() == b"fat"


def test_replace_dir_swaps_and_puts_the_old_folder_back_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    dest, new = tmp_path / "report", tmp_path / ".report.new"
    dest.mkdir()
    (dest / "old.html").write_text("old")
    new.mkdir()
    (new / "index.html").write_text("new")
    replace_dir(new, dest)
    assert _names(dest) == ["index.html"] and _names(tmp_path) == ["report"]
    newer = tmp_path / ".report.newer"
    newer.mkdir()
    real_rename = os.rename

    def rename(src: str | Path, dst: str | Path) -> None:
        if Path(src) == newer:
            raise OSError(errno.EIO, "I/O error")
        real_rename(src, dst)

    monkeypatch.setattr(os, "rename", rename)
    with pytest.raises(OSError, match="I/O error"):
        replace_dir(newer, dest)
    assert _names(dest) == ["index.html"]  # the old one is back in place
    assert _names(tmp_path) == [".report.newer", "report"]


def test_json_keeps_non_ascii_escaped_as_json_dumps_does(tmp_path: Path) -> None:
    write_json_atomic(tmp_path / "r.json", {"message": "café"}, indent=1)
    assert json.loads((tmp_path / "r.json").read_text()) == {"message": "café"}
    assert "\\u00e9" in (tmp_path / "r.json").read_text()
