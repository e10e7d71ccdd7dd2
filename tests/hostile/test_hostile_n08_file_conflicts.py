"""Second hostile audit, N8: file conflicts inside the install set are refused, as
``rpm -i --test`` refuses them.

Before: a gateway RPM owning ``/bin/busybox`` and ``/etc/passwd`` got "no conflicts";
anaconda 13 would have stopped the install at its transaction test ("There were file
conflicts when checking the packages to be installed", ``yuminstall.py``,
``AnacondaYum.doTransaction``). Now the build reads the file lists of every package of the
install set and applies rpm's rules (``compose/fileconflicts.py``): exit 2, naming each
path and both packages.

The rules are checked case by case against rpm itself (``rpm -i --test --root`` of the two
packages on an empty root), the referee. Debian's rpm is 4.18; RHEL 6's 4.8 differs in one
way, documented and tested here: a shared path whose content, type and link target agree
but whose mode, owner or group differ is no conflict for rpm 4.8 (rpm 4.11 made it one).
buildiso takes rpm 4.8's rule between two base packages (the RHEL DVD installs as RHEL's
rpm sees it) and the stricter one whenever a gateway package is involved (it must not
change the permissions of what it shares).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from hostile.hostile_build import build_refused, rpms_with, sample_args
from rpm_factory import build_rpm

from buildiso import paths
from buildiso.sample.base import SampleBase

pytestmark = pytest.mark.integration

ELF32 = (b"\x7fELF\x01\x01\x01" + bytes(9) + bytes.fromhex(
    "02000300010000005480040834000000000000000000000034002000010000000000"
    "0100000000000000008004080080040854000000540000000500000000100000"))  # fmt: skip

# A file entry: (kind, value, mode, user, group); kinds: file (value = content), dir,
# link (value = target), ghost, elf (value "32", "64" = /bin/true, "64b" = /bin/false).
Entry = tuple[str, str, str, str, str]


def _entry(kind: str, value: str = "", mode: str = "0644", owner: str = "root") -> Entry:
    return (kind, value, mode, owner, owner)


def _package(tmp: Path, name: str, path: str, entry: Entry, *, arch: str = "x86_64") -> Path:
    kind, value, mode, user, group = entry
    target = f"%{{buildroot}}{path}"
    parent = f"mkdir -p %{{buildroot}}{str(Path(path).parent)}"
    if kind == "file":
        install = f"{parent}\nprintf '%s' '{value}' > {target}"
    elif kind == "dir":
        install = f"mkdir -p {target}"
    elif kind == "link":
        install = f"{parent}\nln -s {value} {target}"
    elif kind == "ghost":
        install = parent
    else:
        source = tmp / f"elf{value}"
        if value == "32":
            source.write_bytes(ELF32)
        else:
            shutil.copyfile("/bin/true" if value == "64" else "/bin/false", source)
        install = f"{parent}\ninstall -m {mode} {source} {target}"
    prefix = {"dir": "%dir ", "ghost": "%ghost "}.get(kind, "")
    attr = "" if kind == "link" else f"%attr({mode},{user},{group}) "
    return build_rpm(tmp / f"build-{name}-{arch}", name, arch=arch, install=install,
                     files=(f"{prefix}{attr}{path}",))  # fmt: skip


CASES: dict[str, tuple[Entry, Entry, bool, bool]] = {
    # name: (a, b, conflict when a gateway package is involved, conflict between base ones)
    "different content": (_entry("file", "one"), _entry("file", "two"), True, True),
    "identical content": (_entry("file", "same"), _entry("file", "same"), False, False),
    "directory shared": (_entry("dir", mode="0755"), _entry("dir", mode="0755"), False, False),
    "file against directory": (_entry("file", "x"), _entry("dir", mode="0755"), True, True),
    "link targets differ": (_entry("link", "/a"), _entry("link", "/b"), True, True),
    "same link target": (_entry("link", "/a"), _entry("link", "/a"), False, False),
    "link against file": (_entry("link", "/a"), _entry("file", "x"), True, True),
    "ghost against file": (_entry("ghost"), _entry("file", "x"), False, False),
    "mode differs": (_entry("file", "s", "0644"), _entry("file", "s", "0600"), True, False),
    "directory mode differs": (_entry("dir", mode="0755"), _entry("dir", mode="0700"), True,
                               False),
    "owner differs": (_entry("file", "s"), _entry("file", "s", owner="nobody"), True, False),
    "elf64 against a script": (_entry("elf", "64", "0755"), _entry("file", "#!/bin/sh", "0755"),
                               True, True),
}  # fmt: skip


def _rpm_referee(tmp: Path, *rpms: Path) -> bool:
    """rpm -i --test of ``rpms`` on an empty root: does rpm report a file conflict?"""
    root = tmp / "root"
    root.mkdir(parents=True)
    subprocess.run(["rpm", "--root", str(root), "--initdb"], check=True, capture_output=True)
    proc = subprocess.run(["rpm", "-i", "--test", "--nodeps", "--ignorearch", "--root",
                           str(root), *map(str, rpms)], capture_output=True, text=True)  # fmt: skip
    conflict = " conflicts between attempted installs of " in proc.stderr + proc.stdout
    assert conflict == (proc.returncode != 0), proc.stderr
    return conflict


def _ours(rpms: list[Path], *, gateway: bool) -> list[str]:
    from buildiso.compose.fileconflicts import file_conflicts, package_files

    return [str(c) for c in file_conflicts([package_files(p, gateway=gateway) for p in rpms])]


@pytest.mark.parametrize("case", sorted(CASES))
def test_conflict_rules_agree_with_rpm(case: str, tmp_path: Path) -> None:
    a, b, gateway_conflict, base_conflict = CASES[case]
    rpms = [_package(tmp_path, "pkg-a", "/opt/shared/thing", a),
            _package(tmp_path, "pkg-b", "/opt/shared/thing", b)]  # fmt: skip
    assert _rpm_referee(tmp_path, *rpms) == gateway_conflict  # rpm 4.18's verdict
    found = _ours(rpms, gateway=True)
    assert bool(found) == gateway_conflict, found
    if found:
        assert "/opt/shared/thing" in found[0] and "pkg-a-1.0-1.el6.x86_64" in found[0]
    assert bool(_ours(rpms, gateway=False)) == base_conflict  # rpm 4.8's verdict


def test_multilib_colours_resolve_to_64_bit(tmp_path: Path) -> None:
    """glibc.i686 beside glibc.x86_64: the same path holding an ELF32 and an ELF64 file is
    no conflict (rpm installs the 64-bit one on x86_64: %_transaction_color 3)."""
    rpms = [_package(tmp_path, "multi", "/usr/bin/tool", _entry("elf", "32", "0755"),
                     arch="i686"),
            _package(tmp_path, "multi", "/usr/bin/tool", _entry("elf", "64", "0755"))]
    assert not _rpm_referee(tmp_path, *rpms)
    assert _ours(rpms, gateway=True) == [] and _ours(rpms, gateway=False) == []
    # an ELF64 file and a different ELF64 file: a conflict again
    other = _package(tmp_path, "other", "/usr/bin/tool", _entry("elf", "64b", "0755"))
    assert _rpm_referee(tmp_path / "again", rpms[1], other)
    assert _ours([rpms[1], other], gateway=True)


def test_gateway_rpm_owning_base_files_is_refused(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    evil = build_rpm(tmp_path / "rpmbuild", "cs-email-extra", version="4.9.0", release="190",
                     files=("/bin/busybox", "/etc/passwd"))  # fmt: skip
    rpms = rpms_with(sample_base, tmp_path / "rpms", evil)
    profile = tmp_path / "profile.toml"
    text = paths.DEFAULT_PROFILE.read_text()
    profile.write_text(text.replace('install = ["cs-email"]',
                                    'install = ["cs-email", "cs-email-extra"]'))  # fmt: skip
    args = [*sample_args(sample_base, rpms=rpms), "--profile", str(profile)]
    error = build_refused(args, tmp_path / "out", capsys)
    assert "file conflict" in error
    extra = "cs-email-extra-4.9.0-190.x86_64"
    assert f"/bin/busybox: {extra} and busybox-1:1.15.1-21.el6.x86_64 differ in content" in error
    assert f"/etc/passwd: {extra} and setup-" in error
