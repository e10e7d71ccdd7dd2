"""``buildiso validate --media``: everything in a kickstart the install media cannot satisfy."""

from __future__ import annotations

import shlex
from contextlib import ExitStack
from pathlib import Path

from buildiso.compose.depsolve import resolve_install_set
from buildiso.compose.firewall import lokkit_problems
from buildiso.compose.kspackages import parse_packages
from buildiso.compose.repo import DirReader, TreeReader, load_media
from buildiso.errors import InputError
from buildiso.master.basetree import open_base

# Where RHEL 6's anaconda has the install media mounted (docs/design.md, "Install media
# during the install"), so ``repo --baseurl=file:///mnt/source/cs-repo`` can be checked
# against the tree: /mnt/source for the whole install, /mnt/isodir for hd:, /mnt/stage2
# in stage 1 of a cdrom install.
MEDIA_MOUNT_POINTS = ("/mnt/source", "/mnt/isodir", "/mnt/stage2")


def media_problems(ks_text: str, *, filename: str, tree: Path) -> list[str]:
    """``FILE:LINE: message`` for everything in the kickstart the media cannot satisfy.

    ``tree`` is an install tree (directory) or a DVD ISO file. Checks every %packages name
    and @group against its repos and comps, the full closure (unresolved requires,
    conflicts, exclusions pulled back), lokkit for an enabled ``firewall`` and every
    ``repo --baseurl=file:`` path.
    """
    try:
        selection = parse_packages(ks_text, filename=filename)
    except InputError as exc:
        return [exc.message]
    with ExitStack() as stack:
        reader: TreeReader
        try:
            if tree.is_dir():
                reader = DirReader(tree)
            else:
                reader = stack.enter_context(open_base(tree))
            media = load_media(reader)
        except InputError as exc:
            return [exc.message if exc.message.startswith(str(tree)) else f"{tree}: {exc.message}"]
        found = _repo_line_problems(ks_text, reader=reader, tree=tree)
        if selection.line:
            closure = resolve_install_set(ks_packages=selection, media=media)
            found += closure.numbered_problems()
            found += lokkit_problems(ks_text, installed=closure.packages, media=media,
                                     excluded_entries=selection.excluded)  # fmt: skip
    return [f"{filename}:{line}: {text}" for line, text in sorted(found, key=lambda f: f[0])]


def _baseurls(line: str) -> list[str]:
    """The ``--baseurl`` values of a ``repo`` line (``--baseurl=URL`` or ``--baseurl URL``)."""
    words = line.strip().split(None, 1)
    if not words or words[0] != "repo":
        return []
    try:
        args = shlex.split(line, comments=True)
    except ValueError:
        return []  # pykickstart's validation reports the broken quoting
    urls = []
    for i, arg in enumerate(args):
        if arg.startswith("--baseurl="):
            urls.append(arg.removeprefix("--baseurl="))
        elif arg == "--baseurl" and i + 1 < len(args):
            urls.append(args[i + 1])
    return urls


def _repo_line_problems(ks_text: str, *, reader: TreeReader, tree: Path) -> list[tuple[int, str]]:
    problems = []
    for number, line in enumerate(ks_text.splitlines(), start=1):
        for url in _baseurls(line):
            if not url.startswith("file:"):
                continue
            rel = _media_relative("/" + url.removeprefix("file:").lstrip("/"))
            if rel is None:
                problems.append(
                    (
                        number,
                        f"repo {url} is not on the install media "
                        f"(expected a path under {' or '.join(MEDIA_MOUNT_POINTS[:2])})",
                    )
                )
            elif not reader.exists(f"{rel}/repodata/repomd.xml".lstrip("/")):
                problems.append(
                    (
                        number,
                        f"repo {url}: {rel or '.'}/repodata/repomd.xml does not exist in {tree}",
                    )
                )
    return problems


def _media_relative(path: str) -> str | None:
    for mount in MEDIA_MOUNT_POINTS:
        if path == mount or path.startswith(mount + "/"):
            return path[len(mount) :].strip("/")
    return None
