"""The rebuild fingerprint: a digest of everything that can change a byte of the outputs.

Equal fingerprints let ``buildiso build`` keep the ISO it built before, so anything left
out here gives a stale ISO. Everything is taken by content, never by path or mtime:

- the manifest's ``inputs`` (base sha256, gateway RPM sha256s, signing key, profile,
  SOURCE_DATE_EPOCH) and the rendered files (ks.cfg, menus) — given by buildinputs;
- for a base *tree*, every file of it (the manifest's tree checksum only covers
  ``.treeinfo`` and ``repomd.xml``; a file patched in place elsewhere still ships);
- the other files a build reads: the gateway comps file and the host files copied into
  the ISO (Debian's chain.c32, GRUB's ascii.pf2, the isohybrid MBR isohdpfx.bin);
- every tool's version line *and* executable (a rebuilt tool with the same version string
  still counts), Python and the Python libraries that read or write media;
- buildiso's own code and data: every file under ``buildiso/`` (all subpackages, package
  data) and the template/comps folders next to it.

Cost: one read of a base tree (hashlib's SHA-256 runs at ~300 MB/s per core here); the
rest is a few small files.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import sys
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from buildiso import __version__, paths, run
from buildiso.errors import ToolMissing
from buildiso.master.iso import sha256_file

PACKAGE_DIR = Path(__file__).resolve().parent
# Code and data whose change must rebuild the ISO (read at call time: tests point it elsewhere).
CODE_ROOTS: tuple[Path, ...] = (
    PACKAGE_DIR,
    paths.KICKSTART_TEMPLATES,
    paths.ISOLINUX_TEMPLATES,
    paths.COMPS_DIR,
)
# Every program a build runs (version line + executable content).
BUILD_TOOLS = (
    "xorriso", "mtools", "mcopy", "mmd", "mtype", "mdir", "createrepo_c", "rpmkeys", "rpm",
    "checkisomd5",
)  # fmt: skip
_VERSION_ARGS = {"xorriso": "-version", "mcopy": "--version", "checkisomd5": "--help"}
# Python libraries whose code writes or reads the media's bytes.
PYTHON_LIBRARIES = ("jinja2", "pycdlib", "solv")
_SKIPPED_PARTS = {"__pycache__"}


def tree_sums(root: Path, rels: Iterable[str]) -> dict[str, str]:
    """sha256 of each of the given files of ``root``, by path, sorted.

    The files are hashed on every core (hashlib releases the GIL): a DVD-sized base tree is
    4 GB to read and hash on every build (#15). The build hashes its base tree once and
    gives the sums to both the package check (basepackages.py) and the fingerprint.
    """
    ordered = sorted(rels)
    with ThreadPoolExecutor(max_workers=min(4, os.cpu_count() or 1)) as pool:
        return dict(zip(ordered, pool.map(sha256_file, (root / rel for rel in ordered)),
                        strict=True))  # fmt: skip


def sums_digest(sums: Mapping[str, str]) -> str:
    """sha256 over (path, content sha256) pairs, sorted by path."""
    digest = hashlib.sha256()
    for rel, file_sum in sorted(sums.items()):
        digest.update(rel.encode() + b"\0" + file_sum.encode() + b"\n")
    return digest.hexdigest()


def tree_digest(root: Path, rels: Iterable[str]) -> str:
    """sha256 over (path, content sha256) of the given files of ``root``, sorted."""
    return sums_digest(tree_sums(root, rels))


def _files_under(root: Path) -> list[str]:
    if not root.is_dir():
        return []
    return [
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and not _SKIPPED_PARTS & set(p.parts) and p.suffix != ".pyc"
    ]


def code_digest(roots: Iterable[Path] | None = None) -> str:
    """Every file of buildiso's own code and data (all subpackages, templates, comps)."""
    digest = hashlib.sha256()
    for root in CODE_ROOTS if roots is None else roots:
        digest.update(f"{root.name}\0{tree_digest(root, _files_under(root))}\n".encode())
    return digest.hexdigest()


def read_files() -> dict[str, str]:
    """The files outside the inputs that a build reads into the ISO, by content."""
    # Imported here: the module attributes are read at call time, as the build reads them.
    from buildiso.compose import stage as compose_stage
    from buildiso.master import iso, staging

    files = {
        "gateway_comps": compose_stage.GATEWAY_COMPS,
        "chain.c32": staging.DEBIAN_CHAIN_C32,
        "ascii.pf2": staging.GRUB_ASCII_FONT,
        "isohdpfx.bin": iso.DEBIAN_ISOHDPFX,
    }
    return {
        name: sha256_file(path) if path.is_file() else "absent"
        for name, path in sorted(files.items())
    }


def tool_identity(tool: str) -> dict[str, str]:
    """One build tool's version line and the sha256 of its executable."""
    try:
        found = run.tool_path(tool)
    except ToolMissing:
        return {"path": "absent"}
    proc = run.run([found, _VERSION_ARGS.get(tool, "--version")], check=False)
    text = (proc.stdout or proc.stderr or "").strip()
    return {
        "version": text.splitlines()[0] if text else "unknown",
        "sha256": sha256_file(Path(found).resolve()),
    }


def tool_identities() -> dict[str, dict[str, str]]:
    """Every build tool's identity; probed 4 at a time (every build asks, #15). Not all
    at once: ten tools starting together cost ~80 MiB more peak memory (process tree)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return dict(zip(BUILD_TOOLS, pool.map(tool_identity, BUILD_TOOLS), strict=True))


def python_identity() -> dict[str, str]:
    libs = {"python": sys.version}
    for name in PYTHON_LIBRARIES:
        try:
            libs[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            libs[name] = "absent"
    return libs


def environment(
    *,
    base_tree: Path | None,
    base_files: Iterable[str] = (),
    base_sums: Mapping[str, str] | None = None,
) -> dict[str, Any]:
    """What the fingerprint adds to the manifest's records (kept out of the manifest: it
    holds machine facts such as executable digests). ``base_sums``: the base tree's file
    sums when the build has them already (else its ``base_files`` are hashed here)."""
    state: dict[str, Any] = {
        "files": read_files(),
        "tools": tool_identities(),
        "python": python_identity(),
    }
    if base_tree is not None:
        state["base_tree"] = (
            sums_digest(base_sums) if base_sums is not None else tree_digest(base_tree, base_files)
        )
    return state


def fingerprint(
    *,
    inputs: Mapping[str, Any],
    rendered: Mapping[str, Any],
    tools: Mapping[str, str],
    environment: Mapping[str, Any] | None = None,
) -> str:
    """Equal fingerprints = an unchanged rebuild (same inputs, same output, same tools)."""
    state = {
        "inputs": inputs,
        "rendered": rendered,
        "tools": tools,
        "environment": environment or {},
        "buildiso": __version__,
        "code": code_digest(),
    }
    return hashlib.sha256(json.dumps(state, sort_keys=True).encode()).hexdigest()
