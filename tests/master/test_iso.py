"""Mastering: independent tools must agree on what xorriso + our MD5 implant produced."""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from mini_media import EPOCH, make_base_iso, make_tree, small_tmpfs

from buildiso.errors import BuildError, InputError
from buildiso.master import imagestream, iso
from buildiso.master.isomd5 import APPDATA_POSITION, IsoMd5Stream

pytestmark = pytest.mark.integration

LABEL = "EMAIL_490_190"


def _overlay(root: Path) -> Path:
    (root / "isolinux").mkdir(parents=True)
    (root / "isolinux" / "isolinux.cfg").write_text("default local\n# new menu\n")
    (root / "ks.cfg").write_text("# kickstart\n")
    (root / "cs-repo" / "Packages").mkdir(parents=True)
    (root / "cs-repo" / "Packages" / "cs-email-repo-conf-3.6.3-1.x86_64.rpm").write_bytes(b"r")
    for path in [root, *root.rglob("*")]:
        os.utime(path, (EPOCH, EPOCH))
    return root


def _plan(base: Path, overlay: Path, **changes: object) -> iso.MasterPlan:
    values: dict[str, object] = {
        "base": base,
        "overlay": overlay,
        "volume_label": LABEL,
        "hybrid_mbr": iso.DEBIAN_ISOHDPFX,
        "gpt_disk_guid": iso.gpt_guid_from(b"inputs"),
        "source_date_epoch": EPOCH,
    }
    values.update(changes)
    return iso.MasterPlan(**values)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("media")
    tree = make_tree(root / "tree")
    return {
        "tree": tree,
        "base_iso": make_base_iso(tree, root / "base.iso"),
        "overlay": _overlay(root / "overlay"),
    }


def _extract(image: Path, path: str) -> str:
    return subprocess.run(
        ["isoinfo", "-R", "-i", str(image), "-x", path], check=True, capture_output=True, text=True
    ).stdout


def _listing(image: Path) -> str:
    return subprocess.run(
        ["isoinfo", "-R", "-f", "-i", str(image)], check=True, capture_output=True, text=True
    ).stdout


@pytest.mark.parametrize("base_kind", ["tree", "base_iso"])
def test_independent_tools_agree(media: dict[str, Path], tmp_path: Path, base_kind: str) -> None:
    out = tmp_path / "out.iso"
    result = iso.master_iso(_plan(media[base_kind], media["overlay"]), dest=out)
    assert result.size == out.stat().st_size

    torito = iso.el_torito_report(out)
    boot_lines = [line for line in torito.splitlines() if line.startswith("El Torito boot img :")]
    assert len(boot_lines) == 2
    assert "BIOS" in boot_lines[0] and "UEFI" in boot_lines[1]
    assert "/isolinux/isolinux.bin" in torito and "/images/efiboot.img" in torito
    assert "boot-info-table" in torito
    assert "El Torito cat path : /isolinux/boot.cat" in torito

    area = iso.system_area_report(out)
    assert "MBR isohybrid" in area and "GPT" in area
    assert iso.hybrid_problems(out) == []

    assert subprocess.run(["checkisomd5", str(out)], capture_output=True).returncode == 0
    # The SHA-256 taken while mastering covers the final bytes, implant included.
    sha256sum = subprocess.run(["sha256sum", str(out)], capture_output=True, text=True, check=True)
    assert sha256sum.stdout.split()[0] == result.sha256
    assert iso.implanted_md5(out) == (result.implant.md5, "pass")
    blkid = subprocess.run(
        ["blkid", "-o", "value", "-s", "LABEL", str(out)], capture_output=True, text=True
    )
    assert blkid.stdout.strip() == LABEL

    listing = _listing(out)
    for path in ("/ks.cfg", "/cs-repo/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm",
                 "/Packages/base-pkg-1.0-1.el6.x86_64.rpm", "/EFI/BOOT/grub.cfg"):  # fmt: skip
        assert path in listing.splitlines()
    # The overlay replaced the base's file of the same path.
    assert _extract(out, "/isolinux/isolinux.cfg") == "default local\n# new menu\n"


