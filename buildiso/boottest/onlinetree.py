"""The online-tree input of a scenario (Appendix B): the document root a repository server
serves, as ``buildiso build`` wrote it beside the ISO (docs/online-repo.md).

``resolve_online`` refuses, before any machine boots, a tree that is no folder, has no
repository metadata (a plain file, not a link, bounded) or is not the product ISO's cs-repo
(its repomd.xml differs from the one on the ISO), in one line with a hint.
"""

from __future__ import annotations

import hashlib
import logging
import os
import stat
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest import release as releases
from buildiso.compose import online
from buildiso.errors import InputError
from buildiso.run import run

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OnlineTree:
    """An online-tree input: the document root a repository server serves (Appendix B)."""

    name: str
    root: Path
    public_key: bool  # it-pub.key is there (the guide's rpm --import fetches it)
    repomd_sha256: str = ""  # its repodata/repomd.xml's (the ISO's cs-repo's): its identity
    account: None = None  # nobody logs in to a tree


MAX_REPOMD = 1 << 20


def default_online_tree(iso: Path) -> Path:
    """Where ``buildiso build`` writes the online tree: ``<ISO stem>.online`` beside it."""
    return iso.with_name(online.folder_name(iso.stem))


def resolve_online(name: str, *, iso: Path, given: Path | None, work: Path) -> OnlineTree:
    """The online tree, checked to be the product ISO's cs-repo (the same repomd.xml: the
    build hard-links one into the other, docs/online-repo.md)."""
    root = given or default_online_tree(iso)
    option = "--online-tree" if given else "the online tree beside the ISO"
    hint = (f"build the ISO with buildiso build (it writes {default_online_tree(iso).name} "
            "beside it), or pass --online-tree DIR")  # fmt: skip
    repomd = root / online.REPO_PATH / "repodata" / "repomd.xml"
    if not root.is_dir():
        raise InputError(f"{root}: {option} is not a folder", hint=hint)
    try:
        served = _small_file(repomd)
    except OSError:
        raise InputError(f"{root}: {option} has no {online.REPO_PATH}/repodata/repomd.xml "
                         "(a plain file)", hint=hint) from None  # fmt: skip
    work.mkdir(parents=True, exist_ok=True)
    disc = work / "repomd.xml"
    disc.unlink(missing_ok=True)
    run(["osirrox", "-indev", iso, "-extract",
         f"/{releases.REPO}/repodata/repomd.xml", disc])  # fmt: skip
    if not disc.is_file() or disc.read_bytes() != served:
        raise InputError(
            f"{root}: not the repository of {iso.name} (its repomd.xml differs from "
            f"the ISO's {releases.REPO}/repodata/repomd.xml)",
            hint="pass the online tree built with this ISO (--online-tree OUT/"
            f"{default_online_tree(iso).name})",
        )
    key = root / online.PUBLIC_KEY_NAME
    public_key = key.is_file() and not key.is_symlink()
    if not public_key:
        log.warning("%s: no %s: the guide's rpm --import of it will fail", root,
                    online.PUBLIC_KEY_NAME)  # fmt: skip
    return OnlineTree(name=name, root=root, public_key=public_key,
                      repomd_sha256=hashlib.sha256(served).hexdigest())  # fmt: skip


def _small_file(path: Path) -> bytes:
    """A regular file's bytes, read without following a symlink in its last part."""
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, "rb") as fh:
        if not stat.S_ISREG(os.fstat(fh.fileno()).st_mode):
            raise OSError(f"{path}: not a regular file")
        data = fh.read(MAX_REPOMD + 1)
    if len(data) > MAX_REPOMD:
        raise OSError(f"{path}: larger than {MAX_REPOMD} bytes")
    return data
