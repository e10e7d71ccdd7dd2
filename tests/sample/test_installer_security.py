"""Sample installer: the selinux setting through the installed system's lokkit, as
anaconda-13.21.263's security.py ``Security.write()`` does it (never writing the file
itself)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from buildiso.sample.installer.guest import kickstart, security, sysconfig

POLICY_DEFAULT = "SELINUX=enforcing\nSELINUXTYPE=targeted\n"  # as the packages leave it


def _parsed(tmp_path: Path, lines: str) -> object:
    ks = tmp_path / "ks.cfg"
    ks.write_text(f"install\n{lines}\n%packages\n@core\n%end\n")
    return kickstart.parse(ks, first_pass=False)


@pytest.mark.parametrize(
    ("line", "boot", "expected"),
    [
        ("selinux --permissive", {}, "permissive"),
        ("selinux --disabled", {}, "disabled"),
        ("selinux --enforcing", {"selinux": "0"}, "enforcing"),  # the kickstart wins
        ("", {}, "enforcing"),  # Security(): flags.selinux is on by default
        ("", {"selinux": "0"}, "disabled"),  # the loader passes --noselinux
        ("", {"selinux": "1"}, "enforcing"),
    ],
)
def test_mode_as_anaconda_picks_it(
    tmp_path: Path, line: str, boot: dict[str, str], expected: str
) -> None:
    said: list[str] = []
    handler = _parsed(tmp_path, line)
    assert security.mode(handler.selinux, boot, said.append) == expected  # type: ignore[attr-defined]
    assert said == []


def test_a_bare_selinux_line_disables_selinux(tmp_path: Path) -> None:
    """pykickstart leaves the mode unset; Security.setSELinux logs it and takes disabled."""
    said: list[str] = []
    handler = _parsed(tmp_path, "selinux")
    assert security.mode(handler.selinux, {}, said.append) == "disabled"  # type: ignore[attr-defined]
    assert said == ["Error: Tried to set to invalid SELinux state: None (line 2: a selinux line "
                    "without --enforcing, --permissive or --disabled disables SELinux, as "
                    "anaconda 13)"]  # fmt: skip


class _Runner:
    def __init__(self, *, code: int = 0, out: str = "") -> None:
        self.calls: list[list[str]] = []
        self.code, self.out = code, out

    def __call__(self, root: Path, argv: list[str]) -> subprocess.CompletedProcess[str]:
        self.calls.append(argv)
        return subprocess.CompletedProcess(argv, self.code, self.out, "")


def test_lokkit_gets_anacondas_arguments_and_its_status_is_only_logged(tmp_path: Path) -> None:
    said: list[str] = []
    runner = _Runner(code=1, out="Failed to write selinux configuration.\n")
    security.write(tmp_path, "permissive", said.append, run=runner)
    assert runner.calls == [["/usr/sbin/lokkit", "--quiet", "--nostart", "--selinux=permissive"]]
    assert said == ["lokkit: Failed to write selinux configuration.",
                    "lokkit exited with status 1"]  # fmt: skip


@pytest.mark.skipif(os.geteuid() != 0, reason="chroot needs root")
def test_without_lokkit_the_file_stays_as_the_packages_left_it(tmp_path: Path) -> None:
    """The whole settings step on a target without lokkit (real chroot): the installer no
    longer writes /etc/selinux/config itself, so 'selinux --disabled' leaves the packages'
    enforcing file and an error line, as on RHEL 6."""
    root = tmp_path / "sysimage"
    (root / "etc/selinux").mkdir(parents=True)
    (root / "etc/sysconfig").mkdir()
    (root / "etc/selinux/config").write_text(POLICY_DEFAULT)
    handler = _parsed(tmp_path, "selinux --disabled\nfirewall --disabled")
    said: list[str] = []
    sysconfig.apply(root, handler, said.append)
    assert (root / "etc/selinux/config").read_text() == POLICY_DEFAULT
    assert [s for s in said if "SELinux" in s] == [
        "Error: lokkit run failed: No such file or directory (SELinux not set to disabled: "
        "/etc/selinux/config stays as the packages left it)"]