def test_byte_identical_and_guid_derived(media: dict[str, Path], tmp_path: Path) -> None:
    plan = _plan(media["tree"], media["overlay"])
    a, b, c = tmp_path / "a.iso", tmp_path / "b.iso", tmp_path / "c.iso"
    iso.master_iso(plan, dest=a)
    iso.master_iso(plan, dest=b)
    assert a.read_bytes() == b.read_bytes()
    iso.master_iso(
        _plan(media["tree"], media["overlay"], gpt_disk_guid=iso.gpt_guid_from(b"other")), dest=c
    )
    assert a.read_bytes() != c.read_bytes()
    assert iso.gpt_guid_from(b"inputs") == iso.gpt_guid_from(b"inputs")


def test_full_32_character_label(media: dict[str, Path], tmp_path: Path) -> None:
    label = "EMAIL_490_190_X86_64_DVD_BUILD_1"
    assert len(label) == 32
    out = tmp_path / "long.iso"
    iso.master_iso(_plan(media["tree"], media["overlay"], volume_label=label), dest=out)
    blkid = subprocess.run(
        ["blkid", "-o", "value", "-s", "LABEL", str(out)], capture_output=True, text=True
    )
    assert blkid.stdout.strip() == label
    # Joliet holds 16 UCS-2 characters: the SVD (sector 18) gets the prefix.
    joliet = out.read_bytes()[18 * 2048 : 19 * 2048]
    assert joliet[0] == 2 and joliet[40:72].decode("utf-16-be") == label[:16]


