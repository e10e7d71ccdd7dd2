"""Sample installer: repository metadata and comps read with the standard library."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from buildiso.sample.installer.guest.errors import InstallFailed
from buildiso.sample.installer.guest.repodata import (
    find_group,
    parse_comps,
    read_comps,
    read_primary,
)

COMPS = b"""<?xml version="1.0" encoding="UTF-8"?>
<comps>
  <group>
    <id>core</id>
    <name>Core</name>
    <name xml:lang="de">Kern</name>
    <packagelist>
      <packagereq type="mandatory">busybox</packagereq>
      <packagereq type="default">postfix</packagereq>
      <packagereq type="optional">extra</packagereq>
      <packagereq>kernel</packagereq>
    </packagelist>
  </group>
</comps>
"""


def test_parse_comps_kinds_and_untranslated_name() -> None:
    groups = parse_comps(COMPS, source="comps.xml")
    core = groups["core"]
    assert core.name == "Core"
    assert core.mandatory == ("busybox", "kernel")
    assert core.default == ("postfix",) and core.optional == ("extra",)
    assert find_group(groups, "CORE") is core and find_group(groups, "nothing") is None


def test_broken_comps_is_a_packages_failure() -> None:
    with pytest.raises(InstallFailed) as info:
        parse_comps(b"<comps><group>", source="media comps")
    assert info.value.klass == "packages" and "media comps" in info.value.reason


@pytest.mark.integration
def test_read_a_createrepo_c_compatibility_repo(tmp_path: Path) -> None:
    """A real repository: one RPM made with rpmbuild, createrepo_c --compatibility + comps."""
    top = tmp_path / "rpmbuild"
    spec = tmp_path / "tool.spec"
    spec.write_text(
        "Name: tool\nVersion: 1.2\nRelease: 3.el6\nSummary: t\nLicense: MIT\n"
        "BuildArch: noarch\nRequires: /bin/sh\nRequires: busybox >= 1.15\nProvides: tooling\n"
        "%description\nt\n%install\nmkdir -p %{buildroot}/usr/bin\n"
        "echo '#!/bin/sh' > %{buildroot}/usr/bin/tool\n%files\n%attr(0755,-,-) /usr/bin/tool\n"
    )
    subprocess.run(
        ["rpmbuild", "-bb", "--define", f"_topdir {top}", str(spec)],
        check=True,
        capture_output=True,
    )
    repo = tmp_path / "repo"
    (repo / "Packages").mkdir(parents=True)
    for rpm in (top / "RPMS").rglob("*.rpm"):
        rpm.rename(repo / "Packages" / rpm.name)
    (tmp_path / "comps.xml").write_bytes(COMPS)
    subprocess.run(
        [
            "createrepo_c",
            "--compatibility",
            "--quiet",
            "-g",
            str(tmp_path / "comps.xml"),
            str(repo),
        ],
        check=True,
    )
    [package] = read_primary(repo, repo_name="media")
    assert package.nvra == "tool-1.2-3.el6.noarch"
    assert package.location == repo / "Packages" / "tool-1.2-3.el6.noarch.rpm"
    assert package.location.is_file()
    assert "/usr/bin/tool" in package.files
    assert any(d.name == "tooling" for d in package.provides)
    busybox = next(d for d in package.requires if d.name == "busybox")
    assert (busybox.flags, busybox.ver) == ("GE", "1.15")
    assert read_comps(repo)["core"].mandatory == ("busybox", "kernel")


def test_missing_repomd_is_named(tmp_path: Path) -> None:
    with pytest.raises(InstallFailed) as info:
        read_primary(tmp_path, repo_name="cs-repo")
    assert "repodata/repomd.xml" in info.value.reason


def test_zstd_metadata_is_refused_with_a_hint(tmp_path: Path) -> None:
    (tmp_path / "repodata").mkdir()
    (tmp_path / "repodata/repomd.xml").write_text(
        '<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary">'
        '<location href="repodata/p.xml.zst"/></data></repomd>'
    )
    (tmp_path / "repodata/p.xml.zst").write_bytes(b"x")
    with pytest.raises(InstallFailed) as info:
        read_primary(tmp_path, repo_name="media")
    assert "--compatibility" in info.value.reason
