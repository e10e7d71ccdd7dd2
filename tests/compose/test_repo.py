"""repo.py: the gateway repo made by createrepo_c, and the repodata/comps readers."""

from __future__ import annotations

import bz2
import shutil
import sqlite3
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import solv
from rpm_factory import build_rpm
from test_comps import RHEL6_COMPS

from buildiso import paths
from buildiso.compose.repo import (
    GATEWAY_REPO_DIR,
    compose_gateway_repo,
    load_media,
    load_repo,
)
from buildiso.compose.rpmversion import Relation
from buildiso.errors import InputError

pytestmark = pytest.mark.integration

GATEWAY_COMPS = paths.COMPS_DIR / "cs-email-comps.xml"
STAMP = 1_700_000_000


def gateway_rpms(workdir: Path) -> list[Path]:
    """cs-email + cs-email-repo-conf, copied under names that are not canonical."""
    built = [
        build_rpm(
            workdir,
            "cs-email",
            version="4.9.0",
            release="190",
            requires=("cs-email-core",),
            conflicts=("postfix",),
        ),
        build_rpm(
            workdir,
            "cs-email-repo-conf",
            version="3.6.3",
            release="1",
            files=("/etc/yum.repos.d/cs-email.repo",),
        ),
        build_rpm(workdir, "cs-email-core", version="4.9.0", release="190"),
    ]
    incoming = workdir / "incoming"
    incoming.mkdir()
    return [Path(shutil.copy(p, incoming / f"download-{i}.rpm")) for i, p in enumerate(built)]


def test_compose_gateway_repo(tmp_path: Path) -> None:
    rpms = gateway_rpms(tmp_path / "build")
    repo = compose_gateway_repo(
        rpms=rpms, dest=tmp_path / "tree" / GATEWAY_REPO_DIR, comps=GATEWAY_COMPS, timestamp=STAMP
    )
    conf = tmp_path / "tree" / "cs-repo" / "Packages" / "cs-email-repo-conf-3.6.3-1.x86_64.rpm"
    assert conf.is_file()
    assert repo.package_path("cs-email-repo-conf") == conf
    assert sorted(p.name for p in (repo.path / "Packages").iterdir()) == [
        "cs-email-4.9.0-190.x86_64.rpm",
        "cs-email-core-4.9.0-190.x86_64.rpm",
        "cs-email-repo-conf-3.6.3-1.x86_64.rpm",
    ]
    assert conf.stat().st_mtime == STAMP
    # No staging directory is left next to the result.
    assert [p.name for p in (tmp_path / "tree").iterdir()] == ["cs-repo"]

    root = ET.parse(repo.repomd).getroot()
    ns = {"r": "http://linux.duke.edu/metadata/repo"}
    types = {d.get("type"): d for d in root.findall("r:data", ns)}
    assert {"primary", "filelists", "other", "primary_db", "group"} <= set(types)
    assert root.findtext("r:revision", namespaces=ns) == str(STAMP)
    # gzip XML (RHEL 6 yum cannot read zstd) ...
    primary_href = types["primary"].find("r:location", ns).get("href")  # type: ignore[union-attr]
    assert primary_href.endswith(".xml.gz")
    # ... and the sqlite database RHEL 6 yum actually uses.
    db_href = types["primary_db"].find("r:location", ns).get("href")  # type: ignore[union-attr]
    assert db_href.endswith(".sqlite.bz2")
    assert types["primary_db"].findtext("r:database_version", namespaces=ns) == "10"
    db_file = tmp_path / "primary.sqlite"
    db_file.write_bytes(bz2.decompress((repo.path / db_href).read_bytes()))
    with sqlite3.connect(db_file) as db:
        names = sorted(row[0] for row in db.execute("SELECT name FROM packages"))
        conflicts = list(db.execute("SELECT name FROM conflicts"))
        # yum 3.2.29 (RHEL 6) only uses a database whose dbinfo says version 10.
        (dbversion,) = db.execute("SELECT dbversion FROM db_info").fetchone()
    assert names == ["cs-email", "cs-email-core", "cs-email-repo-conf"]
    assert conflicts == [("postfix",)]
    assert dbversion == 10

    packages = {p.name: p for p in load_repo(repo.path, repo_id="cs-repo")}
    assert packages["cs-email"].location == "Packages/cs-email-4.9.0-190.x86_64.rpm"
    assert Relation("cs-email-core") in packages["cs-email"].requires
    assert packages["cs-email"].conflicts == (Relation("postfix"),)
    assert packages["cs-email-repo-conf"].files == ("/etc/yum.repos.d/cs-email.repo",)
    assert packages["cs-email"].repo == "cs-repo"


