"""Sample installer: kickstart settings written to RHEL 6's files."""

from __future__ import annotations

import warnings
from pathlib import Path
from types import SimpleNamespace

import pytest
from pykickstart.constants import SELINUX_DISABLED, SELINUX_PERMISSIVE

from buildiso.sample.installer.guest import sysconfig
from buildiso.sample.installer.guest.errors import InstallFailed

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # crypt: still in 3.11, as in stage 2
    import crypt


def test_selinux_i18n_clock_keyboard() -> None:
    assert "SELINUX=disabled\n" in sysconfig.selinux(SELINUX_DISABLED)
    assert "SELINUX=permissive\n" in sysconfig.selinux(SELINUX_PERMISSIVE)
    assert "SELINUX=enforcing\n" in sysconfig.selinux(None)
    assert sysconfig.i18n("en_US.UTF-8").startswith('LANG="en_US.UTF-8"\n')
    assert sysconfig.clock("Europe/London", True) == 'ZONE="Europe/London"\nUTC=true\n'
    assert 'KEYTABLE="uk"' in sysconfig.keyboard("uk")


def test_plain_password_is_hashed_and_crypted_kept() -> None:
    hashed = sysconfig.hash_password("Secr3t!pass", False)
    assert hashed.startswith("$6$") and "Secr3t" not in hashed
    assert crypt.crypt("Secr3t!pass", hashed) == hashed
    assert sysconfig.hash_password("$6$abc$def", True) == "$6$abc$def"
    with pytest.raises(InstallFailed):
        sysconfig.hash_password("plaintext", True)


def _root(tmp_path: Path) -> Path:
    etc = tmp_path / "etc"
    (etc / "skel").mkdir(parents=True)
    (etc / "skel/.bashrc").write_text("# skel\n")
    (etc / "passwd").write_text("root:x:0:0:root:/root:/bin/sh\n")
    (etc / "group").write_text("root:x:0:\nwheel:x:10:root\n")
    (etc / "shadow").write_text("root:*:15000:0:99999:7:::\n")
    return tmp_path


def test_add_user_like_useradd(tmp_path: Path) -> None:
    root = _root(tmp_path)
    user = SimpleNamespace(name="cs-admin", uid=None, homedir="", shell="", groups=["wheel"],
                           password="$6$s$h", isCrypted=True, lock=False, gecos="")
    sysconfig.add_user(root, user)
    assert "cs-admin:x:500:500::/home/cs-admin:/bin/bash" in (root / "etc/passwd").read_text()
    group = (root / "etc/group").read_text()
    assert "wheel:x:10:root,cs-admin" in group and "cs-admin:x:500:" in group
    assert "cs-admin:$6$s$h:" in (root / "etc/shadow").read_text()
    assert (root / "home/cs-admin/.bashrc").is_file()
    with pytest.raises(InstallFailed):
        sysconfig.add_user(root, user)  # exists already


def test_root_password_replaced_in_shadow(tmp_path: Path) -> None:
    root = _root(tmp_path)
    sysconfig.set_shadow_password(root, "root", "$6$x$y", lock=True)
    assert (root / "etc/shadow").read_text().startswith("root:!$6$x$y:15000:")


def test_services_follow_the_chkconfig_header(tmp_path: Path) -> None:
    init = tmp_path / "etc/rc.d/init.d"
    init.mkdir(parents=True)
    (init / "sshd").write_text("#!/bin/sh\n# chkconfig: 2345 55 25\n")
    assert sysconfig.set_service(tmp_path, "sshd", True)
    rc = tmp_path / "etc/rc.d"
    assert (rc / "rc3.d/S55sshd").readlink() == Path("../init.d/sshd")
    assert (rc / "rc0.d/K25sshd").is_symlink() and not (rc / "rc3.d/K25sshd").exists()
    assert sysconfig.set_service(tmp_path, "sshd", False)
    assert (rc / "rc3.d/K25sshd").is_symlink() and not (rc / "rc3.d/S55sshd").exists()
    assert not sysconfig.set_service(tmp_path, "no-such-service", True)


def test_regenerated_kickstart_holds_no_plain_password(tmp_path: Path) -> None:
    from buildiso.sample.installer.guest import kickstart

    ks = tmp_path / "ks.cfg"
    ks.write_text("rootpw Plain!Secret1\nuser --name=bob --password=Other!Secret2\n"
                  "user --name=eve --iscrypted --password=$6$s$h\n%packages\n@core\n%end\n")
    handler = kickstart.parse(ks, first_pass=False)
    sysconfig.crypt_passwords(handler)
    text = str(handler)
    assert "Secret" not in text
    assert "rootpw --iscrypted $6$" in text and "--password=$6$s$h" in text
    assert crypt.crypt("Plain!Secret1", handler.rootpw.password) == handler.rootpw.password
