"""Manifest writing/reading and `buildiso diff`."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest

from buildiso import manifest
from buildiso.cli import main
from buildiso.errors import InputError


def _pkg(name: str, evr: str, sha: str = "a" * 64, arch: str = "x86_64") -> dict[str, str]:
    return {"name": name, "arch": arch, "evr": evr, "nevra": f"{name}-{evr}.{arch}", "sha256": sha}


def _manifest() -> dict[str, Any]:
    return {
        "schema": manifest.SCHEMA,
        "product": {"name": "Secure Email Gateway", "version": "4.9.0", "build": 190},
        "iso": {"name": "EMAIL_490_190.iso", "volume_label": "EMAIL_490_190", "sha256": "1" * 64},
        "inputs": {
            "base": {"label": "RHEL-6.10 Server.x86_64", "sha256": "b" * 64},
            "gateway_packages": [_pkg("cs-email", "4.9.0-190"), _pkg("cs-email-core", "4.9.0-190")],
            "signing": {"key_id": "5522142c", "allow_unsigned": False},
            "profile": {"variant": "test"},
        },
        "install_set": [_pkg("bash", "4.1.2-48.el6"), _pkg("cs-email", "4.9.0-190")],
        "rendered": {
            "ks.cfg": {"sha256": "k1", "text": "install\nreboot\n"},
            "isolinux/isolinux.cfg": {"sha256": "m1", "text": "timeout 600\n"},
        },
        "tools": {"xorriso": "xorriso 1.5.4"},
    }


def test_write_and_load_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "x.manifest.json"
    manifest.write_manifest(path, _manifest())
    assert manifest.load_manifest(path) == _manifest()
    assert [p.name for p in tmp_path.iterdir()] == ["x.manifest.json"]  # no temp left
    assert path.read_text().endswith("}\n")


def test_identical_manifests_have_no_changes() -> None:
    assert manifest.diff_manifests(_manifest(), _manifest()) == []


def test_package_and_kickstart_changes() -> None:
    old, new = _manifest(), _manifest()
    new["inputs"]["gateway_packages"] = [
        _pkg("cs-email", "4.9.1-191"),  # upgraded
        _pkg("cs-email-av", "1.0-1"),  # added; cs-email-core removed
    ]
    new["install_set"][0] = _pkg("bash", "4.1.2-40.el6")  # downgraded
    new["rendered"]["ks.cfg"] = {"sha256": "k2", "text": "install\npoweroff\n"}
    new["inputs"]["signing"]["allow_unsigned"] = True
    lines = manifest.diff_manifests(old, new)
    text = "\n".join(lines)
    assert "  upgraded:   cs-email.x86_64  4.9.0-190 -> 4.9.1-191" in lines
    assert "  added:      cs-email-av-1.0-1.x86_64" in lines
    assert "  removed:    cs-email-core-4.9.0-190.x86_64" in lines
    assert "  downgraded: bash.x86_64  4.1.2-48.el6 -> 4.1.2-40.el6" in lines
    assert "  allow unsigned: False -> True" in lines
    assert "  changed: ks.cfg" in lines
    assert "    -reboot" in lines and "    +poweroff" in lines
    assert "isolinux" not in text  # unchanged menu is not mentioned


def test_same_version_different_file_is_reported() -> None:
    old, new = _manifest(), _manifest()
    new["inputs"]["gateway_packages"][0] = _pkg("cs-email", "4.9.0-190", sha="c" * 64)
    assert "  rebuilt:    cs-email-4.9.0-190.x86_64 (same version, different file)" in (
        manifest.diff_manifests(old, new)
    )


def test_diff_verb(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    old, new = _manifest(), copy.deepcopy(_manifest())
    new["rendered"]["isolinux/isolinux.cfg"] = {"sha256": "m2", "text": "timeout 300\n"}
    new["iso"]["sha256"] = "2" * 64
    (tmp_path / "old.json").write_text(json.dumps(old))
    (tmp_path / "new.json").write_text(json.dumps(new))
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "new.json")]) == 0
    out = capsys.readouterr().out
    assert "Kickstart and boot menus:" in out
    assert "-timeout 600" in out and "+timeout 300" in out
    assert main(["diff", str(tmp_path / "old.json"), str(tmp_path / "old.json")]) == 0
    assert "no changes" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("content", "message"),
    [("not json", "not JSON"), ('{"schema": 99}', "not a buildiso manifest")],
)
def test_bad_manifest(tmp_path: Path, content: str, message: str) -> None:
    path = tmp_path / "m.json"
    path.write_text(content)
    with pytest.raises(InputError, match=message):
        manifest.load_manifest(path)


def test_other_staged_files() -> None:
    old, new = _manifest(), _manifest()
    old["staged"] = {".treeinfo": "1", "media.repo": "2", "cs-repo/repodata/repomd.xml": "3"}
    new["staged"] = {
        ".treeinfo": "9",
        "images/efiboot.img": "4",
        "cs-repo/repodata/repomd.xml": "8",
    }
    lines = manifest.diff_manifests(old, new)
    assert lines[lines.index("Other files on the media:") :] == [
        "Other files on the media:",
        "  changed: .treeinfo",
        "  added: images/efiboot.img",
        "  removed: media.repo",
    ]
