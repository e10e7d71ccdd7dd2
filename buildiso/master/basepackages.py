"""Every base package the kickstart installs is checked before mastering, as ``rpm -K`` does.

The base's ``.treeinfo`` checksums cover the boot images and ``repomd.xml``, not the
packages: a package damaged in an unpacked tree (or in an ISO without an implanted MD5)
would otherwise ship and fail the install in anaconda. ``rpmkeys --checksig --nosignature``
checks the header and payload digests without the vendor key (the base's signatures are
Red Hat's: the gateway key cannot verify them, and the digests are what catches damage).
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Protocol

from buildiso import run
from buildiso.errors import InputError
from buildiso.master.basetree import BaseTree

BASE_REPO = "base"
_BATCH = 64  # packages per rpmkeys run: bounded command lines


class _Package(Protocol):
    @property
    def repo(self) -> str: ...

    @property
    def location(self) -> str: ...

    @property
    def nevra(self) -> str: ...


def _bad_packages(files: list[Path]) -> list[str]:
    """The lines of rpmkeys' verdicts that are not "digests OK" (one line per file)."""
    bad: list[str] = []
    for start in range(0, len(files), _BATCH):
        batch = files[start : start + _BATCH]
        proc = run.run(["rpmkeys", "--checksig", "--nosignature", *map(str, batch)], check=False)
        verdicts = {
            line.rsplit(":", 1)[0]: line.rsplit(":", 1)[1].strip()
            for line in (proc.stdout or "").splitlines()
            if ":" in line
        }
        for path in batch:
            verdict = verdicts.get(str(path))
            if verdict is None or verdict.lower() != "digests ok":
                bad.append(f"{path.name} ({verdict or 'no verdict from rpmkeys'})")
    return bad


def verify_base_packages(*, base: BaseTree, packages: Iterable[_Package], scratch: Path) -> int:
    """Check the install set's base packages' digests; InputError naming every bad one.

    A tree's packages are read where they are; an ISO's are copied into ``scratch``
    (the build's work folder) first. Returns how many packages were checked.
    """
    wanted = sorted({p.location for p in packages if p.repo == BASE_REPO})
    files: list[Path] = []
    for rel in wanted:
        if not base.exists(rel):
            raise InputError(
                f"{base.source}: {rel} is listed in repodata but missing",
                hint="the base is incomplete: copy or download it again",
            )
        if base.kind == "dir":
            files.append(base.source / rel)
        else:
            dest = scratch / "base-packages" / Path(rel).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            base.extract(rel, dest)
            files.append(dest)
    bad = _bad_packages(files)
    if bad:
        raise InputError(
            f"{base.source}: damaged package(s) in the install set: {', '.join(bad)} "
            "(rpmkeys --checksig: DIGESTS NOT OK)",
            hint="the base is damaged: copy or download it again (rpm -K shows each package)",
        )
    return len(files)
