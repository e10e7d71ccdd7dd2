"""The sample OS's yum (Debian's dnf 4) does real transactions in an installed root (chroot).

A Minimal-like root gets every base package (postfix, rsyslog and samba-common included, as
a Minimal RHEL 6.10 has them); the gateway RPMs are a repository at /media/os/cs-repo made
by createrepo_c --compatibility, as on the product ISO. Then the installation guide's
Appendix A runs inside the root with the sample's own rpm and yum; Appendix B (the sample's
curl and rpm --import of a URL too) against the online repository tree `buildiso build`
wrote, served over HTTP on 127.0.0.1:80 inside a network namespace of the test's own (the
root's /etc/hosts names the vendor's host there).
Every command runs in a new network namespace: nothing leaves the machine.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from rpm_factory import build_rpm

from buildiso.compose import online
from buildiso.sample.base import CONFLICTING, SampleBase

pytestmark = [
    pytest.mark.integration,
    pytest.mark.skipif(os.geteuid() != 0, reason="chroot and bind mounts need root"),
]

REPO_CONF = "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
VENDOR_HOST = "repo.clearswift.net"  # the sample's cs-email.repo baseurl (and the guide's)
_SERVE = (
    "ip link set lo up && "
    "python3 -m http.server 80 --bind 127.0.0.1 --directory \"$ONLINE\" 2>>\"$HTTP_LOG\" & "
    "for i in $(seq 100); do "
    "  curl -fs -o /dev/null http://127.0.0.1/ && break; sleep 0.1; "
    "done; "
)


def _guest(
    root: Path, script: str, *, online_tree: Path | None = None, http_log: Path | None = None
) -> subprocess.CompletedProcess[str]:
    """``script`` in the sample's /bin/sh inside ``root``, with /dev and /proc as a booted
    system has them (gpgme spawns gpg through /dev/null; busybox needs /proc/self/exe), in a
    network namespace of its own: only loopback, and with ``online_tree`` an HTTP server
    on 127.0.0.1:80 serving it (Appendix B's vendor host, as the root's /etc/hosts says)."""
    serve = _SERVE if online_tree is not None else ""
    mount = (
        f"{serve}mount --bind /dev {root}/dev && mount -t proc proc {root}/proc && "
        f"chroot {root} /usr/bin/env -i PATH=/sbin:/bin:/usr/sbin:/usr/bin HOME=/root "
        f"/bin/sh -l -c \"$0\""
    )
    env = {**os.environ, "ONLINE": str(online_tree or ""), "HTTP_LOG": str(http_log or "")}
    return subprocess.run(
        # --pid --fork: the HTTP server dies with the namespace's first process
        ["unshare", "--net", "--mount", "--pid", "--fork", "--propagation", "private",
         "sh", "-c", mount, script],
        capture_output=True, text=True, check=False, env=env,
    )  # fmt: skip


def _ok(root: Path, script: str, **served: Path) -> str:
    proc = _guest(root, script, **served)
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
    assert all(f"{r}" in listing for r in ("cs-media", "cs-email"))
    assert "enabled" not in listing.replace("disabled", "")  # all cs-* disabled afterwards
    # --enablerepo=cs-* enabled the online repository too, offline: skipped, not fatal
    assert "Failed to download metadata for repo 'cs-email'" in out
    assert "Ignoring repositories: cs-email" in out


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


# --- Appendix B: the online repository ---------------------------------------------------


@pytest.fixture(scope="module")
def online_tree(built_iso: Path) -> Path:
    """The document root `buildiso build` wrote next to the session's ISO."""
    tree = built_iso.with_name(online.folder_name(built_iso.stem))
    assert (tree / online.REPO_PATH / "repodata" / "repomd.xml").is_file()
    return tree


@pytest.fixture()
def server(root: Path) -> Path:
    """A Minimal server with no media mounted, whose /etc/hosts names the vendor's host."""
    shutil.rmtree(root / "media/os/cs-repo")
    with (root / "etc/hosts").open("a") as hosts:
        hosts.write(f"127.0.0.1 {VENDOR_HOST}\n")
    return root


