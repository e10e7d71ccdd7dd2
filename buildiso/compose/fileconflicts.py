"""File conflicts inside the install set, as rpm's transaction test finds them.

anaconda 13 runs the whole install set as one rpm transaction and stops the install when
its test reports file conflicts ("There were file conflicts when checking the packages to
be installed", ``yuminstall.py``, ``AnacondaYum.doTransaction``). The repodata the solver
reads lists paths only, so the build reads each package's header (modes, digests, link
targets, flags, colours) and applies rpm 4.8.0's rules (``lib/rpmfi.c``, ``rpmfiCompare``;
``lib/transaction.c``, ``handleOverlappedFiles``) to every path two packages share:

- a ``%ghost`` on either side never conflicts;
- different file types conflict (a file here, a directory or a link there); two
  directories never do;
- two links conflict when their targets differ; two regular files when their digests
  differ (or were made with different digest algorithms);
- multilib: an ELF32 and an ELF64 file at one path (``glibc.i686`` beside
  ``glibc.x86_64``) do not, rpm installs the 64-bit one on x86_64 (transaction colour 3,
  preferred colour 2). rpm 4.8.0 let an ELF64 file win over an uncoloured one (a script)
  too; rpm 4.10 (RhBug:705115) requires both to be coloured, and so does buildiso: a
  gateway script silently overwritten by a binary is a bug either way.

When a gateway package is one of the two, a difference of mode, owner or group conflicts
too (rpm 4.11's rule): rpm 4.8 would install one of the two at random, and a gateway
package must not change the permissions of a file or directory it shares with RHEL.
Between two base packages rpm 4.8's rule stands (the RHEL DVD installs as RHEL's rpm
sees it). docs/build-checks.md; tests/hostile/test_hostile_n08_file_conflicts.py checks
each rule against ``rpm -i --test``.
"""

from __future__ import annotations

import stat
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path
from typing import TypeVar

from buildiso.compose.rpms import read_header_tags, tag_ints, tag_texts
from buildiso.errors import InputError

RPMFILE_GHOST = 1 << 6
_TSCOLOR = 3  # x86_64: ELF32 (1) and ELF64 (2) files are told apart
MAX_LISTED = 20


@dataclass(frozen=True)
class FileEntry:
    """One path of a package, as its header describes it."""

    path: str
    mode: int
    digest: str  # hex, "" for anything but a regular file
    link: str  # the symlink's target, "" otherwise
    flags: int
    color: int
    user: str
    group: str

    @property
    def kind(self) -> str:
        """rpm's ``rpmfiWhatis``: what the mode's type bits say."""
        for test, name in ((stat.S_ISDIR, "directory"), (stat.S_ISLNK, "link"),
                           (stat.S_ISCHR, "character device"), (stat.S_ISBLK, "block device"),
                           (stat.S_ISSOCK, "socket"), (stat.S_ISFIFO, "fifo")):  # fmt: skip
            if test(self.mode):
                return name
        return "file"


@dataclass(frozen=True)
class PackageFiles:
    """A package's files; ``gateway``: one of the gateway RPMs (the stricter rule applies)."""

    nevra: str
    gateway: bool
    digest_algo: int
    files: tuple[FileEntry, ...]


T = TypeVar("T")


def _padded(values: list[T], count: int, empty: T) -> list[T]:
    return values if len(values) == count else [empty] * count