@pytest.mark.parametrize(
    ("label", "message"),
    [
        ("A" * 33, "33 characters"),
        ("EMAIL 490", "may only hold"),
        ("", "empty"),
        ("A:B", "may only"),
    ],
)
def test_bad_labels(label: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        iso.check_volume_label(label)


def test_gpt_verifier_catches_a_bad_entry_array_crc(media: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "out.iso"
    iso.master_iso(_plan(media["tree"], media["overlay"]), dest=out)
    data = bytearray(out.read_bytes())
    data[1024 + 100] ^= 0x01  # inside the GPT entry array (LBA 2), CRC left as it was
    out.write_bytes(bytes(data))
    problems = iso.hybrid_problems(out)
    assert any("CRC" in p for p in problems), problems


def test_xorriso_failure_is_reported(media: dict[str, Path], tmp_path: Path) -> None:
    plan = _plan(
        media["tree"], media["overlay"], layout=iso.BootLayout(efi_image="images/none.img")
    )
    with pytest.raises(BuildError, match="xorriso failed"):
        iso.master_iso(plan, dest=tmp_path / "x.iso")


def test_disk_full_is_one_clear_error(media: dict[str, Path], tmp_path: Path) -> None:
    with (
        small_tmpfs(tmp_path / "small", size="1m") as small,
        pytest.raises(BuildError, match=f"disk full while writing x.iso in {small}"),
    ):
        iso.master_iso(_plan(media["tree"], media["overlay"]), dest=small / "x.iso")


def test_interrupt_stops_xorriso(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(self: object, data: bytes) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(iso.IsoMd5Stream, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        iso.master_iso(_plan(media["tree"], media["overlay"]), dest=tmp_path / "x.iso")
    assert _xorriso_pids(writing_to=tmp_path) == set()  # no xorriso left running


def _xorriso_pids(*, writing_to: Path) -> set[str]:
    """xorriso processes writing into ``writing_to`` (other jobs on the machine may run
    their own xorriso meanwhile: those do not count)."""
    pids = set()
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() != "xorriso":
                continue
            cmdline = (comm.parent / "cmdline").read_bytes().split(b"\0")
            if any(arg.startswith(bytes(writing_to)) for arg in cmdline):
                pids.add(comm.parent.name)
        except OSError:
            continue  # the process ended meanwhile
    return pids


def test_gpt_verifier_catches_pycdlibs_bad_gpt(media: dict[str, Path], tmp_path: Path) -> None:
    """pycdlib 1.22 writes a GPT whose entry-array CRC is wrong (MACHINE-NOTES)."""
    import io
    from importlib.metadata import version

    import pycdlib

    if not version("pycdlib").startswith("1.22."):
        pytest.skip("the bad-GPT sample is pycdlib 1.22's behaviour")
    image = pycdlib.PyCdlib()
    image.new(interchange_level=3, joliet=3, rock_ridge="1.09", vol_ident="PYCDLIB")
    for iso_name, path in (
        ("/ISOLINUX.BIN;1", media["tree"] / "isolinux" / "isolinux.bin"),
        ("/EFIBOOT.IMG;1", media["tree"] / "images" / "efiboot.img"),
    ):
        data = path.read_bytes()
        image.add_fp(io.BytesIO(data), len(data), iso_name, rr_name=path.name.lower())
    image.add_eltorito(
        "/ISOLINUX.BIN;1", bootcatfile="/BOOT.CAT;1", boot_load_size=4, boot_info_table=True
    )
    image.add_eltorito("/EFIBOOT.IMG;1", efi=True)
    image.add_isohybrid(efi=True)
    out = tmp_path / "pycdlib.iso"
    image.write(str(out))
    image.close()
    problems = iso.hybrid_problems(out)
    assert any("GPT array CRC wrong" in p for p in problems), problems
    assert any(p.startswith("sgdisk:") and "CRC" in p for p in problems), problems


def test_disk_full_while_xorriso_writes(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A stand-in xorriso that fails the way libburn does when the disk fills mid-write.
    fake = tmp_path / "xorriso"
    fake.write_text(
        '#!/bin/sh\nhead -c 100000 /dev/zero > "$2"\n'
        "echo 'libburn : FATAL : Failed to write: No space left on device' >&2\nexit 5\n"
    )
    fake.chmod(0o755)
    monkeypatch.setattr(iso.run, "tool_path", lambda name: str(fake))
    with pytest.raises(BuildError, match="disk full while writing x.iso"):
        iso.master_iso(_plan(media["tree"], media["overlay"]), dest=tmp_path / "x.iso")


def test_sha256_file_reports_progress(tmp_path: Path) -> None:
    data = bytes(range(256)) * 4096 + b"tail"  # 1 MiB + 4 bytes: three 512 KiB chunks
    path = tmp_path / "blob"
    path.write_bytes(data)
    seen: list[tuple[int, int | None]] = []
    digest = iso.sha256_file(path, chunk=512 * 1024, progress=lambda d, t: seen.append((d, t)))
    assert digest == hashlib.sha256(data).hexdigest()
    assert seen == [(512 * 1024, len(data)), (1024 * 1024, len(data)), (len(data), len(data))]


def test_verifiers_see_the_final_bytes(media: dict[str, Path], tmp_path: Path) -> None:
    """A verifier rides on the SHA-256 read: an MD5 stream fed the final image (implant
    field included; IsoMd5Stream blanks it) finds the MD5 that was implanted."""
    out = tmp_path / "out.iso"
    recheck = IsoMd5Stream()
    plain = hashlib.md5(usedforsecurity=False)
    result = iso.master_iso(
        _plan(media["tree"], media["overlay"]), dest=out, verifiers=[recheck, plain]
    )
    assert recheck.finish().md5 == result.implant.md5
    assert plain.hexdigest() == hashlib.md5(out.read_bytes(), usedforsecurity=False).hexdigest()


@pytest.mark.parametrize("base_kind", ["tree", "base_iso"])
def test_removed_base_files_leave_the_image(
    media: dict[str, Path], tmp_path: Path, base_kind: str
) -> None:
    """pruning.py's list: the files are gone from the image, the rest of the base stays."""
    gone = ("Packages/base-pkg-1.0-1.el6.x86_64.rpm", "EFI/BOOT/grub.cfg")
    out = tmp_path / "out.iso"
    iso.master_iso(_plan(media[base_kind], media["overlay"], remove=gone), dest=out)
    listing = _listing(out).splitlines()
    assert not {f"/{rel}" for rel in gone} & set(listing)
    assert {"/ks.cfg", "/images/efiboot.img", "/isolinux/isolinux.bin"} <= set(listing)
    assert _extract(out, "/isolinux/isolinux.cfg") == "default local\n# new menu\n"
    assert subprocess.run(["checkisomd5", str(out)], capture_output=True).returncode == 0


def test_removing_a_path_that_is_not_there_fails(media: dict[str, Path], tmp_path: Path) -> None:
    plan = _plan(media["tree"], media["overlay"], remove=("images/boot.iso",))
    with pytest.raises(BuildError, match="xorriso failed"):
        iso.master_iso(plan, dest=tmp_path / "out.iso")


def test_removal_takes_paths_literally() -> None:
    argv = iso.xorriso_argv(_plan(Path("/b"), Path("/o"), remove=("a/*.iso",)), outdev=Path("x"))
    at = argv.index("-rm")
    assert argv[at - 2 : at + 3] == ["-iso_rr_pattern", "off", "-rm", "/a/*.iso", "--"]
    assert "-rm" not in iso.xorriso_argv(_plan(Path("/b"), Path("/o")), outdev=Path("x"))


def test_efi_image_over_32_mib(tmp_path: Path) -> None:
    """A grub-legacy efiboot.img with the kernel and initrd can pass El Torito's 16-bit sector
    count: xorriso records 0, which UEFI firmware (EDK2's ElTorito.c) reads as "up to the
    end of the medium", and the hybrid MBR/GPT partition still covers the whole image."""
    tree = make_tree(tmp_path / "tree")
    big = tree / "images" / "efiboot.img"
    big.unlink()
    subprocess.run(["mkfs.fat", "-C", str(big), str(33 * 1024)], check=True, capture_output=True)
    out = tmp_path / "out.iso"
    iso.master_iso(_plan(tree, _overlay(tmp_path / "overlay")), dest=out)
    uefi = next(
        line.split() for line in iso.el_torito_report(out).splitlines()
        if line.startswith("El Torito boot img :") and "UEFI" in line
    )  # fmt: skip
    assert uefi[-2] == "0"  # Ldsiz
    area = iso.system_area_report(out)
    efi_part = next(
        line.split() for line in area.splitlines()
        if line.startswith("MBR partition      :") and "0xef" in line
    )  # fmt: skip
    assert int(efi_part[-1]) * 512 == big.stat().st_size
    assert iso.hybrid_problems(out) == []
    assert subprocess.run(["checkisomd5", str(out)], capture_output=True).returncode == 0


# --- many blocks: the MD5 under the write, the landed-bytes check, rebuilds ----------------


@pytest.fixture(scope="module")
def big_tree(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The mini tree plus 26 MiB of packages: several follow chunks and CRC blocks."""
    tree = make_tree(tmp_path_factory.mktemp("big") / "tree")
    for i in range(13):
        blob = hashlib.sha256(str(i).encode()).digest() * (65536 + 2048 * i)  # 2-2.8 MiB
        (tree / "Packages" / f"filler-{i}-1.0-1.el6.x86_64.rpm").write_bytes(blob)
    for path in [tree, *tree.rglob("*")]:
        os.utime(path, (EPOCH, EPOCH))
    return tree


def test_checkisomd5_accepts_the_implant_and_a_rebuild_is_byte_identical(
    big_tree: Path, media: dict[str, Path], tmp_path: Path
) -> None:
    """The MD5 taken under xorriso's write, across many blocks: the third-party checker
    accepts it, two runs give the same bytes, and those are the bytes xorriso writes with
    its default per-16-MiB fsyncs (-stdio_sync on) once implantisomd5 has run."""
    plan = _plan(big_tree, media["overlay"])
    a, b = tmp_path / "a.iso", tmp_path / "b.iso"
    first = iso.master_iso(plan, dest=a)
    assert first.size == a.stat().st_size > 6 * imagestream.BLOCK
    assert subprocess.run(["checkisomd5", str(a)], capture_output=True).returncode == 0
    sha256sum = subprocess.run(["sha256sum", str(a)], capture_output=True, text=True, check=True)
    assert sha256sum.stdout.split()[0] == first.sha256
    stats = first.follow
    assert stats.size == first.size and 0 <= stats.lag_at_finish <= stats.max_lag <= first.size
    second = iso.master_iso(plan, dest=b)
    assert a.read_bytes() == b.read_bytes()
    assert (second.sha256, second.implant) == (first.sha256, first.implant)

    synced = tmp_path / "synced.iso"
    argv = iso.xorriso_argv(plan, outdev=synced)
    argv[argv.index("-stdio_sync") + 1] = "on"
    subprocess.run(argv, check=True, capture_output=True, env={**os.environ, **iso._env(plan)})
    subprocess.run(["implantisomd5", "--force", str(synced)], check=True, capture_output=True)
    assert synced.read_bytes() == a.read_bytes()


def _damage_before_the_final_read(
    monkeypatch: pytest.MonkeyPatch, damage: Callable[[Path], None]
) -> None:
    real = imagestream.final_digests

    def damaged(dest: Path, **kwargs: Any) -> str:
        damage(dest)  # after xorriso and the follower, as a late or stray write would
        return real(dest, **kwargs)

    monkeypatch.setattr(imagestream, "final_digests", damaged)


def _flip(offset: int) -> Callable[[Path], None]:
    def flip(dest: Path) -> None:
        with dest.open("r+b") as f:
            f.seek(offset)
            byte = f.read(1)
            f.seek(offset)
            f.write(bytes([byte[0] ^ 0x01]))

    return flip


@pytest.mark.parametrize(
    ("damage", "message"),
    [
        (_flip(5 * imagestream.BLOCK + 77), "does not match its implanted MD5 .bytes 20971520-"),
        (_flip(0), "does not match its implanted MD5 .bytes 0-4194303"),
        (lambda dest: os.truncate(dest, dest.stat().st_size - 2048), "bytes on disk"),
        (_flip(APPDATA_POSITION + 3), "implanted MD5 text is not the one written"),
    ],
    ids=["flipped-bit", "flipped-bit-in-the-mbr", "truncated", "implant-field"],
)
def test_bytes_changed_after_they_were_hashed_are_refused(
    big_tree: Path,
    media: dict[str, Path],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    damage: Callable[[Path], None],
    message: str,
) -> None:
    _damage_before_the_final_read(monkeypatch, damage)
    with pytest.raises(BuildError, match=message):
        iso.master_iso(_plan(big_tree, media["overlay"]), dest=tmp_path / "x.iso")


def test_xorriso_yields_the_cpu_to_the_md5_following_it(
    media: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The MD5 is the critical path: xorriso runs reniced below it (the threads it starts
    inherit that: tests/test_run.py)."""
    seen: list[int] = []
    real_spawn = iso.run.spawn

    @contextlib.contextmanager
    def spawn(argv: list[str], **kwargs: Any) -> Iterator[iso.run.Child]:
        with real_spawn(argv, **kwargs) as child:
            seen.append(os.getpriority(os.PRIO_PROCESS, child.proc.pid))
            yield child

    monkeypatch.setattr(iso.run, "spawn", spawn)
    iso.master_iso(_plan(media["tree"], media["overlay"]), dest=tmp_path / "x.iso")
    assert iso.XORRISO_NICE > 0
    assert seen == [min(os.getpriority(os.PRIO_PROCESS, 0) + iso.XORRISO_NICE, 19)]
