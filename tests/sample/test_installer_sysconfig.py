"""Sample installer: kickstart settings written to RHEL 6's files."""

from __future__ import annotations

import ast
import subprocess
import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from buildiso.sample.installer import guest
from buildiso.sample.installer.guest import sysconfig
from buildiso.sample.installer.guest.errors import InstallFailed


def _openssl_agrees(password: str, hashed: str) -> bool:
    """OpenSSL's SHA-512 crypt (a third party) gives the same hash for the same salt."""
    salt = hashed.split("$")[2]
    out = subprocess.run(["openssl", "passwd", "-6", "-salt", salt, "-stdin"], input=password,
                         capture_output=True, text=True, check=True).stdout.strip()
    return out == hashed


def test_guest_code_never_imports_crypt() -> None:
    """The crypt module is gone in Python 3.13 (issue #22): stage 2 hashes with buildiso's
    pure-Python SHA-512 crypt."""
    package = Path(guest.__file__).parent
    for module in sorted(package.glob("*.py")):
        for node in ast.walk(ast.parse(module.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            assert "crypt" not in names, module.name


def test_i18n_clock_keyboard() -> None:
    assert sysconfig.i18n("en_US.UTF-8").startswith('LANG="en_US.UTF-8"\n')
    assert sysconfig.clock("Europe/London", True) == 'ZONE="Europe/London"\nUTC=true\n'
    assert 'KEYTABLE="uk"' in sysconfig.keyboard("uk")


def test_plain_password_is_hashed_and_crypted_kept() -> None:
    hashed = sysconfig.hash_password("Secr3t!pass", False)
    assert hashed.startswith("$6$") and "Secr3t" not in hashed
    assert _openssl_agrees("Secr3t!pass", hashed) and len(hashed.split("$")[2]) == 16
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
    # the last change is today, as libuser 0.56 sets it: PAM does not demand a new one
    today = int(time.time()) // 86400  # read after the call: midnight may have passed
    entry = next(r for r in (root / "etc/shadow").read_text().split("\n") if "cs-admin" in r)
    assert entry.startswith("cs-admin:$6$s$h:") and int(entry.split(":")[2]) in (today - 1, today)
    assert (root / "home/cs-admin/.bashrc").is_file()
    # as libuser: an existing user is not created again, and that is no failure
    before = (root / "etc/passwd").read_text()
    [warning] = sysconfig.add_user(root, user)
    assert "exists already" in warning and (root / "etc/passwd").read_text() == before


def test_add_user_leaves_out_missing_groups_and_add_group(tmp_path: Path) -> None:
    root = _root(tmp_path)
    group = SimpleNamespace(name="mailadm", gid=None)
    assert sysconfig.add_group(root, group) is None
    assert "mailadm:x:500:" in (root / "etc/group").read_text()
    assert "exists already" in (sysconfig.add_group(root, group) or "")
    user = SimpleNamespace(name="bob", uid=None, homedir="", shell="", groups=["nope",
                                                                              "mailadm"],
                           password="", isCrypted=False, lock=False, gecos="")
    [warning] = sysconfig.add_user(root, user)
    assert "group nope does not exist" in warning
    text = (root / "etc/group").read_text()
    assert "mailadm:x:500:bob" in text and "bob:x:501:" in text
    assert "bob:!!:" in (root / "etc/shadow").read_text()  # no password: libuser's locked


def test_authconfig_missing_on_the_installed_system_is_only_a_warning(tmp_path: Path) -> None:
    warning = sysconfig.run_authconfig(tmp_path, "--enableshadow --passalgo=sha512")
    assert warning is not None and "usr/sbin/authconfig is not on the installed system" in warning
    assert not (tmp_path / "etc/sysconfig/authconfig").exists()


def test_root_password_replaced_in_shadow(tmp_path: Path) -> None:
    root = _root(tmp_path)
    sysconfig.set_shadow_password(root, "root", "$6$x$y", lock=True)
    # libuser's setpass makes the last change today (not 15000, not 0: not expired)
    today = int(time.time()) // 86400
    entry = (root / "etc/shadow").read_text().split(":")
    assert entry[:2] == ["root", "!$6$x$y"] and int(entry[2]) in (today - 1, today)


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
                  "user --name=eve --iscrypted --password=$6$s$h\n"
                  "sshpw --username=root --plaintext Ssh!Secret3\n"
                  "bootloader --location=mbr --password=Grub!Secret4\n%packages\n@core\n%end\n")
    handler = kickstart.parse(ks, first_pass=False)
    sysconfig.crypt_passwords(handler)
    text = str(handler)
    assert "Secret" not in text
    assert "rootpw --iscrypted $6$" in text and "--password=$6$s$h" in text
    assert _openssl_agrees("Plain!Secret1", handler.rootpw.password)
    assert _openssl_agrees("Grub!Secret4", handler.bootloader.password)


def test_plain_passwords_with_md5_are_md5_crypt_and_sha256_is_refused(tmp_path: Path) -> None:
    """users.py cryptPassword with getPassAlgo's md5 (--enablemd5 or --passalgo=md5): $1$,
    OpenSSL agreeing; root and users only (the boot loader's stays $6$, as booty)."""
    from buildiso.sample.installer.guest import kickstart

    ks = tmp_path / "ks.cfg"
    ks.write_text("rootpw Plain!Secret1\nuser --name=a --password=Pw2\nauth --enablemd5\n"
                  "bootloader --password=Grub3\n")  # fmt: skip
    handler = kickstart.parse(ks, first_pass=False)
    sysconfig.crypt_passwords(handler)
    root, user = handler.rootpw.password, handler.user.userList[0].password
    assert root.startswith("$1$") and len(root.split("$")[2]) == 8
    assert subprocess.run(["openssl", "passwd", "-1", "-salt", root.split("$")[2], "-stdin"],
                          input="Plain!Secret1", capture_output=True, text=True,
                          check=True).stdout.strip() == root  # fmt: skip
    assert user.startswith("$1$") and handler.bootloader.password.startswith("$6$")
    ks.write_text("rootpw Plain!Secret1\nauthconfig --enableshadow --passalgo=sha256\n")
    with pytest.raises(InstallFailed) as info:
        sysconfig.crypt_passwords(kickstart.parse(ks, first_pass=False))
    assert info.value.reason.startswith("unsupported: authconfig --passalgo=sha256 at line 2")
    ks.write_text("rootpw --iscrypted $5$ab$cd\nauthconfig --enableshadow --passalgo=sha256\n")
    sysconfig.crypt_passwords(kickstart.parse(ks, first_pass=False))  # nothing to hash
