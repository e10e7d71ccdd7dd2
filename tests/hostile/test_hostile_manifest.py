"""Hostile audit #5: ``diff`` refuses a manifest whose keys have wrong types or are missing,
naming the key; ``inspect`` fails when the implanted MD5 does."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from mini_media import make_tree, plain_xorriso_iso
from test_manifest import _manifest

from buildiso.cli import main
from buildiso.master import isomd5


def _set(dotted: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def change(manifest: dict[str, Any]) -> None:
        *parents, last = dotted.split(".")
        section = manifest
        for part in parents:
            section = section[part]
        section[last] = value

    return change


def _drop(key: str) -> Callable[[dict[str, Any]], None]:
    return lambda manifest: manifest.pop(key) and None


def _null_nevra(manifest: dict[str, Any]) -> None:
    manifest["install_set"][1]["nevra"] = None


BAD: dict[str, tuple[Callable[[dict[str, Any]], None], str]] = {
    "install_set of numbers": (_set("install_set", [1, 2, 3]), "install_set[0]"),
    "rendered file a number": (_set("rendered", {"ks.cfg": 5}), "rendered.ks.cfg"),
    "nevra null": (_null_nevra, "install_set[1].nevra"),
    "install_set a string": (_set("install_set", "notalist"), "install_set"),
    "inputs null": (_set("inputs", None), "inputs"),
    "iso missing": (_drop("iso"), "iso.name"),
    "allow_unsigned a string": (
        _set("inputs.signing.allow_unsigned", "no"),
        "inputs.signing.allow_unsigned",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_diff_refuses_a_mistyped_manifest_naming_the_key(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    change, key = BAD[case]
    good, bad = tmp_path / "good.json", tmp_path / "bad.json"
    good.write_text(json.dumps(_manifest()))
    broken = _manifest()
    change(broken)
    bad.write_text(json.dumps(broken))
    for old, new in ((good, bad), (bad, good)):
        assert main(["diff", str(old), str(new)]) == 2
        captured = capsys.readouterr()
        assert "Traceback" not in captured.err
        errors = [line for line in captured.err.splitlines() if line.startswith("buildiso:")]
        assert len(errors) == 1 and f"{bad}: manifest key {key}" in errors[0], captured.err
        assert "no changes" not in captured.out


def test_diff_of_good_manifests_still_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old, new = tmp_path / "old.json", tmp_path / "new.json"
    old.write_text(json.dumps(_manifest()))
    changed = _manifest()
    changed["install_set"][0]["evr"] = "4.1.2-49.el6"
    new.write_text(json.dumps(changed))
    assert main(["diff", str(old), str(new)]) == 0
    assert "upgraded:   bash.x86_64  4.1.2-48.el6 -> 4.1.2-49.el6" in capsys.readouterr().out


@pytest.mark.integration
def test_inspect_exits_non_zero_when_the_implanted_md5_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tree = make_tree(tmp_path / "tree")
    (tree / "Packages" / "big.rpm").write_bytes(bytes(range(256)) * 4096)
    image = plain_xorriso_iso(tree, tmp_path / "dvd.iso", volid="RHEL-6.10")
    isomd5.implant_file(image)
    assert main(["inspect", str(image)]) == 0
    assert "implanted MD5  pass" in capsys.readouterr().out
    data = bytearray(image.read_bytes())
    data[data.index(bytes(range(256)) * 16) + 100] ^= 0xFF
    image.write_bytes(bytes(data))
    assert main(["inspect", str(image)]) == 2
    captured = capsys.readouterr()
    assert "implanted MD5  FAIL" in captured.out
    assert "fails its implanted MD5 check" in captured.err and "Traceback" not in captured.err
