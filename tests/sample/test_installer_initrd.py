"""Sample installer stage 1: the newc cpio writer and the initramfs contents."""

from __future__ import annotations

import gzip
import subprocess
from pathlib import Path

import pytest

from buildiso.sample.installer import cpio
from buildiso.sample.installer.initrd import MODULES, build_initrd
from buildiso.sample.kernel import KernelTree, fetch_kernel


def _cpio_list(data: bytes, tmp_path: Path) -> list[str]:
    archive = tmp_path / "a.cpio"
    archive.write_bytes(data)
    proc = subprocess.run(["cpio", "-itv", "--quiet", "-F", str(archive)], capture_output=True,
                          text=True, check=True)
    return proc.stdout.splitlines()


def test_cpio_archive_reads_back_with_gnu_cpio(tmp_path: Path) -> None:
    data = cpio.archive(
        [cpio.file("init", b"#!/bin/sh\n", 0o755), cpio.directory("dev"),
         cpio.char_device("dev/console", 5, 1), cpio.symlink("bin/sh", "/bin/busybox"),
         cpio.directory("bin")],
        mtime=1_500_000_000,
    )
    assert len(data) % 4 == 0
    listing = _cpio_list(data, tmp_path)
    assert [line.split()[-1] for line in listing] == [
        "bin", "/bin/busybox", "dev", "dev/console", "init"]
    assert listing[3].startswith("crw-------") and " 5,   1 " in listing[3]
    assert listing[4].startswith("-rwxr-xr-x") and " root " in listing[4]
    assert cpio.archive([cpio.file("a", b"x")], mtime=0) == cpio.archive(
        [cpio.file("a", b"x")], mtime=0)


@pytest.fixture(scope="module")
def kernel() -> KernelTree:
    from buildiso import paths

    return fetch_kernel(paths.DEFAULT_OUT / "cache")


@pytest.mark.integration
def test_initrd_contents_and_reproducibility(kernel: KernelTree, tmp_path: Path) -> None:
    first = build_initrd(kernel=kernel, dest=tmp_path / "a" / "initrd.img")
    second = build_initrd(kernel=kernel, dest=tmp_path / "b" / "initrd.img")
    assert first.read_bytes() == second.read_bytes()
    data = gzip.decompress(first.read_bytes())
    names = {line.split()[-1] for line in _cpio_list(data, tmp_path)}
    assert {"init", "dev/console", "bin/busybox", "etc/modules.load"} <= names
    assert "bin/sh" in names or "/bin/busybox" in names  # applet links
    extracted = tmp_path / "x"
    extracted.mkdir()
    archive = tmp_path / "i.cpio"
    archive.write_bytes(data)
    subprocess.run(["cpio", "-id", "--quiet", "-F", str(archive), "etc/modules.load"],
                   cwd=extracted, check=True)
    loads = (extracted / "etc/modules.load").read_text().split()
    loaded = {Path(p).name.removesuffix(".ko").replace("-", "_") for p in loads}
    builtin = (kernel.modules_dir / "modules.builtin").read_text()
    for module in MODULES:
        assert module in loaded or f"/{module}.ko" in builtin.replace("-", "_"), module
    # dependencies come before the modules that need them
    assert loads.index(next(p for p in loads if p.endswith("/jbd2.ko"))) < loads.index(
        next(p for p in loads if p.endswith("/ext4.ko")))
    for path in loads:
        assert path.lstrip("/") in names, path


@pytest.mark.parametrize(
    "script",
    [Path("buildiso/sample/installer/init.sh"),
     Path("buildiso/sample/sources/sample-firstboot-report/sample-firstboot-report")],
)
def test_shell_scripts_parse_with_busybox_sh(script: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    proc = subprocess.run(["/bin/busybox", "sh", "-n", str(root / script)],
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_grub_configs_pass_grub_script_check(tmp_path: Path) -> None:
    from buildiso.sample.installer.guest import bootloader

    root = Path(__file__).resolve().parents[2]
    conf = tmp_path / "grub.conf"
    conf.write_text(bootloader.grub_conf(title="Secure Email Gateway (k)", kernel_path="/vmlinuz",
                                         initrd_path="/initramfs.img",
                                         cmdline="root=UUID=x panic=1", timeout=5))
    for path in (root / "buildiso/sample/sources/grub/embedded.cfg", conf):
        proc = subprocess.run(["grub-script-check", str(path)], capture_output=True, text=True,
                              check=False)
        assert proc.returncode == 0, (path, proc.stdout + proc.stderr)


def test_grub_embedded_config_suits_the_rescue_parser() -> None:
    # GRUB runs a grub-mkimage -c config before normal mode, in its rescue parser: "#" and
    # "if" are unknown commands there, and each one printed an error at every boot.
    root = Path(__file__).resolve().parents[2]
    text = (root / "buildiso/sample/sources/grub/embedded.cfg").read_text()
    words = [line.split()[0] for line in text.splitlines() if line.strip()]
    assert words and set(words) <= {"search", "set", "configfile", "echo", "sleep"}, words
    spec = (root / "buildiso/sample/specs/grub.spec").read_text()
    modules = spec.split("%global common_modules", 1)[1].splitlines()[0].split()
    assert {"search", "configfile", "echo", "sleep"} <= set(modules)  # built into the images