def package_files(path: Path, *, gateway: bool) -> PackageFiles:
    """Read the file list of the RPM at ``path`` from its header."""
    tags = read_header_tags(path)
    try:
        dirs = tag_texts(tags.get("dirnames"))
        names = [dirs[i] + base for i, base in zip(tag_ints(tags.get("dirindexes")),
                                                   tag_texts(tags.get("basenames")), strict=True)]
        name, version, release, arch = (tag_texts(tags[k])[0]
                                        for k in ("name", "version", "release", "arch"))
    except (IndexError, KeyError, ValueError) as exc:
        raise InputError(f"{path.name}: not a valid RPM package (file list: {exc})",
                         hint=f"the file {path} is corrupt: fetch or rebuild it") from exc
    count = len(names)

    def ints(key: str) -> list[int]:
        return _padded(tag_ints(tags.get(key)), count, 0)

    def texts(key: str) -> list[str]:
        return _padded(tag_texts(tags.get(key)), count, "")

    columns = zip(names, ints("filemodes"), texts("filemd5s"), texts("filelinktos"),
                  ints("fileflags"), ints("filecolors"), texts("fileusername"),
                  texts("filegroupname"), strict=True)  # fmt: skip
    files = tuple(
        FileEntry(path=n, mode=m, digest=d.lower(), link=link, flags=f, color=c, user=u, group=g)
        for n, m, d, link, f, c, u, g in columns
    )
    epoch = tag_ints(tags.get("serial"))
    nevra = f"{name}-{f'{epoch[0]}:' if epoch and epoch[0] else ''}{version}-{release}.{arch}"
    algo = (tag_ints(tags.get("filedigestalgo")) or [1])[0]  # 1: MD5, rpm's default then
    return PackageFiles(nevra=nevra, gateway=gateway, digest_algo=algo, files=files)


@dataclass(frozen=True, order=True)
class FileConflict:
    path: str
    first: str
    second: str
    why: str

    def __str__(self) -> str:
        return f"{self.path}: {self.first} and {self.second} {self.why}"


def _content_differs(a: FileEntry, algo_a: int, b: FileEntry, algo_b: int) -> str | None:
    """rpm 4.8's ``rpmfiCompare``: why two entries of one path cannot share it, or None."""
    if a.flags & RPMFILE_GHOST or b.flags & RPMFILE_GHOST:
        return None
    if a.kind != b.kind:
        return f"disagree on what it is (a {a.kind} and a {b.kind})"
    if a.kind == "link" and a.link != b.link:
        return f"link it to different targets ({a.link} and {b.link})"
    if a.kind == "file" and (a.digest != b.digest or algo_a != algo_b):
        if a.color & _TSCOLOR and b.color & _TSCOLOR and a.color & _TSCOLOR != b.color & _TSCOLOR:
            return None  # multilib: the ELF64 file wins
        return "differ in content"
    return None


def _permissions_differ(a: FileEntry, b: FileEntry) -> str | None:
    if a.flags & RPMFILE_GHOST or b.flags & RPMFILE_GHOST:
        return None
    if a.kind != "link" and a.mode != b.mode:
        return f"give it different modes ({a.mode & 0o7777:04o} and {b.mode & 0o7777:04o})"
    if (a.user, a.group) != (b.user, b.group):
        return f"give it different owners ({a.user}:{a.group} and {b.user}:{b.group})"
    return None


def file_conflicts(packages: Sequence[PackageFiles]) -> list[FileConflict]:
    """Every path two packages of ``packages`` cannot share, sorted; a gateway package
    is named first."""
    owners: dict[str, list[tuple[PackageFiles, FileEntry]]] = {}
    for pkg in packages:
        for entry in pkg.files:
            owners.setdefault(entry.path, []).append((pkg, entry))
    found: set[FileConflict] = set()
    for path, owned in owners.items():
        if len(owned) < 2:
            continue
        for (pa, ea), (pb, eb) in combinations(owned, 2):
            if pa.nevra == pb.nevra:
                continue
            why = _content_differs(ea, pa.digest_algo, eb, pb.digest_algo)
            if why is None and (pa.gateway or pb.gateway):
                why = _permissions_differ(ea, eb)
            if why is not None:
                first, second = sorted((pa, pb), key=lambda p: (not p.gateway, p.nevra))
                found.add(FileConflict(path, first.nevra, second.nevra, why))
    return sorted(found)


def describe(conflicts: Sequence[FileConflict]) -> str:
    """One line: the first ``MAX_LISTED`` conflicts and how many more there are."""
    shown = "; ".join(map(str, conflicts[:MAX_LISTED]))
    more = len(conflicts) - MAX_LISTED
    return shown + (f"; and {more} more" if more > 0 else "")
