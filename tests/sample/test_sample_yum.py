"""The sample OS's yum (Debian's dnf 4) does real transactions in an installed root (chroot).

A Minimal-like root gets every base package (postfix, rsyslog and samba-common included, as
a Minimal RHEL 6.10 has them); the gateway RPMs are a repository at /media/os/cs-repo made
by createrepo_c --compatibility, as on the product ISO. Then the installation guide's
Appendix A runs inside the root with the sample's own rpm and yum.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpm_factory import build_rpm

from buildiso.sample.base import CONFLICTING, SampleBase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and bind mounts need root"),
]

REPO_CONF = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"


def _guest(root: Path, script: str) -> subprocess.CompletedProcess[str]:
    """``script`` in the sample's /bin/sh inside ``root``, with /dev and /proc as a booted
    system has them (gpgme spawns gpg through /dev/null; busybox needs /proc/self/exe)."""
    mount = (
        f"mount --bind /dev {root}/dev && mount -t proc proc {root}/proc && "
        f"exec chroot {root} /usr/bin/env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root "
        f"/bin/sh -l -c \"$0\""
    )
    return subprocess.run(
        ["unshare", "--mount", "--propagation", "private", "sh", "-c", mount, script],
        capture_output=True,
        text=True,
        check=False,
    )


def _ok(root: Path, script: str) -> str:
    proc = _guest(root, script)
    assert proc.returncode == 0, f"{script}:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout + proc.stderr  # dnf logs key imports and warnings on stderr


@pytest.fixture(scope="module")
def minimal_root(sample_base: SampleBase, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("minimal")
    packages = sorted(str(p) for p in (sample_base.tree / "Packages").glob("*.rpm"))
    subprocess.run(
        ["rpm", "--root", str(root), "--dbpath", "/var/lib/rpm", "-i", "--nosignature", *packages],
        check=True,
        capture_output=True,
    )
    repo = root / "media/os/cs-repo"
    (repo / "Packages").mkdir(parents=True)
    for rpm in sample_base.gateway_rpms.glob("*.rpm"):
        shutil.copy(rpm, repo / "Packages")
    subprocess.run(["createrepo_c", "-q", "--compatibility", str(repo)], check=True)
    return root


@pytest.fixture()
def root(minimal_root: Path, tmp_path: Path) -> Iterator[Path]:
    copy = tmp_path / "root"
    subprocess.run(["cp", "-a", str(minimal_root), str(copy)], check=True)
    yield copy


def _installed(root: Path) -> set[str]:
    return set(_guest(root, "rpm -qa --qf '%{NAME}\\n'").stdout.split())


def test_yum_is_dnf_and_the_minimal_root_has_it(root: Path) -> None:
    out = _ok(root, "yum --version; rpm -qf /usr/bin/yum")
    assert out.startswith("4.14")
    assert "yum-4.14.0-1.el6.x86_64" in out
    assert set(CONFLICTING) <= _installed(root)


def test_appendix_a_steps_3_to_5(root: Path, sample_base: SampleBase) -> None:
    _ok(root, f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF}")
    _ok(root, "yum remove -y postfix rsyslog samba-common")
    out = _ok(root, "yum install -y cs-email --enablerepo=cs-*")
    assert "Importing GPG key 0x" + sample_base.key_id.upper() in out
    names = _installed(root)
    assert {"cs-email", "cs-email-core", "cs-email-web", "cs-email-syslog"} <= names
    assert set(CONFLICTING).isdisjoint(names)
    keys = _guest(root, "rpm -q gpg-pubkey --qf '%{VERSION}\\n'").stdout.split()
    assert sample_base.key_id in keys
    listing = _ok(root, "yum repolist --all")
    assert all(f"{r}" in listing for r in ("cs-media", "cs-email", "cs-updates"))
    assert "enabled" not in listing.replace("disabled", "")  # all cs-* disabled afterwards


def test_step_5_without_step_4_names_the_conflict(root: Path) -> None:
    _ok(root, f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF}")
    proc = _guest(root, "yum install -y cs-email --enablerepo=cs-*")
    assert proc.returncode != 0
    assert "conflicts with postfix" in proc.stderr
    assert "cs-email" not in _installed(root)


def test_gpgcheck_refuses_an_unsigned_package(root: Path, tmp_path: Path) -> None:
    _ok(root, f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF}")
    unsigned = build_rpm(tmp_path / "build", "cs-email-extra")
    repo = root / "media/os/cs-repo"
    shutil.copy(unsigned, repo / "Packages")
    subprocess.run(["createrepo_c", "-q", "--compatibility", str(repo)], check=True)
    proc = _guest(root, "yum install -y cs-email-extra --enablerepo=cs-media")
    assert proc.returncode != 0
    assert "cs-email-extra" in proc.stderr and "not signed" in proc.stderr
    assert "cs-email-extra" not in _installed(root)


def _media_repo(root: Path, rpms: Path) -> None:
    """The media mounted at /media/os: its cs-repo/ holds ``rpms`` (createrepo_c)."""
    repo = root / "media/os/cs-repo"
    shutil.rmtree(repo)
    (repo / "Packages").mkdir(parents=True)
    for rpm in rpms.glob("*.rpm"):
        shutil.copy(rpm, repo / "Packages")
    subprocess.run(["createrepo_c", "-q", "--compatibility", str(repo)], check=True)


def test_offline_upgrade_from_the_previous_release_keeps_config_and_data(
    root: Path, sample_base: SampleBase
) -> None:
    previous = sample_base.gateway_rpms.with_name("gateway-rpms-480")
    _media_repo(root, previous)
    _ok(root, f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF}")
    _ok(root, "yum remove -y postfix rsyslog samba-common")
    _ok(root, "yum install -y cs-email --enablerepo=cs-*")
    assert {"cs-email-legacy", "cs-email-core"} <= _installed(root)
    assert "cs-email-syslog" not in _installed(root)
    conf = root / "etc/cs-email/cs-email.conf"
    conf.write_text(conf.read_text() + "site_relay = relay.example.invalid\n")  # the admin's
    edited = conf.read_text()
    data = root / "var/lib/cs-email/data"
    (data / "queue.db").write_text("3 messages\n")
    policy = (data / "policy.db").read_text()

    # The admin inserts the new release's disc later, not within the same second: dnf's
    # metadata_expire=0 means "older than 0 s", and a cache written this very second is not
    # (1 run in 5 here went on with the 4.8 metadata). So the cache is a minute old.
    for cached in (root / "var/cache/dnf").rglob("*"):
        stamp = cached.lstat().st_mtime - 60
        os.utime(cached, (stamp, stamp), follow_symlinks=False)
    _media_repo(root, sample_base.gateway_rpms)  # the new release's media
    _ok(root, "yum update -y --enablerepo=cs-*")
    nvr = _guest(root, "rpm -qa --qf '%{NAME} %{VERSION}-%{RELEASE}\\n' 'cs-email*'").stdout
    versions = dict(line.split() for line in nvr.splitlines())
    assert versions.pop("cs-email-repo-conf") == "3.6.3-1"
    assert versions == {n: "4.9.0-190" for n in
                        ("cs-email", "cs-email-core", "cs-email-web", "cs-email-syslog")}
    assert conf.read_text() == edited  # %config(noreplace): the admin's file stays
    assert "tls_minimum" in conf.with_name("cs-email.conf.rpmnew").read_text()
    assert (data / "queue.db").read_text() == "3 messages\n"
    assert (data / "policy.db").read_text() == policy == "policy created by 4.8.0-150\n"
    assert (root / "etc/cs-email/version").read_text() == "4.9.0-190\n"
    assert not (root / "opt/cs-email/legacy").exists()  # obsoleted package removed
