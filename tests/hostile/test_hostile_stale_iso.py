"""Hostile audit #1: a changed input must never leave the old ISO in place ("stale ISO").

One case per input class: build, change the input, build again → rebuilt (not kept), and
once more with nothing changed → kept.
"""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hostile.hostile_build import build_into

from buildiso import fingerprint, inputidentity, paths
from buildiso.compose import stage as compose_stage
from buildiso.compose.repo import GATEWAY_REPO_DIR
from buildiso.master import iso, staging
from buildiso.master.basetree import open_base
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

Change = Callable[[SampleBase, Path, pytest.MonkeyPatch], dict[str, Path]]


def _patched_copy(mp: pytest.MonkeyPatch, tmp: Path, module: object, attr: str) -> Path:
    source: Path = getattr(module, attr)
    copy = tmp / "host" / source.name
    copy.parent.mkdir(exist_ok=True)
    shutil.copyfile(source, copy)
    mp.setattr(module, attr, copy)
    return copy


def _append(path: Path, data: bytes = b"\0changed") -> None:
    path.write_bytes(path.read_bytes() + data)


def _comps(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    comps = _patched_copy(mp, tmp, compose_stage, "GATEWAY_COMPS")
    return {"edit": comps}


def _host_file(module: object, attr: str) -> Change:
    def prepare(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
        return {"edit": _patched_copy(mp, tmp, module, attr)}

    return prepare


def _tool(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    # Same version line (it runs the real createrepo_c), different program.
    real = shutil.which("createrepo_c")
    assert real is not None
    wrapper = tmp / "bin" / "createrepo_c"
    wrapper.parent.mkdir()
    wrapper.write_text(f'#!/bin/sh\nexec {real} "$@"\n')
    wrapper.chmod(0o755)
    mp.setenv("PATH", f"{wrapper.parent}:{os.environ['PATH']}")
    return {"edit": wrapper}


def _code(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    # A module in a subpackage (master/), not only the top-level ones.
    copy = tmp / "code" / "buildiso"
    shutil.copytree(fingerprint.PACKAGE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    roots = (copy, *fingerprint.CODE_ROOTS[1:])
    mp.setattr(fingerprint, "CODE_ROOTS", roots)
    return {"edit": copy / "master" / "iso.py"}


def _base_tree_file(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    # A file no .treeinfo checksum covers, patched in place.
    tree = tmp / "tree"
    shutil.copytree(sample.tree, tree)
    return {"edit": tree / "isolinux" / "boot.msg", "base": tree}


def _profile(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    profile = tmp / "profile.toml"
    shutil.copyfile(paths.DEFAULT_PROFILE, profile)
    return {"edit": profile, "profile": profile}


def _epoch(sample: SampleBase, tmp: Path, mp: pytest.MonkeyPatch) -> dict[str, Path]:
    mp.setenv("SOURCE_DATE_EPOCH", "1600000000")
    return {}


CASES: dict[str, Change] = {
    "comps": _comps,
    "chain.c32": _host_file(staging, "DEBIAN_CHAIN_C32"),
    "ascii.pf2": _host_file(staging, "GRUB_ASCII_FONT"),
    "isohdpfx.bin": _host_file(iso, "DEBIAN_ISOHDPFX"),
    "tool": _tool,
    "code in a subpackage": _code,
    "base tree file": _base_tree_file,
    "profile": _profile,
    "SOURCE_DATE_EPOCH": _epoch,
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_changed_input_rebuilds_unchanged_keeps(
    case: str, sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    prepared = CASES[case](sample_base, tmp_path, monkeypatch)
    kwargs = {k: v for k, v in prepared.items() if k in ("base", "profile")}
    out = tmp_path / "out"
    first = build_into(sample_base, out, **kwargs)
    assert not first.skipped
    if case == "SOURCE_DATE_EPOCH":
        monkeypatch.setenv("SOURCE_DATE_EPOCH", "1600000001")
    elif case == "profile":
        _append(prepared["edit"], b"\n# a comment changes the profile's bytes\n")
    elif case == "tool":
        _append(prepared["edit"], b"# rebuilt\n")
    elif case == "comps":
        _append(prepared["edit"], b"<!-- edited -->\n")
    else:
        _append(prepared["edit"])
    second = build_into(sample_base, out, **kwargs)
    assert not second.skipped, f"{case} changed but the old ISO was kept"
    third = build_into(sample_base, out, **kwargs)
    assert third.skipped and third.sha256 == second.sha256


def test_edited_comps_reaches_the_iso(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The issue's "done when": edit comps, build → a different ISO carrying the edit."""
    comps = _patched_copy(monkeypatch, tmp_path, compose_stage, "GATEWAY_COMPS")
    out = tmp_path / "out"
    first = build_into(sample_base, out)
    text = comps.read_text()
    edited = "The gateway software, edited by the hostile audit."
    assert "<description>" in text
    comps.write_text(text.replace("<description>", f"<description>{edited} ", 1))
    second = build_into(sample_base, out)
    assert not second.skipped and second.sha256 != first.sha256
    with open_base(second.iso) as media:
        group_files = [
            rel
            for rel in media.iter_files()
            if rel.startswith(f"{GATEWAY_REPO_DIR}/repodata/") and "comps" in rel
        ]
        assert group_files, "cs-repo carries no comps file"
        assert any(edited.encode() in _plain(media.read_bytes(rel)) for rel in group_files)


def _plain(data: bytes) -> bytes:
    import gzip
    import lzma

    for opener in (gzip.decompress, lzma.decompress):
        try:
            return opener(data)
        except (OSError, lzma.LZMAError):
            continue
    return data


def test_every_program_a_build_runs_is_in_the_fingerprint(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A tool the build starts but the fingerprint leaves out could change the ISO unseen."""
    from buildiso import run

    started: set[str] = set()
    real_argv = run._argv

    def recording(cmd: list[str]) -> list[str]:
        argv = real_argv(cmd)
        started.add(Path(argv[0]).name)
        return argv

    monkeypatch.setattr(run, "_argv", recording)
    assert not build_into(sample_base, tmp_path / "out").skipped
    assert {"xorriso", "createrepo_c", "rpmkeys"} <= started
    assert started <= set(fingerprint.BUILD_TOOLS), started - set(fingerprint.BUILD_TOOLS)


def test_each_tool_is_asked_its_version_once_per_build(
    sample_base: SampleBase, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The manifest's tool versions come from the fingerprint's probes, not a second round."""
    from buildiso import run

    probes: list[str] = []
    real_argv = run._argv

    def recording(cmd: list[str]) -> list[str]:
        argv = real_argv(cmd)
        if any(arg in ("--version", "-version") for arg in argv[1:]):
            probes.append(Path(argv[0]).name)
        return argv

    monkeypatch.setattr(run, "_argv", recording)
    result = build_into(sample_base, tmp_path / "out")
    assert not result.skipped
    assert probes and len(probes) == len(set(probes)), sorted(probes)
    manifest = json.loads(result.manifest.read_text())
    assert manifest["tools"]["xorriso"].startswith("xorriso ")  # the real version line
    assert set(manifest["tools"]) == set(inputidentity.MANIFEST_TOOLS)


def test_diff_names_a_comps_only_change(
    sample_base: SampleBase,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The nightly diff must not say "no changes" when only comps changed the ISO."""
    from buildiso.cli import main

    comps = _patched_copy(monkeypatch, tmp_path, compose_stage, "GATEWAY_COMPS")
    first = build_into(sample_base, tmp_path / "a")
    _append(comps, b"<!-- edited -->\n")
    second = build_into(sample_base, tmp_path / "b")
    capsys.readouterr()
    assert main(["diff", str(first.manifest), str(second.manifest)]) == 0
    out = capsys.readouterr().out
    assert "gateway comps:" in out and "no changes" not in out
