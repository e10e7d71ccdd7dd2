"""The online repository: the tree the installation guide's Appendix B downloads from.

Appendix B installs the gateway on a Minimal RHEL 6.10 from the vendor's web server:
``…/rhel6/gw/os/x86_64/Packages/cs-email-repo-conf-3.6.3-1.x86_64.rpm`` (curl),
``…/it-pub.key`` (``rpm --import``), then ``yum install -y cs-email --enablerepo=cs-*``
against the repositories that package defines (``baseurl=…/rhel6/gw/os/$basearch/``).
``buildiso build`` writes that web server's document root next to the ISO::

    OUT/EMAIL_490_190.online/
        it-pub.key                          the vendor's public key (--gpg-key)
        rhel6/gw/os/x86_64/Packages/*.rpm   the gateway RPMs, as in the ISO's cs-repo/
        rhel6/gw/os/x86_64/repodata/        createrepo_c --compatibility (RHEL 6's yum)

The repository is the ISO's ``cs-repo/`` itself (same signed RPMs, same repodata, same
comps; createrepo_c writes relative ``Packages/…`` locations, so a repository does not
depend on where it is served), hard-linked from the build's scratch folder, so it costs
no second createrepo_c run and no copy. Every mtime is SOURCE_DATE_EPOCH: the tree is as
reproducible as the ISO. docs/online-repo.md: the layout, how to serve it, what the
sample's ``cs-email-repo-conf`` points at.
"""

from __future__ import annotations

import hashlib
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from buildiso.errors import BuildError, InputError

# The guide's Appendix B URLs, below the vendor's host name.
REPO_PATH = PurePosixPath("rhel6/gw/os/x86_64")
PUBLIC_KEY_NAME = "it-pub.key"
# An ASCII-armoured RSA public key with its signatures is a few KiB.
MAX_PUBLIC_KEY = 1 << 20
_CLIENT_HINT = "give --gpg-key the vendor's public key file (an RPM-GPG-KEY-… file)"


def folder_name(iso_stem: str) -> str:
    """The document root's name next to the ISO: ``EMAIL_490_190.online``."""
    return f"{iso_stem}.online"


def sha256_file(path: Path) -> str:
    with path.open("rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def check_public_key(path: Path | None) -> None:
    """Refuse, before anything is written, a key file the tree cannot publish."""
    if path is None:
        return
    try:
        info = path.stat()
    except OSError as exc:
        raise InputError(f"{path}: cannot read the public key ({exc.strerror})",
                         hint=_CLIENT_HINT) from None  # fmt: skip
    if not path.is_file():
        raise InputError(f"{path}: the public key is not a file", hint=_CLIENT_HINT)
    if info.st_size > MAX_PUBLIC_KEY:
        raise InputError(
            f"{path}: {info.st_size} bytes is no public key (at most {MAX_PUBLIC_KEY})",
            hint=_CLIENT_HINT,
        )


@dataclass(frozen=True)
class OnlineTree:
    """The written tree: its root and every file's sha256 (relative POSIX paths)."""

    root: Path
    files: Mapping[str, str]
    public_key: str | None  # PUBLIC_KEY_NAME, or None (--allow-unsigned without a key)

    def manifest_entry(self) -> dict[str, Any]:
        """The manifest's ``online`` section (no absolute path: the manifest is portable)."""
        return {
            "repository": str(REPO_PATH),
            "public_key": self.public_key,
            "files": dict(sorted(self.files.items())),
        }


def compose_online_tree(
    *, gateway_repo: Path, public_key: Path | None, dest: Path, epoch: int
) -> OnlineTree:
    """Write the document root ``dest`` (must not exist) from the composed ``cs-repo/``."""
    repo = dest / REPO_PATH
    repo.mkdir(parents=True)
    _link_tree(gateway_repo, repo)
    if public_key is not None:
        check_public_key(public_key)
        key = dest / PUBLIC_KEY_NAME
        shutil.copyfile(public_key, key)
        os.chmod(key, 0o644)
    for path in [*_walk(dest), dest]:
        if path.is_dir():
            os.chmod(path, 0o755)
        os.utime(path, (epoch, epoch), follow_symlinks=False)
    files = {rel: sha256_file(dest / rel) for rel in tree_files(dest)}
    return OnlineTree(
        root=dest, files=files, public_key=PUBLIC_KEY_NAME if public_key is not None else None
    )


def _walk(root: Path) -> list[Path]:
    """Everything under ``root``, deepest first (a folder's mtime is set after its files)."""
    found: list[Path] = []
    for folder, dirs, names in os.walk(root, topdown=False):
        found += [Path(folder) / n for n in sorted(names)]
        found += [Path(folder) / d for d in sorted(dirs)]
    return found


def _link_tree(source: Path, dest: Path) -> None:
    """Hard-link the files of ``source`` under ``dest`` (same file system: the scratch
    folder); a file system without hard links gets copies."""
    for folder, dirs, names in os.walk(source):
        rel = Path(folder).relative_to(source)
        (dest / rel).mkdir(parents=True, exist_ok=True)
        for name in names:
            src, dst = Path(folder) / name, dest / rel / name
            if src.is_symlink() or not src.is_file():
                raise BuildError(f"{src}: not a plain file", hint="report this bug")
            try:
                os.link(src, dst)
            except OSError:
                shutil.copyfile(src, dst)
        dirs.sort()


def tree_files(root: Path) -> list[str]:
    """Every file under ``root`` as a sorted relative POSIX path; symlinks are listed
    (as files that cannot match a digest), never followed."""
    files = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder)
        files += [(here / n).relative_to(root).as_posix() for n in names]
        files += [(here / d).relative_to(root).as_posix() for d in dirs if (here / d).is_symlink()]
    return sorted(files)


def published_intact(root: Path, files: Mapping[str, str] | None) -> bool:
    """The published tree holds exactly ``files`` with these contents (the rebuild check:
    an edited, missing or added file means the tree is rebuilt)."""
    if files is None or root.is_symlink() or not root.is_dir():
        return False
    if tree_files(root) != sorted(files):
        return False
    for rel, want in files.items():
        path = root / rel
        if path.is_symlink() or not path.is_file() or sha256_file(path) != want:
            return False
    return True


def fsync_tree(root: Path, fsync: Callable[[Path], None]) -> None:
    """fsync every file and folder of ``root`` (``fsync``: publish.fsync_path), root last."""
    for path in _walk(root):
        fsync(path)
    fsync(root)
