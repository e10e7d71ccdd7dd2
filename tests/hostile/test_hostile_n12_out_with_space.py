"""Second hostile audit, N12: ``BUILDISO_OUT`` with a space in it.

Before: the default build (sample base, then the ISO) failed inside rpmbuild ("Too many
names": ``%files -f`` and the %install scripts split the paths rpmbuild was given) and the
hint blamed ``bash.spec``. Now rpmbuild only ever sees paths without spaces (a private
folder of links to the real ones), so every sample spec builds wherever the output folder,
the kernel cache or the checkout is. Once rpmbuild got through, a second break showed:
the installer's initrd silently lost every kernel module, whose ``modprobe
--show-depends`` lines were read up to the first space (the ISO built, the installer would
not have found its disk); the module list is now read whole, and a line it cannot read is
an error. ``BUILDISO_OUT="/tmp/out with space" buildiso build`` was run end to end.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from buildiso.sample import base as sample_base_mod
from buildiso.sample import previous, rpmbuild
from buildiso.sample.installer import initrd
from buildiso.sample.kernel import KernelTree, fetch_kernel
from buildiso.sample.rpmbuild import SpecInputs

pytestmark = pytest.mark.integration


def _spaced_kernel(kernel: KernelTree, root: Path) -> KernelTree:
    """The kernel tree seen from a folder whose real path has a space (its boot/ and lib/
    are links: the folder itself is real, as a cache under BUILDISO_OUT is)."""
    spaced = root / "kernel tree"
    spaced.mkdir(parents=True)
    for part in ("boot", "lib"):
        (spaced / part).symlink_to(kernel.root / part)
    return KernelTree(root=spaced, version=kernel.version, deb=kernel.deb)


def test_initrd_modules_are_found_under_a_path_with_a_space(tmp_path: Path) -> None:
    kernel = fetch_kernel(sample_base_mod.cache_dir())
    expected = [p.relative_to(kernel.root.resolve()) for p in initrd.module_files(kernel)]
    spaced = _spaced_kernel(kernel, tmp_path / "out with space")
    found = [p.relative_to(spaced.root.resolve()) for p in initrd.module_files(spaced)]
    assert found == expected and len(found) > 20


def test_every_sample_spec_builds_under_paths_with_spaces(tmp_path: Path) -> None:
    root = tmp_path / "out with space"
    kernel = fetch_kernel(sample_base_mod.cache_dir())
    kernel_root = _spaced_kernel(kernel, root).root
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