def test_compose_is_reproducible(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rpms = gateway_rpms(tmp_path / "build")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", str(STAMP))
    first = compose_gateway_repo(rpms=rpms, dest=tmp_path / "a" / "cs-repo", comps=GATEWAY_COMPS)
    second = compose_gateway_repo(rpms=rpms, dest=tmp_path / "b" / "cs-repo", comps=GATEWAY_COMPS)

    def snapshot(root: Path) -> dict[str, tuple[bytes, int]]:
        return {
            p.relative_to(root).as_posix(): (p.read_bytes(), int(p.stat().st_mtime))
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert snapshot(first.path) == snapshot(second.path)
    assert first.repomd.stat().st_mtime == STAMP


def test_compose_replaces_old_repo_and_defaults_to_build_time(tmp_path: Path) -> None:
    rpms = gateway_rpms(tmp_path / "build")
    dest = tmp_path / "cs-repo"
    (dest / "Packages").mkdir(parents=True)
    (dest / "Packages" / "stale-1-1.x86_64.rpm").write_text("old")
    repo = compose_gateway_repo(rpms=rpms, dest=dest, comps=None)
    assert not (dest / "Packages" / "stale-1-1.x86_64.rpm").exists()
    # No SOURCE_DATE_EPOCH: derived from the packages (their build time), not the clock.
    assert int(repo.repomd.stat().st_mtime) == max(p.build_time for p in repo.packages)


def test_bad_inputs_leave_nothing(tmp_path: Path) -> None:
    rpms = gateway_rpms(tmp_path / "build")
    bad = tmp_path / "build" / "incoming" / "cs-broken.rpm"
    bad.write_bytes(rpms[0].read_bytes()[:200])
    dest = tmp_path / "tree" / "cs-repo"
    with pytest.raises(InputError, match="cs-broken.rpm"):
        compose_gateway_repo(rpms=[*rpms, bad], dest=dest, comps=GATEWAY_COMPS, timestamp=STAMP)
    assert not dest.exists()
    with pytest.raises(InputError, match="both cs-email-4.9.0-190.x86_64"):
        compose_gateway_repo(
            rpms=[*rpms, Path(shutil.copy(rpms[0], tmp_path / "again.rpm"))],
            dest=dest,
            comps=None,
            timestamp=STAMP,
        )
    # The gateway comps group names a package that is not given.
    with pytest.raises(InputError, match=r"cs-email-repo-conf \(group cs-email\)"):
        compose_gateway_repo(rpms=rpms[:1], dest=dest, comps=GATEWAY_COMPS, timestamp=STAMP)
    with pytest.raises(InputError, match="no gateway RPMs"):
        compose_gateway_repo(rpms=[], dest=dest, comps=None, timestamp=STAMP)
    assert not (tmp_path / "tree").exists() or list((tmp_path / "tree").iterdir()) == []


def make_base_repo(tree: Path, build: Path) -> None:
    (tree / "Packages").mkdir(parents=True)
    for rpm in (
        build_rpm(build, "bash", files=("/bin/bash", "/bin/sh")),
        build_rpm(build, "postfix", version="2.6.6", release="8.el6"),
        build_rpm(build, "rsyslog", version="5.8.10", release="12.el6"),
    ):
        shutil.copy(rpm, tree / "Packages")
    comps = build / "comps-rhel6-Server.xml"
    comps.write_text(RHEL6_COMPS)
    subprocess.run(
        ["createrepo_c", "--compatibility", "--quiet", "-g", str(comps), str(tree)], check=True
    )


def test_load_media_base_and_gateway(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    make_base_repo(tree, tmp_path / "build")
    media = load_media(tree)
    assert media.repo_ids == ("base",)
    compose_gateway_repo(
        rpms=gateway_rpms(tmp_path / "gw"), dest=tree / "cs-repo", comps=GATEWAY_COMPS,
        timestamp=STAMP,
    )  # fmt: skip
    media = load_media(tree)
    assert media.repo_ids == ("base", "cs-repo")
    repos = {p.name: p.repo for p in media.packages}
    assert repos["bash"] == "base" and repos["cs-email"] == "cs-repo"
    assert sorted(media.groups) == ["base", "core", "cs-email"]
    assert "/bin/sh" in next(p for p in media.packages if p.name == "bash").files
    # libsolv read filelists too: files primary.xml leaves out are known and provided.
    postfix = next(p for p in media.packages if p.name == "postfix")
    assert "/usr/share/postfix/README" in postfix.files
    by_file = solv.Selection.SELECTION_FILELIST
    owners = media.pool.select("/usr/share/postfix/README", by_file).solvables()
    assert [s.name for s in owners] == ["postfix"]
    assert media.pool.select("/nowhere", by_file).isempty()


def test_load_repo_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="repodata/repomd.xml not found"):
        load_repo(tmp_path)
    # Newer createrepo_c's default is zstd, which RHEL 6 yum cannot read: we say so.
    (tmp_path / "repodata").mkdir()
    (tmp_path / "repodata" / "repomd.xml").write_text(
        '<repomd xmlns="http://linux.duke.edu/metadata/repo"><data type="primary">'
        '<location href="repodata/primary.xml.zst"/></data></repomd>'
    )
    (tmp_path / "repodata" / "primary.xml.zst").write_bytes(b"\x28\xb5\x2f\xfd")
    with pytest.raises(InputError, match="--compatibility"):
        load_repo(tmp_path)
    (tmp_path / "repodata" / "repomd.xml").write_text("<repomd")
    with pytest.raises(InputError, match="repomd.xml: not valid XML"):
        load_repo(tmp_path)
