"""buildiso.sample.rpmbuild: every spec builds, reproducibly, with a gzip payload."""

from __future__ import annotations

import hashlib
import shutil
import subprocess
from pathlib import Path

import pytest

from buildiso.errors import BuildError, InputError
from buildiso.sample import rpmbuild
from buildiso.sample.base import SampleBase

EPOCH = 1529366400


def _inputs(tmp_path: Path) -> rpmbuild.SpecInputs:
    initrd = tmp_path / "initrd.img"
    initrd.write_bytes(b"not used by these specs")
    return rpmbuild.SpecInputs(
        kernel_root=tmp_path / "no-kernel", kernel_version="0-none", initrd=initrd
    )


def _one_spec_dir(tmp_path: Path, name: str) -> Path:
    specs = tmp_path / "specs"
    specs.mkdir()
    shutil.copy(rpmbuild.SPECS_DIR / f"{name}.spec", specs)
    return specs


@pytest.mark.integration
def test_same_spec_builds_to_identical_bytes(tmp_path: Path) -> None:
    specs = _one_spec_dir(tmp_path, "setup")
    digests = []
    for run in ("a", "b"):
        (rpm,) = rpmbuild.build_specs(
            specs,
            inputs=_inputs(tmp_path),
            workdir=tmp_path / "w",
            rpm_dir=tmp_path / run,
            epoch=EPOCH,
        )
        digests.append(hashlib.sha256(rpm.read_bytes()).hexdigest())
    assert rpm.name == "setup-2.8.14-23.el6.noarch.rpm"
    assert digests[0] == digests[1]
    info = subprocess.run(
        ["rpm", "-qp", "--qf", "%{PAYLOADCOMPRESSOR} %{BUILDTIME} %{BUILDHOST}", str(rpm)],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert info == f"gzip {EPOCH} {rpmbuild.BUILD_HOST}"


@pytest.mark.integration
def test_a_broken_spec_names_itself(tmp_path: Path) -> None:
    specs = tmp_path / "specs"
    specs.mkdir()
    (specs / "broken.spec").write_text("Name: broken\nVersion: 1\n")  # no Release/Summary
    with pytest.raises(BuildError, match="broken.spec"):
        rpmbuild.build_specs(
            specs,
            inputs=_inputs(tmp_path),
            workdir=tmp_path / "w",
            rpm_dir=tmp_path / "r",
            epoch=EPOCH,
        )


def test_an_empty_spec_folder_is_an_input_error(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no \\*.spec"):
        rpmbuild.spec_files(tmp_path)


def test_every_spec_has_rhel_like_release() -> None:
    for spec in rpmbuild.spec_files(rpmbuild.SPECS_DIR):
        text = spec.read_text()
        assert "%{?dist}" in text, f"{spec.name}: Release without %{{?dist}} (el6)"


@pytest.mark.integration
def test_rpm_qpi_is_sensible_for_every_package(sample_base: SampleBase) -> None:
    rpms = sorted((sample_base.tree / "Packages").glob("*.rpm"))
    rpms += sorted(sample_base.gateway_rpms.glob("*.rpm"))
    for rpm in rpms:
        info = subprocess.run(
            ["rpm", "-qpi", "--nosignature", str(rpm)], capture_output=True, text=True, check=True
        ).stdout
        fields = dict(
            (key.strip(), value.strip())
            for key, _, value in (line.partition(":") for line in info.splitlines())
            if _ and key.strip() in {"Name", "Version", "Release", "Summary", "Vendor", "License"}
        )
        assert rpm.name.startswith(f"{fields['Name']}-{fields['Version']}-{fields['Release']}.")
        assert fields["Summary"] and fields["License"]
        assert fields["Vendor"] == rpmbuild.VENDOR
