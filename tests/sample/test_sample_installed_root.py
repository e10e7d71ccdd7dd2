"""The sample packages installed into a folder with rpm actually work there (chroot)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildiso.sample.base import CONFLICTING, SampleBase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root"),
]


def _install(root: Path, rpms: list[Path]) -> None:
    proc = subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nosignature"]
        + [str(r) for r in rpms],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr


def _chroot(root: Path, *cmd: str, stdin: str | None = None) -> str:
    proc = subprocess.run(
        ["chroot", str(root), *cmd],
        input=stdin,
        capture_output=True,
        text=True,
        check=False,
        env={"PATH": "/sbin:/bin:/usr/sbin:/usr/bin", "LANG": "C"},
    )
    assert proc.returncode == 0, f"{cmd}: {proc.stderr}"
    return proc.stdout


@pytest.fixture(scope="module")
def installed(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("sysimage")
    packages = sorted((sample_base.tree / "Packages").glob("*.rpm"))
    kept = [p for p in packages if not p.name.startswith(tuple(f"{c}-" for c in CONFLICTING))]
    _install(root, kept + sorted(sample_base.gateway_rpms.glob("*.rpm")))
    return root


def test_rpm_qa_runs_inside_the_installed_system(installed: Path) -> None:
    names = _chroot(installed, "/bin/rpm", "-qa", "--qf", "%{NAME}\n").split()
    assert {"glibc", "busybox", "kernel", "rpm", "cs-email", "cs-email-repo-conf"} <= set(names)
    assert set(CONFLICTING).isdisjoint(names)


def test_scriptlets_left_their_evidence(installed: Path) -> None:
    evidence = sorted(p.name for p in (installed / "var/lib/cs-email").glob("installed-*"))
    assert (installed / "var/lib/cs-email/data/policy.db").is_file()  # cs-email-core's data
    assert evidence == [
        "installed-cs-email",
        "installed-cs-email-core",
        "installed-cs-email-repo-conf",
        "installed-cs-email-syslog",
        "installed-cs-email-web",
    ]
    repo = (installed / "etc/yum.repos.d/cs-email.repo").read_text()
    assert "enabled=0" in repo


def test_shadow_utils_and_pam_manage_a_user(installed: Path) -> None:
    _chroot(installed, "/usr/sbin/useradd", "-m", "cs-admin")
    _chroot(installed, "/usr/sbin/chpasswd", stdin="cs-admin:Sample-Only-9x\n")
    _chroot(installed, "/usr/bin/chage", "-d", "0", "cs-admin")
    entry = next(
        line.split(":")
        for line in (installed / "etc/shadow").read_text().splitlines()
        if line.startswith("cs-admin:")
    )
    assert entry[1].startswith("$6$")  # SHA-512 crypt via pam_unix
    assert entry[2] == "0"  # expired: must change at first login


def test_busybox_shell_and_e2fsprogs(installed: Path) -> None:
    assert _chroot(installed, "/bin/sh", "-c", "echo ok") == "ok\n"
    _chroot(installed, "/sbin/mke2fs", "-V")  # runs (exit 0) with the packaged libraries
    (installed / "tmp" / "fs.img").write_bytes(bytes(4 * 1024 * 1024))
    _chroot(installed, "/sbin/mkfs.ext4", "-q", "-F", "/tmp/fs.img")
    _chroot(installed, "/sbin/e2fsck", "-n", "/tmp/fs.img")
    assert (installed / "sbin/init").is_symlink()
    assert (installed / "etc/inittab").is_file()


def test_kernel_modules_match_the_running_kernel_layout(installed: Path) -> None:
    modules = installed / "lib/modules"
    versions = sorted(p.name for p in modules.iterdir())
    assert "2.6.32-754.el6.x86_64" in versions
    debian = [v for v in versions if not v.startswith("2.6.32")]
    assert len(debian) == 1
    assert (modules / debian[0] / "modules.dep").read_text().count(".ko") > 10


def test_the_gateways_console_command_is_allowed_to_its_admin_through_sudo(
    installed: Path,
) -> None:
    # RHEL 6's pieces the Server Console relies on: bash (useradd's default shell), PAM
    # login (util-linux-ng: enforces password expiry) and sudo with /etc/sudoers.d
    if "cs-admin:" not in (installed / "etc/passwd").read_text():  # another test made it
        _chroot(installed, "/usr/sbin/useradd", "-m", "-s", "/bin/bash", "cs-admin")
    assert _chroot(installed, "/bin/bash", "-c", "echo $BASH_VERSION").strip()
    allowed = _chroot(installed, "/usr/bin/sudo", "-l", "-U", "cs-admin")
    assert "(root) NOPASSWD: /usr/sbin/cs-console" in allowed
    installed.chmod(0o755)  # the chroot's / (a private tmp folder): cs-admin must enter it
    status = _chroot(installed, "/usr/bin/sudo", "-u", "cs-admin", "/usr/bin/sudo", "-n",
                     "/usr/sbin/cs-console", "status")  # fmt: skip
    assert "version: 4.9.0-190" in status
    ldd = subprocess.run(["ldd", str(installed / "bin/login")], capture_output=True, text=True)
    assert "libpam.so.0" in ldd.stdout


def test_the_installers_firewall_step_runs_the_packaged_lokkit(installed: Path) -> None:
    """anaconda's lokkit run for the product's firewall line, for real: chroot, the sample's
    python and lokkit; the rules as RHEL 6's lokkit writes them (tests/data/lokkit)."""
    from types import SimpleNamespace

    from buildiso import paths
    from buildiso.config import Variant
    from buildiso.render.profile import load_profile
    from buildiso.sample.installer.guest import firewall

    data = Path(__file__).parents[1] / "data" / "lokkit"
    ports = [str(p) for p in load_profile(paths.DEFAULT_PROFILE, Variant.TEST).firewall.ports]
    said: list[str] = []
    for rel in ("iptables", "ip6tables", "system-config-firewall"):
        (installed / "etc/sysconfig" / rel).unlink(missing_ok=True)
    fw = SimpleNamespace(enabled=True, trusts=[], ports=ports, services=[])
    firewall.write(installed, fw, said.append)
    assert said == []
    sysconfig = installed / "etc/sysconfig"
    assert (sysconfig / "iptables").read_text() == (data / "product.iptables").read_text()
    assert (sysconfig / "ip6tables").read_text() == (data / "product.ip6tables").read_text()
    saved = sysconfig / "system-config-firewall"
    assert saved.read_text() == (data / "product.anaconda-sysconfig").read_text()
    assert saved.stat().st_mode & 0o777 == 0o600


def test_the_installers_selinux_step_runs_the_packaged_lokkit(installed: Path) -> None:
    """selinux-policy's %post leaves RHEL 6's default (enforcing, targeted); anaconda's
    'lokkit --quiet --nostart --selinux=MODE' (after the firewall run above) changes it, for
    real: chroot, the sample's python and lokkit; the file as RHEL 6's lokkit writes it."""
    from buildiso.sample.installer.guest import security

    config = installed / "etc/selinux/config"
    settings = [ln.strip() for ln in config.read_text().splitlines() if not ln.startswith("#")]
    assert settings == ["SELINUX=enforcing", "SELINUXTYPE=targeted"]
    assert os.readlink(installed / "etc/sysconfig/selinux") == "../selinux/config"
    said: list[str] = []
    security.write(installed, "permissive", said.append)
    assert said == []
    data = Path(__file__).parents[1] / "data" / "lokkit"
    assert config.read_text() == (data / "selinux-permissive.config").read_text()
