"""A real client referees the install set: Debian's dnf must pick exactly the same packages.

On the sample ISO (extracted with xorriso) against the build's manifest, and on a DVD-scale
synthetic base (~3,700 packages, tests/dvd_factory.py) against resolve_install_set.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from dnf_referee import dnf_resolve, manifest_install_set, parse_transaction
from dvd_factory import KICKSTART, dvd_tree

from buildiso.compose.depsolve import resolve_install_set
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import load_media


def test_transaction_table_parsing_joins_wrapped_rows() -> None:
    output = (
        "Installing:\n"
        " cs-email                   x86_64    4.9.0-190                cs-repo    6.7 k\n"
        "Installing group/module packages:\n"
        " a-package-name-far-too-long-for-the-column\n"
        "                            noarch    1:2.0-3.el6              base       5.7 k\n"
        "Installing Groups:\n"
        " Core                                                                          \n"
        "\n"
        "Transaction Summary\n"
    )
    assert parse_transaction(output) == {
        ("cs-email", "4.9.0-190", "x86_64"),
        ("a-package-name-far-too-long-for-the-column", "1:2.0-3.el6", "noarch"),
    }


@pytest.mark.integration
def test_dnf_installs_the_manifest_install_set_from_the_sample_iso(
    built_iso: Path, tmp_path: Path
) -> None:
    tree = tmp_path / "iso"
    subprocess.run(
        ["xorriso", "-osirrox", "on", "-indev", str(built_iso), "-extract", "/", str(tree)],
        check=True,
        capture_output=True,
    )
    manifest = json.loads((built_iso.parent / "EMAIL_490_190.manifest.json").read_text())
    dnf = dnf_resolve(tree=tree, ks_text=(tree / "ks.cfg").read_text(), workdir=tmp_path / "dnf")
    assert dnf.install_set == manifest_install_set(manifest)
    assert {"cs-email", "cs-email-core", "kernel"} <= {name for name, _, _ in dnf.install_set}


@pytest.fixture(scope="module")
def dvd() -> Path:
    return dvd_tree()


@pytest.mark.integration
def test_dnf_agrees_on_a_dvd_scale_base(dvd: Path, tmp_path: Path) -> None:
    media = load_media(dvd)
    assert 3600 <= len(list(media.pool.solvables_iter())) <= 3800
    closure = resolve_install_set(ks_packages=parse_packages(KICKSTART), media=media)
    assert closure.ok, closure.problems(filename="ks.cfg")
    ours = {(p.name, str(p.evr), p.arch) for p in closure.packages}
    dnf = dnf_resolve(tree=dvd, ks_text=KICKSTART, workdir=tmp_path / "dnf")
    assert ours == dnf.install_set, (sorted(ours - dnf.install_set), sorted(dnf.install_set - ours))
    # The hard parts were really exercised, not avoided:
    by_name: dict[str, list[tuple[str, str]]] = {}
    for name, evr, arch in ours:
        by_name.setdefault(name, []).append((evr, arch))
    assert "sysklogd" not in by_name and "rsyslog" in by_name  # @core's obsoleted member
    assert ("1.0-1.el6", "i686") in by_name["lib0020"]  # a 32-bit soname: the i686 copy
    assert sorted(by_name["lib0007"]) == [("1.0-1.el6", "i686"), ("1.0-1.el6", "x86_64")]
    assert by_name["lib0100"] == [("1.0-1.el6", "x86_64")]  # pinned older version
    assert "sendmail" not in by_name and "app1900" not in by_name  # the exclusions
    assert "data0003" in by_name  # a file only filelists.xml knows
    assert sum(arch == "i686" for _, _, arch in ours) >= 2
    assert len(ours) > 1000


@pytest.mark.integration
def test_both_refuse_the_conflict_the_exclusion_avoided(dvd: Path, tmp_path: Path) -> None:
    kickstart = KICKSTART.replace("-sendmail\n", "")
    closure = resolve_install_set(ks_packages=parse_packages(kickstart), media=load_media(dvd))
    assert [str(c).split(" (")[0] for c in closure.conflicts] == ["cs-gw conflicts with sendmail"]
    with pytest.raises(AssertionError, match="conflicts with sendmail"):
        dnf_resolve(tree=dvd, ks_text=kickstart, workdir=tmp_path / "dnf")
