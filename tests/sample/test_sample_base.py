"""buildiso.sample.base: the pipeline's cache, atomic output and CLI verb."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from buildiso.cli import main
from buildiso.errors import BuildError, InputError
from buildiso.sample import base
from buildiso.sample.kernel import KernelTree


@pytest.fixture()
def fake_kernel(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> KernelTree:
    deb = tmp_path / "linux-image-0-test_1_amd64.deb"
    deb.write_bytes(b"deb")
    kernel = KernelTree(root=tmp_path / "kernel", version="0-test", deb=deb)
    monkeypatch.setattr(base, "fetch_kernel", lambda cache: kernel)
    return kernel


def test_stamp_covers_sources_kernel_and_key(fake_kernel: KernelTree) -> None:
    stamp = base.input_stamp(kernel=fake_kernel, key_fingerprint="A" * 40, epoch=1)
    files = stamp["files"]
    assert isinstance(files, dict)
    assert "specs/kernel.spec" in files
    assert "comps-rhel6-sample.xml" in files
    assert any(name.startswith("installer/") for name in files)
    assert any(str(p).startswith("busybox-static=") for p in stamp["host_packages"])  # type: ignore[attr-defined]
    assert base.input_stamp(kernel=fake_kernel, key_fingerprint="B" * 40, epoch=1) != stamp
    assert base.input_stamp(kernel=fake_kernel, key_fingerprint="A" * 40, epoch=2) != stamp


def test_failed_build_leaves_previous_output_alone(
    tmp_path: Path, fake_kernel: KernelTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "sample-base"
    out.mkdir()
    (out / "previous").write_text("kept")
    (out / base.STAMP_NAME).write_text('{"schema": 0}')  # an older build's stamp

    def broken_build(**kwargs: object) -> None:
        stage = kwargs["stage"]
        assert isinstance(stage, Path)
        (stage / "half-written").write_text("x")
        raise BuildError("rpmbuild failed for kernel.spec")

    monkeypatch.setattr(base, "_build", broken_build)
    with pytest.raises(BuildError, match="kernel.spec"):
        base.build_sample_base(out)
    assert (out / "previous").read_text() == "kept"
    assert not (out / "half-written").exists()
    assert not list(tmp_path.glob(".sample-base.tmp*"))


def test_cli_verb_reports_a_failed_build(
    tmp_path: Path, fake_kernel: KernelTree, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_build(**kwargs: object) -> None:
        raise BuildError("rpmbuild failed for glibc.spec", hint="fix it")

    monkeypatch.setattr(base, "_build", broken_build)
    assert main(["sample-base", "--out", str(tmp_path / "o")]) == 1


@pytest.mark.integration
def test_unchanged_rerun_is_a_cache_hit(sample_base: base.SampleBase) -> None:
    out = sample_base.iso.parent
    stamp = out / base.STAMP_NAME
    before = (stamp.stat().st_mtime_ns, sample_base.iso.stat().st_mtime_ns)
    again = base.build_sample_base(out)
    assert again == sample_base
    assert (stamp.stat().st_mtime_ns, sample_base.iso.stat().st_mtime_ns) == before
    assert json.loads(stamp.read_text())["schema"] == 1


def test_a_foreign_folder_is_never_replaced(tmp_path: Path) -> None:
    (tmp_path / "precious.txt").write_text("mine")
    assert main(["sample-base", "--out", str(tmp_path)]) == 2
    assert (tmp_path / "precious.txt").read_text() == "mine"
    with pytest.raises(InputError, match="is a file"):
        base.build_sample_base(tmp_path / "precious.txt")
