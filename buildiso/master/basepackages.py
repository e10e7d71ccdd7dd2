"""Every package the base carries is checked before anything is built, not only those the
kickstart installs: the ISO ships them all, and Appendix A's ``yum`` reads them too.

The base's ``.treeinfo`` checksums cover the boot images, not the packages: a package
damaged in an unpacked tree (or in an ISO without an implanted MD5) would otherwise ship.

- ``verify_base_repository``: the base repository's metadata against ``repomd.xml``
  (compose/repomd.py), then every package its ``primary.xml`` lists against the sha256
  listed there (a tree's files are hashed once per build, the fingerprint reuses the sums;
  an ISO's once per content, remembered in the verified-digest cache), and every other
  ``*.rpm`` on the base (RHEL 6's add-on repositories keep theirs in ``Packages/`` too)
  with ``rpmkeys --checksig --nosignature``: rpm's own header and payload digests.
- ``verify_base_packages``: the install set's base packages with rpmkeys as well (their
  digests inside, which a repodata made from an already damaged package would not catch);
  returns their files, which the file-conflict check then reads.

The base's signatures are Red Hat's: the gateway key cannot verify them, and the digests
are what catches damage.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Protocol

from buildiso import run, tmpdirs
from buildiso.compose import repomd
from buildiso.compose.repo import GATEWAY_REPO_DIR, ListedPackage, listed_packages
from buildiso.errors import InputError
from buildiso.master.basetree import BaseTree

BASE_REPO = "base"
_BATCH = 64  # packages per rpmkeys run: bounded command lines
_CHUNK = 1 << 20
_COPY_AGAIN = "the base is damaged: copy or download it again (rpm -K shows each package)"


class _Package(Protocol):
    @property
    def repo(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def nevra(self) -> str: ...


def _verdicts(files: list[Path]) -> dict[Path, str]:
    """rpmkeys' verdict per file ("digests OK" when sound)."""
    found: dict[Path, str] = {}
    for start in range(0, len(files), _BATCH):
        batch = files[start : start + _BATCH]
        proc = run.run(["rpmkeys", "--checksig", "--nosignature", *map(str, batch)], check=False)
        verdicts = {
            line.rsplit(":", 1)[0]: line.rsplit(":", 1)[1].strip()
            for line in (proc.stdout or "").splitlines()
            if ":" in line
        }
        for path in batch:
            found[path] = verdicts.get(str(path)) or "no verdict from rpmkeys"
    return found


def _bad_packages(files: list[Path]) -> list[str]:
    """``name (verdict)`` of each file whose digests rpmkeys does not call OK."""
    return [f"{p.name} ({v})" for p, v in _verdicts(files).items() if v.lower() != "digests ok"]


def _local_files(base: BaseTree, rels: Iterable[str], scratch: Path) -> dict[str, Path]:
    """Where rpmkeys can read each package: in place in a tree, copied out of an ISO."""
    files: dict[str, Path] = {}
    for rel in rels:
        if base.kind == "dir":
            files[rel] = base.source / rel
        else:
            files[rel] = scratch / rel
            base.extract(rel, files[rel])
    return files


def _digest(base: BaseTree, rel: str, algorithm: str) -> str:
    digest = hashlib.new(algorithm)
    with base.open(rel) as f:
        while chunk := f.read(_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def verify_base_repository(
    base: BaseTree, *, file_sums: Mapping[str, str] | None = None, packages: bool = True
) -> tuple[ListedPackage, ...]:
    """Check the base repository's metadata and (``packages``) every package on the base;
    InputError naming every bad one. ``file_sums``: sha256 by path, already computed.

    Returns the packages the base's primary.xml lists."""
    repomd.verify_all(base, repomd.read_repomd(base))
    listed = listed_packages(base)
    if not packages:
        return listed
    missing = sorted(p.location for p in listed if not base.exists(p.location))
    if missing:
        raise InputError(
            f"{base.source}: listed in repodata but missing: {', '.join(missing[:20])}"
            + (f" and {len(missing) - 20} more" if len(missing) > 20 else ""),
            hint="the base is incomplete: copy or download it again",
        )
    sums = file_sums or {}
    mismatched = [
        p.location for p in listed
        if p.algorithm
        and (sums.get(p.location) if p.algorithm == "sha256" and p.location in sums
             else _digest(base, p.location, p.algorithm)) != p.checksum
    ]  # fmt: skip
    summed = {p.location for p in listed if p.algorithm}
    # Add-on repositories' packages and any other *.rpm: rpm's own digests decide.
    unlisted = [rel for rel in base.iter_files() if rel.endswith(".rpm")
                and rel not in summed and not rel.startswith(f"{GATEWAY_REPO_DIR}/")]  # fmt: skip
    if not mismatched and not unlisted:
        return listed
    with tmpdirs.private_dir("basepackages") as scratch:
        files = _local_files(base, [*mismatched, *unlisted], scratch)
        verdicts = _verdicts(list(files.values()))
    bad = [f"{Path(rel).name} (its checksum is not the one repodata lists; rpmkeys --checksig: "
           f"{verdicts[files[rel]]})" for rel in mismatched]  # fmt: skip
    bad += [f"{Path(rel).name} (rpmkeys --checksig: {verdicts[files[rel]]})"
            for rel in unlisted if verdicts[files[rel]].lower() != "digests ok"]  # fmt: skip
    if bad:
        raise InputError(
            f"{base.source}: damaged package(s) on the base: {', '.join(bad)}", hint=_COPY_AGAIN
        )
    return listed


def verify_base_packages(
    *, base: BaseTree, packages: Iterable[_Package], scratch: Path
) -> dict[str, Path]:
    """Check the install set's base packages' digests; InputError naming every bad one.

    A tree's packages are read where they are; an ISO's are copied into ``scratch``
    (the build's work folder) first. Returns each package's file by its location.
    """
    wanted = sorted({p.location for p in packages if p.repo == BASE_REPO})
    for rel in wanted:
        if not base.exists(rel):
            raise InputError(
                f"{base.source}: {rel} is listed in repodata but missing",
                hint="the base is incomplete: copy or download it again",
            )
    files = _local_files(base, wanted, scratch / "base-packages")
    bad = _bad_packages(list(files.values()))
    if bad:
        raise InputError(
            f"{base.source}: damaged package(s) in the install set: {', '.join(bad)} "
            "(rpmkeys --checksig: DIGESTS NOT OK)",
            hint=_COPY_AGAIN,
        )
    return files
