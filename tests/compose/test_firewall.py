"""compose/firewall.py: an enabled firewall needs /usr/sbin/lokkit in the install set."""

from __future__ import annotations

from pathlib import Path

import pytest
from repo_factory import write_media

from buildiso import paths
from buildiso.cli import main
from buildiso.compose.firewall import enabled_firewall_line
from buildiso.compose.repo import DirReader, Group, RepoPackage
from buildiso.compose.rpmversion import Evr, Flag, Relation
from buildiso.compose.stage import install_set
from buildiso.errors import ValidationFailed
from buildiso.master.mediacheck import media_problems
from buildiso.sample.base import SampleBase

LOKKIT_LINE = 3


def _pkg(name: str, *, files: tuple[str, ...] = (), requires: tuple[str, ...] = ()) -> RepoPackage:
    return RepoPackage(
        repo="base", name=name, epoch=0, version="1.0", release="1.el6", arch="noarch",
        location=f"Packages/{name}-1.0-1.el6.noarch.rpm",
        requires=tuple(Relation.parse(r) for r in requires),
        provides=(Relation(name, Flag.EQ, Evr(0, "1.0", "1.el6")),),
        conflicts=(), obsoletes=(), files=files,
    )  # fmt: skip


def _media(tmp_path: Path, *, with_lokkit: bool = True) -> Path:
    packages = [_pkg("bash", files=("/bin/bash",)), _pkg("python", files=("/usr/bin/python",))]
    if with_lokkit:
        packages.append(_pkg("system-config-firewall-base", files=("/usr/sbin/lokkit",),
                             requires=("python",)))  # fmt: skip
    groups = [Group("core", "Core", ("bash",), (), (), ()),
              Group("base", "Base", (), ("system-config-firewall-base",), (), ())]  # fmt: skip
    return write_media(tmp_path / "media", packages, groups)


def _ks(firewall: str, packages: str = "@core") -> str:
    head = "lang en_US.UTF-8\nrootpw --iscrypted x\n"
    return f"{head}{firewall}\n%packages --nobase\n{packages}\n%end\n"


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("firewall --enabled --port=22:tcp\n", 1),
        ("firewall --port=22:tcp\n", 1),  # --enabled is the default
        ("firewall --disabled\n", None),
        ("firewall --disabled --enabled\n", 1),  # the last one wins
        ("firewall --enabled\nfirewall --disable\n", None),  # the last command wins
        ("firewall --disabled\nfirewall --enable\n", 2),
        ("# firewall --enabled\n", None),
        ("%post\nfirewall --enabled\n%end\n", None),  # script text, not a command
        ("%packages\n%end\nfirewall --enabled\n", 3),
        ("lang C\n", None),
    ],
)
def test_enabled_firewall_line(text: str, line: int | None) -> None:
    assert enabled_firewall_line(text) == line


def _problems(tmp_path: Path, ks: str, *, with_lokkit: bool = True) -> list[str]:
    with pytest.raises(ValidationFailed) as caught:
        install_set(DirReader(_media(tmp_path, with_lokkit=with_lokkit)), ks,
                    allow_unresolved=False)  # fmt: skip
    assert caught.value.exit_code == 2
    return caught.value.problems


def test_firewall_without_lokkit_refused_naming_the_package(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _ks("firewall --enabled --port=22:tcp"))
    assert problems == [
        f"ks.cfg:{LOKKIT_LINE}: firewall needs /usr/sbin/lokkit on the installed system (anaconda "
        "runs it to open the ports) and no package of the install set provides it: add "
        "system-config-firewall-base to %packages"
    ]


def test_lokkit_excluded_in_packages(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _ks("firewall --port=22:tcp", "@core\n-system-config-*"))
    assert len(problems) == 1
    assert problems[0].endswith("%packages must not exclude system-config-firewall-base (line 6)")


def test_media_without_lokkit(tmp_path: Path) -> None:
    problems = _problems(tmp_path, _ks("firewall --port=22:tcp"), with_lokkit=False)
    assert len(problems) == 1 and "/usr/sbin/lokkit" in problems[0]
    assert problems[0].endswith(
        "add system-config-firewall-base to %packages (system-config-firewall-base is not on "
        "the media either)"
    )


@pytest.mark.parametrize(
    ("firewall", "packages"),
    [
        ("firewall --enabled --port=22:tcp", "@core\nsystem-config-firewall-base"),
        ("firewall --enabled --port=22:tcp", "@core\n@base"),  # @base brings it
        ("firewall --disabled", "@core"),  # nothing to open: no lokkit needed
        ("", "@core"),
    ],
)
def test_lokkit_in_the_install_set_or_not_needed(
    tmp_path: Path, firewall: str, packages: str
) -> None:
    closure = install_set(DirReader(_media(tmp_path)), _ks(firewall, packages),
                          allow_unresolved=False)  # fmt: skip
    assert ("system-config-firewall-base" in closure.names) == ("firewall-base" in packages
                                                                or "@base" in packages)


def test_validate_media_reports_it_too(tmp_path: Path) -> None:
    media = _media(tmp_path)
    problems = media_problems(_ks("firewall --port=22:tcp"), filename="my.ks", tree=media)
    assert len(problems) == 1 and problems[0].startswith(f"my.ks:{LOKKIT_LINE}: firewall needs")
    assert media_problems(_ks("firewall --port=22:tcp", "@core\nsystem-config-firewall-base"),
                          filename="my.ks", tree=media) == []  # fmt: skip


@pytest.mark.integration
def test_build_refuses_a_profile_that_removes_lokkit(
    sample_base: SampleBase, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    profile = tmp_path / "profile.toml"
    text = paths.DEFAULT_PROFILE.read_text()
    removed = '"samba-common", "system-config-firewall-base"]'
    profile.write_text(text.replace('"samba-common"]', removed))
    assert profile.read_text() != text
    out = tmp_path / "out"
    out.mkdir()
    args = ["build", "--base", str(sample_base.tree), "--gateway-rpms",
            str(sample_base.gateway_rpms), "--gpg-key", str(sample_base.gpg_public_key),
            "--key-id", sample_base.key_id, "--profile", str(profile), "--out", str(out)]
    assert main(args) == 2
    lines = [ln for ln in capsys.readouterr().err.splitlines() if "/usr/sbin/lokkit" in ln]
    assert len(lines) == 1
    assert lines[0].startswith("ks.cfg:")
    assert "%packages must not exclude system-config-firewall-base" in lines[0]
    assert list(out.iterdir()) == []
