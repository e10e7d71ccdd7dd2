"""Second hostile audit, N12: ``BUILDISO_OUT`` with a space in it.

Before: the default build (sample base, then the ISO) failed inside rpmbuild ("Too many
names": ``%files -f`` and the %install scripts split the paths rpmbuild was given) and the
hint blamed ``bash.spec``. Now rpmbuild only ever sees paths without spaces (a private
folder of links to the real ones), so every sample spec builds wherever the output folder,
the kernel cache or the checkout is.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample import base as sample_base_mod
from buildiso.sample import previous, rpmbuild
from buildiso.sample.kernel import fetch_kernel
from buildiso.sample.rpmbuild import SpecInputs

pytestmark = pytest.mark.integration


def test_every_sample_spec_builds_under_paths_with_spaces(tmp_path: Path) -> None:
    root = tmp_path / "out with space"
    kernel = fetch_kernel(sample_base_mod.cache_dir())
    kernel_root = root / "kernel tree"
    kernel_root.parent.mkdir(parents=True)
    kernel_root.symlink_to(kernel.root)
    initrd = root / "init rd" / "initrd.img"
    initrd.parent.mkdir()
    initrd.write_bytes(b"an initrd\n")
    key = root / "key dir" / "RPM-GPG-KEY-buildiso-sample"
    key.parent.mkdir()
    key.write_text("-----BEGIN PGP PUBLIC KEY BLOCK-----\n")
    inputs = SpecInputs(kernel_root=kernel_root, kernel_version=kernel.version, initrd=initrd,
                        vendor_key=key)  # fmt: skip
    built = []
    for specs in (rpmbuild.SPECS_DIR, rpmbuild.GATEWAY_SPECS_DIR, previous.SPECS_DIR):
        rpm_dir = root / f"rpms of {specs.name}"
        built += rpmbuild.build_specs(specs, inputs=inputs, workdir=root / "rpm build",
                                      rpm_dir=rpm_dir, epoch=rpmbuild.DEFAULT_EPOCH)  # fmt: skip
    names = {p.name.rsplit("-", 2)[0] for p in built}
    expected = {s.stem for d in (rpmbuild.SPECS_DIR, rpmbuild.GATEWAY_SPECS_DIR) for s in
                rpmbuild.spec_files(d)}  # fmt: skip
    assert expected <= names
    assert not (root / "rpm build").exists() or not any((root / "rpm build").iterdir())