def _appendix_b_steps_1_to_3(server: Path, online_tree: Path, key_id: str, log: Path) -> None:
    """curl and rpm --import as the guide prints them, by the sample's own curl (and rpm,
    which fetches a URL through curl as RHEL 6's does), the vendor's host resolved by the
    root's /etc/hosts; then rpm --checksig and rpm -ivh."""
    base = f"http://{VENDOR_HOST}"
    _ok(server, f"cd /root && curl --get --remote-name {base}/{online.REPO_PATH}/Packages/"
        f"{REPO_CONF} && rpm --import {base}/{online.PUBLIC_KEY_NAME}",
        online_tree=online_tree, http_log=log)  # fmt: skip
    checked = _ok(server, f"cd /root && rpm --checksig --verbose {REPO_CONF}")
    assert re.search(rf"Signature, key ID {key_id}: OK", checked), checked
    _ok(server, f"cd /root && rpm -ivh {REPO_CONF}")


def test_appendix_b_installs_from_the_online_repository(
    server: Path, online_tree: Path, sample_base: SampleBase, tmp_path: Path
) -> None:
    log = tmp_path / "http.log"
    _appendix_b_steps_1_to_3(server, online_tree, sample_base.key_id, log)
    _ok(server, "yum remove -y postfix rsyslog samba-common")
    out = _ok(server, "yum install -y cs-email --enablerepo=cs-*",
              online_tree=online_tree, http_log=log)  # fmt: skip
    names = _installed(server)
    assert {"cs-email", "cs-email-core", "cs-email-web", "cs-email-syslog"} <= names
    assert set(CONFLICTING).isdisjoint(names)
    # from the online repository, over HTTP; the media repository (none mounted) skipped
    installed = _ok(server, "yum list installed 'cs-email*'")
    assert re.search(r"^cs-email\.x86_64 +4\.9\.0-190 +@cs-email$", installed, re.M), installed
    assert "Ignoring repositories: cs-media" in out
    requests = log.read_text()
    for path in ("/it-pub.key", f"/{online.REPO_PATH}/repodata/repomd.xml",
                 f"/{online.REPO_PATH}/Packages/cs-email-4.9.0-190.x86_64.rpm"):
        assert f'"GET {path} HTTP/1.1" 200' in requests, path  # fmt: skip
    listing = _ok(server, "yum repolist --all")
    assert "enabled" not in listing.replace("disabled", "")  # as the package defines them


def test_appendix_b_needs_the_media_repository_to_skip_itself(
    server: Path, online_tree: Path, sample_base: SampleBase, tmp_path: Path
) -> None:
    """RHEL 6's yum stops at an enabled repository it cannot reach; so does the sample's,
    so cs-media.repo's skip_if_unavailable=1 is what lets Appendix B run without media."""
    log = tmp_path / "http.log"
    _appendix_b_steps_1_to_3(server, online_tree, sample_base.key_id, log)
    _ok(server, "yum remove -y postfix rsyslog samba-common")
    media = server / "etc/yum.repos.d/cs-media.repo"
    media.write_text(media.read_text().replace("skip_if_unavailable=1\n", ""))
    proc = _guest(server, "yum install -y cs-email --enablerepo=cs-*",
                  online_tree=online_tree, http_log=log)  # fmt: skip
    assert proc.returncode != 0
    assert "Failed to download metadata for repo 'cs-media'" in proc.stderr
    assert "cs-email" not in _installed(server)


def test_the_online_repository_is_defined_as_the_build_publishes_it(root: Path) -> None:
    _ok(root, f"rpm -ivh /media/os/cs-repo/Packages/{REPO_CONF}")
    repo = (root / "etc/yum.repos.d/cs-email.repo").read_text()
    assert f"baseurl=http://{VENDOR_HOST}/rhel6/gw/os/$basearch/\n" in repo
    assert str(online.REPO_PATH) == "rhel6/gw/os/x86_64"  # $basearch on the x86_64 server
    for line in ("enabled=0", "gpgcheck=1", "skip_if_unavailable=1",
                 "gpgkey=file:///etc/pki/rpm-gpg/RPM-GPG-KEY-buildiso-sample"):
        assert f"\n{line}\n" in repo, line  # fmt: skip


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
