"""online.py: the online repository tree (Appendix B's URLs) made from a composed cs-repo/.

The whole build's tree, refereed by dnf, rpm -K and gpg, is in tests/test_build_online.py.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

import pytest
from test_repo import GATEWAY_COMPS, STAMP, gateway_rpms

from buildiso.compose import online
from buildiso.compose.repo import compose_gateway_repo, load_repo
from buildiso.errors import InputError

pytestmark = pytest.mark.integration

KEY = b"-----BEGIN PGP PUBLIC KEY BLOCK-----\n\nmQENBF...\n-----END PGP PUBLIC KEY BLOCK-----\n"


@pytest.fixture(scope="module")
def cs_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    work = tmp_path_factory.mktemp("cs-repo")
    rpms = gateway_rpms(work / "build")
    dest = work / "overlay" / "cs-repo"
    return compose_gateway_repo(rpms=rpms, dest=dest, comps=GATEWAY_COMPS, timestamp=STAMP).path


def _compose(cs_repo: Path, tmp_path: Path, *, key: bytes | None = KEY) -> online.OnlineTree:
    public_key = None
    if key is not None:
        public_key = tmp_path / "RPM-GPG-KEY-vendor"
        public_key.write_bytes(key)
    # the scratch folder: cs-repo's file system, as in a build
    dest = cs_repo.parent.parent / f"online-{tmp_path.name}"
    shutil.rmtree(dest, ignore_errors=True)
    return online.compose_online_tree(
        gateway_repo=cs_repo, public_key=public_key, dest=dest, epoch=STAMP
    )


def test_the_tree_is_the_guides_urls_over_cs_repo(cs_repo: Path, tmp_path: Path) -> None:
    tree = _compose(cs_repo, tmp_path)
    repo = tree.root / "rhel6" / "gw" / "os" / "x86_64"
    assert (tree.root / "it-pub.key").read_bytes() == KEY
    assert (repo / "Packages" / "cs-email-repo-conf-3.6.3-1.x86_64.rpm").is_file()
    # the very same repository as cs-repo/: every file, byte for byte
    ours = sorted(p.relative_to(repo).as_posix() for p in repo.rglob("*") if p.is_file())
    theirs = sorted(p.relative_to(cs_repo).as_posix() for p in cs_repo.rglob("*") if p.is_file())
    assert ours == theirs and any(r.startswith("repodata/") for r in ours)
    for rel in ours:
        assert (repo / rel).read_bytes() == (cs_repo / rel).read_bytes()
    names = sorted(p.name for p in load_repo(repo, repo_id="online"))
    assert names == ["cs-email", "cs-email-core", "cs-email-repo-conf"]
    # the manifest's files: every file with its sha256, relative to the document root
    assert sorted(tree.files) == ["it-pub.key", *(f"rhel6/gw/os/x86_64/{r}" for r in ours)]
    assert tree.files["it-pub.key"] == online.sha256_file(tree.root / "it-pub.key")
    entry = tree.manifest_entry()
    assert entry["repository"] == "rhel6/gw/os/x86_64" and entry["public_key"] == "it-pub.key"
    assert list(entry["files"]) == sorted(entry["files"])


def test_pinned_times_and_modes_and_no_second_copy(cs_repo: Path, tmp_path: Path) -> None:
    tree = _compose(cs_repo, tmp_path)
    for path in [tree.root, *tree.root.rglob("*")]:
        info = path.lstat()
        assert info.st_mtime == STAMP, path
        assert stat.S_IMODE(info.st_mode) == (0o755 if path.is_dir() else 0o644), path
    rpm = "Packages/cs-email-4.9.0-190.x86_64.rpm"
    linked = (tree.root / online.REPO_PATH / rpm).stat()
    assert linked.st_ino == (cs_repo / rpm).stat().st_ino  # hard link: no copy on disk


def test_without_a_key_no_it_pub_key(cs_repo: Path, tmp_path: Path) -> None:
    tree = _compose(cs_repo, tmp_path, key=None)
    assert not (tree.root / "it-pub.key").exists()
    assert tree.public_key is None and tree.manifest_entry()["public_key"] is None
    assert "it-pub.key" not in tree.files


def test_a_key_file_that_is_no_key_is_refused(tmp_path: Path) -> None:
    online.check_public_key(None)
    with pytest.raises(InputError, match="cannot read the public key"):
        online.check_public_key(tmp_path / "missing.key")
    with pytest.raises(InputError, match="is not a file"):
        online.check_public_key(tmp_path)
    huge = tmp_path / "huge.key"
    with huge.open("wb") as f:
        f.truncate(online.MAX_PUBLIC_KEY + 1)
    with pytest.raises(InputError, match="is no public key"):
        online.check_public_key(huge)


def test_published_intact_sees_every_change(cs_repo: Path, tmp_path: Path) -> None:
    tree = _compose(cs_repo, tmp_path)
    root, files = tree.root, dict(tree.files)
    assert online.published_intact(root, files)
    assert not online.published_intact(root, None)
    assert not online.published_intact(tmp_path / "absent", files)

    key = root / "it-pub.key"
    key.write_bytes(KEY.replace(b"mQENBF", b"mQENBG"))  # edited in place, same size
    assert not online.published_intact(root, files)
    key.write_bytes(KEY)
    assert online.published_intact(root, files)

    extra = root / online.REPO_PATH / "Packages" / "dropped-in-1-1.x86_64.rpm"
    extra.write_bytes(b"x")
    assert not online.published_intact(root, files)
    extra.unlink()

    repomd = root / online.REPO_PATH / "repodata" / "repomd.xml"
    saved = repomd.read_bytes()
    repomd.unlink()
    assert not online.published_intact(root, files)
    repomd.symlink_to(cs_repo / "repodata" / "repomd.xml")  # same bytes, through a link
    assert not online.published_intact(root, files)
    repomd.unlink()
    repomd.write_bytes(saved)
    assert online.published_intact(root, files)

    linked_root = tmp_path / "link"
    linked_root.symlink_to(root)
    assert not online.published_intact(linked_root, files)


def test_fsync_tree_reaches_every_file_and_folder_root_last(
    cs_repo: Path, tmp_path: Path
) -> None:
    tree = _compose(cs_repo, tmp_path)
    synced: list[Path] = []
    online.fsync_tree(tree.root, synced.append)
    everything = {tree.root, *tree.root.rglob("*")}
    assert set(synced) == everything and synced[-1] == tree.root
    # a folder after everything in it
    for i, path in enumerate(synced):
        assert all(os.path.commonpath([p, path]) != str(path) for p in synced[i + 1 :] if p != path)
