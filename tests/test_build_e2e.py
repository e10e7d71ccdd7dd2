"""End to end: `buildiso build` on the sample base, checked by tools that are not buildiso.

Few full builds (each costs CI time): the session's ``built_iso``, one rebuild for byte
identity, one from the sample base's ISO file. The bad-input cases all stop before
mastering, which is the point: everything is checked before anything is written.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mini_media import small_tmpfs
from rpm_factory import build_rpm, make_key

from buildiso import build, buildinputs, paths
from buildiso.cli import main
from buildiso.config import Variant
from buildiso.master import efiboot, iso, staging
from buildiso.render.profile import load_profile
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

ISO_NAME = "EMAIL_490_190.iso"
LABEL = "EMAIL490190"
REPO_CONF = "cs-repo/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm"


def _tool(*cmd: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(cmd), capture_output=True, text=True)


def _iso_file(image: Path, rel: str) -> str:
    return _tool("isoinfo", "-R", "-i", str(image), "-x", f"/{rel}").stdout


def test_main_job_iso_agrees_with_independent_tools(built_iso: Path) -> None:
    assert built_iso == paths.DEFAULT_OUT / ISO_NAME
    torito = _tool("xorriso", "-indev", str(built_iso), "-report_el_torito", "plain").stdout
    entries = [line for line in torito.splitlines() if line.startswith("El Torito boot img :")]
    assert len(entries) == 2 and "BIOS" in entries[0] and "UEFI" in entries[1]
    area = _tool("xorriso", "-indev", str(built_iso), "-report_system_area", "plain").stdout
    assert "GPT" in area and "CRC wrong" not in area
    assert iso.hybrid_problems(built_iso) == []
    assert _tool("checkisomd5", str(built_iso)).returncode == 0
    assert _tool("blkid", "-o", "value", "-s", "LABEL", str(built_iso)).stdout.strip() == LABEL

    listing = _tool("isoinfo", "-R", "-f", "-i", str(built_iso)).stdout.splitlines()
    for rel in (REPO_CONF, "cs-repo/repodata/repomd.xml", "ks.cfg", "media.repo"):
        assert f"/{rel}" in listing
    osirrox = _tool("osirrox", "-indev", str(built_iso), "-find", "/cs-repo", "-type", "f").stdout
    assert f"'/{REPO_CONF}'" in osirrox

    out = built_iso.parent
    check = subprocess.run(["sha256sum", "-c", "SHA256SUM"], cwd=out, capture_output=True)
    assert check.returncode == 0, check.stdout

    manifest = json.loads((out / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["iso"]["sha256"] in (out / "SHA256SUM").read_text()
    assert manifest["inputs"]["signing"]["allow_unsigned"] is False
    names = {p["name"] for p in manifest["install_set"]}
    assert "cs-email" in names and not names & {"postfix", "rsyslog", "samba-common"}
    # The files on the ISO are the rendered ones the manifest records.
    for rel, entry in manifest["rendered"].items():
        assert _iso_file(built_iso, rel) == entry["text"], rel


def test_syslinux6_iso_carries_chain_c32_for_the_local_entry(built_iso: Path) -> None:
    # the sample base is syslinux 6 without chain.c32: the build adds Debian's
    chain = subprocess.run(
        ["isoinfo", "-R", "-i", str(built_iso), "-x", "/isolinux/chain.c32"],
        capture_output=True,
        check=True,
    ).stdout
    assert chain == staging.DEBIAN_CHAIN_C32.read_bytes()
    local = _iso_file(built_iso, "isolinux/isolinux.cfg").split("\nlabel local\n")[1]
    assert "com32 chain.c32\n" in local and "append mbr:0x90014945\n" in local


def test_efi_menu_is_inside_efiboot_img(built_iso: Path, tmp_path: Path) -> None:
    img = tmp_path / "efiboot.img"
    subprocess.run(
        ["osirrox", "-indev", str(built_iso), "-extract", "/images/efiboot.img", str(img)],
        check=True,
        capture_output=True,
    )
    manifest = json.loads((built_iso.parent / "EMAIL_490_190.manifest.json").read_text())
    efi_rel = next(rel for rel in manifest["rendered"] if rel.startswith("EFI/"))
    assert efiboot.read_file(img, efi_rel) == manifest["rendered"][efi_rel]["text"].encode()
    treeinfo = _iso_file(built_iso, ".treeinfo")
    digest = iso.sha256_file(img)
    assert f"images/efiboot.img = sha256:{digest}" in treeinfo
    assert "gateway_repository = cs-repo" in treeinfo


def test_inspect_json(built_iso: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(built_iso), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["volume_label"] == LABEL
    assert [e["platform"] for e in info["el_torito"]] == ["BIOS", "UEFI"]
    assert info["el_torito"][0]["path"] == "/isolinux/isolinux.bin"
    assert info["system_area"]["gpt"] and info["system_area"]["problems"] == []
    assert info["implanted_md5"]["check"] == "pass"
    assert REPO_CONF in info["gateway_packages"]
    assert "%packages" in info["files"]["ks.cfg"]
    assert "Boot from local drive" in info["files"]["isolinux/isolinux.cfg"]
    assert any("Install Secure Email Gateway" in t for t in info["efiboot_files"].values())


def test_rebuild_is_byte_identical_manifest_too_then_skipped(
    sample_base: SampleBase, built_iso: Path, tmp_path: Path
) -> None:
    # Same contents at another path, into another folder: the very same bytes.
    rpms = _copy_rpms(sample_base, tmp_path / "rpms")
    out = tmp_path / "out"

    def again() -> build.BuildResult:
        return build.build_iso(
            base_path=sample_base.tree,
            gateway_rpms=rpms,
            profile=load_profile(paths.DEFAULT_PROFILE, Variant.TEST),
            password_file=None,
            out_dir=out,
            key=buildinputs.SigningKey(sample_base.key_id, sample_base.gpg_public_key),
            allow_unsigned=False,
        )

    first = again()
    assert not first.skipped
    assert first.iso.read_bytes() == built_iso.read_bytes()
    # The manifest too: the nightly job diffs it, so no inode, mtime or path of the output.
    main_manifest = built_iso.with_name(first.manifest.name)
    assert first.manifest.read_bytes() == main_manifest.read_bytes()
    assert "mtime" not in first.manifest.read_text()
    # The rebuild-skip state lives apart, in a hidden file beside it.
    state = out / f".{first.iso.stem}.buildstate.json"
    assert json.loads(state.read_text())["iso"]["ino"] == first.iso.stat().st_ino
    second = again()
    assert second.skipped and second.sha256 == first.sha256
    assert first.manifest.read_bytes() == main_manifest.read_bytes()
    # A touched ISO is not trusted: it is rebuilt, to the same bytes and the same manifest.
    first.iso.write_bytes(first.iso.read_bytes())
    third = again()
    assert not third.skipped and third.sha256 == first.sha256
    assert first.manifest.read_bytes() == main_manifest.read_bytes()


def test_build_from_the_base_iso_file(sample_base: SampleBase, tmp_path: Path) -> None:
    rc = main(
        [
            "build",
            "--base",
            str(sample_base.iso),
            "--gateway-rpms",
            str(sample_base.gateway_rpms),
            "--gpg-key",
            str(sample_base.gpg_public_key),
            "--key-id",
            sample_base.key_id,
            "--out",
            str(tmp_path),
        ]  # fmt: skip
    )
    assert rc == 0
    image = tmp_path / ISO_NAME
    assert _tool("checkisomd5", str(image)).returncode == 0
    assert iso.hybrid_problems(image) == []
    manifest = json.loads((tmp_path / "EMAIL_490_190.manifest.json").read_text())
    assert manifest["inputs"]["base"]["kind"] == "iso"
    assert (
        _iso_file(image, "isolinux/isolinux.cfg")
        == (manifest["rendered"]["isolinux/isolinux.cfg"]["text"])
    )
    listing = _tool("isoinfo", "-R", "-f", "-i", str(image)).stdout.splitlines()
    assert f"/{REPO_CONF}" in listing and "/images/install.img" in listing


# --- bad inputs: one clear error, nothing left behind ---------------------------------------


def _copy_rpms(sample: SampleBase, dest: Path) -> Path:
    dest.mkdir()
    for rpm in sorted(sample.gateway_rpms.glob("*.rpm")):
        shutil.copyfile(rpm, dest / rpm.name)
    return dest


def _unsigned(sample: SampleBase, tmp: Path) -> list[str]:
    rpms = _copy_rpms(sample, tmp / "rpms")
    target = rpms / "cs-email-web-4.9.0-190.x86_64.rpm"
    subprocess.run(["rpmsign", "--delsign", str(target)], check=True, capture_output=True)
    return _sample_args(sample, rpms=rpms)


def _wrong_key(sample: SampleBase, tmp: Path) -> list[str]:
    other = make_key(tmp / "other", "Somebody Else <else@example.invalid>")
    return ["--base", str(sample.tree), "--gateway-rpms", str(sample.gateway_rpms),
            "--gpg-key", str(other.public_key), "--key-id", other.key_id]  # fmt: skip


def _corrupt(sample: SampleBase, tmp: Path) -> list[str]:
    rpms = _copy_rpms(sample, tmp / "rpms")
    target = rpms / "cs-email-core-4.9.0-190.x86_64.rpm"
    target.write_bytes(target.read_bytes()[:3000])
    return _sample_args(sample, rpms=rpms)


def _missing_dependency(sample: SampleBase, tmp: Path) -> list[str]:
    rpms = _copy_rpms(sample, tmp / "rpms")
    (rpms / "cs-email-core-4.9.0-190.x86_64.rpm").unlink()
    return _sample_args(sample, rpms=rpms)


def _conflict_left_in(sample: SampleBase, tmp: Path) -> list[str]:
    text = paths.DEFAULT_PROFILE.read_text()
    profile = tmp / "profile.toml"
    profile.write_text(text.replace('"postfix", ', ""))
    assert profile.read_text() != text
    return [*_sample_args(sample), "--profile", str(profile)]


def _rhel6_incompatible(sample: SampleBase, tmp: Path, **spec: Any) -> list[str]:
    """The gateway RPMs plus one RHEL 6's rpm cannot install; --allow-unsigned must not
    waive the gate (the extra package is unsigned: the gate runs first)."""
    rpms = _copy_rpms(sample, tmp / "rpms")
    built = build_rpm(tmp / "rpmbuild", "cs-email-extra", version="4.9.0", **spec)
    shutil.copyfile(built, rpms / built.name)
    return [*_sample_args(sample, rpms=rpms), "--allow-unsigned"]


def _zstd_payload(sample: SampleBase, tmp: Path) -> list[str]:
    return _rhel6_incompatible(sample, tmp, payload="w19.zstdio")


def _rich_dependency(sample: SampleBase, tmp: Path) -> list[str]:
    return _rhel6_incompatible(sample, tmp, requires=("(postfix or cs-email)",))


def _truncated_base(sample: SampleBase, tmp: Path) -> list[str]:
    base = tmp / "base.iso"
    with sample.iso.open("rb") as src, base.open("wb") as dst:
        dst.write(src.read(sample.iso.stat().st_size // 2))
    return _sample_args(sample, base=base)


def _label_too_long(sample: SampleBase, tmp: Path) -> list[str]:
    text = paths.DEFAULT_PROFILE.read_text()
    profile = tmp / "profile.toml"
    profile.write_text(
        text.replace('volume_label = "EMAIL490190"', 'volume_label = "' + "A" * 33 + '"')
    )
    assert profile.read_text() != text
    return [*_sample_args(sample), "--profile", str(profile)]


def _sample_args(
    sample: SampleBase, *, rpms: Path | None = None, base: Path | None = None
) -> list[str]:
    return ["--base", str(base or sample.tree), "--gateway-rpms", str(rpms or sample.gateway_rpms),
            "--gpg-key", str(sample.gpg_public_key), "--key-id", sample.key_id]  # fmt: skip


BAD_INPUTS: dict[str, tuple[Callable[[SampleBase, Path], list[str]], int, str]] = {
    "unsigned": (_unsigned, 2, "cs-email-web-4.9.0-190.x86_64.rpm: not signed"),
    "wrong key": (_wrong_key, 2, "signed by another key"),
    "corrupt": (_corrupt, 2, "cs-email-core-4.9.0-190.x86_64.rpm"),
    "missing dependency": (_missing_dependency, 2, "unresolved dependency: "),
    "conflict left in": (_conflict_left_in, 2, "conflicts with postfix"),
    "truncated base": (_truncated_base, 2, "truncated"),
    "zstd payload": (
        _zstd_payload,
        2,
        "cs-email-extra-4.9.0-1.el6.x86_64.rpm: payload compressed with zstd",
    ),
    "rich dependency": (
        _rich_dependency,
        2,
        "cs-email-extra-4.9.0-1.el6.x86_64.rpm: rich dependency '(postfix or cs-email)'",
    ),
    "label too long": (_label_too_long, 2, "volume_label"),
}


@pytest.mark.parametrize("case", sorted(BAD_INPUTS))
def test_bad_input_gives_one_error_and_no_iso(
    case: str, sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    make_args, code, message = BAD_INPUTS[case]
    args = make_args(sample_base, tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    assert main(["build", *args, "--out", str(out)]) == code
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err
    assert list(out.iterdir()) == []  # no ISO, no manifest, no work folder
    if case in ("zstd payload", "rich dependency"):  # one line on the terminal
        assert [line for line in err.splitlines() if "error" in line.lower()] == [
            next(line for line in err.splitlines() if message in line)
        ]


def test_no_space_left(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with small_tmpfs(tmp_path / "small", size="5m") as small:
        assert main(["build", *_sample_args(sample_base), "--out", str(small)]) == 1
        err = capsys.readouterr().err
        assert "not enough free space in" in err and "Traceback" not in err
        assert list(small.iterdir()) == []


def test_interrupt_while_writing_leaves_nothing(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = [0]
    real = iso.IsoMd5Stream.update

    def interrupted(self: iso.IsoMd5Stream, data: bytes) -> None:
        calls[0] += 1
        if calls[0] == 3:  # some of the image is already on disk
            raise KeyboardInterrupt
        real(self, data)

    monkeypatch.setattr(iso.IsoMd5Stream, "update", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.build_sample_iso(sample_base, out_dir=tmp_path)
    assert calls[0] == 3
    assert list(tmp_path.iterdir()) == []


def test_allow_unsigned_is_loud_and_recorded(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = _unsigned(sample_base, tmp_path)
    out = tmp_path / "out"
    assert main(["build", *args, "--allow-unsigned", "--out", str(out)]) == 0
    captured = capsys.readouterr()
    assert "DEVELOPMENT BUILD" in captured.err
    assert "UNSIGNED ALLOWED" in captured.out
    signing = json.loads((out / "EMAIL_490_190.manifest.json").read_text())["inputs"]["signing"]
    assert signing["allow_unsigned"] is True
    assert signing["unverified"] == ["cs-email-web-4.9.0-190.x86_64.rpm"]
