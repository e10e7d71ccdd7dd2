"""The build manifest (``EMAIL_490_190.manifest.json``) and ``buildiso diff``.

The manifest records what went into an ISO (base, gateway packages, signing key, profile,
SOURCE_DATE_EPOCH), what it installs (the resolved install set), the rendered files
(with their text, so ``diff`` can show a unified diff of a kickstart or menu change), the
tool versions and the ISO's own checksums. ``buildiso diff OLD NEW`` turns two manifests
into the text the nightly build mails to the team.
"""

from __future__ import annotations

import difflib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from buildiso.boundedjson import load_json
from buildiso.compose.rpmversion import Evr
from buildiso.errors import InputError
from buildiso.manifesttypes import Package, ParsedManifest, RenderedFile, parse_manifest

SCHEMA = 1
MAX_BYTES = 64 * 2**20  # the install set and rendered files of a real DVD fit many times
# createrepo_c names repodata files by checksum: a package change renames them all, which
# the package lines already say.
_REPODATA = "cs-repo/repodata"
Manifest = dict[str, Any]


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write atomically (temp file in the same folder, then rename); sorted keys."""
    text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())  # on disk before the rename makes it the manifest
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_manifest(path: Path) -> Manifest:
    # bounded: size, depth, numbers, valid text (a lone surrogate cannot be written out)
    data = load_json(path, max_bytes=MAX_BYTES, hint="give a build's *.manifest.json")
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(
            f"{path}: not a buildiso manifest (schema {SCHEMA})",
            hint="give the *.manifest.json written beside an ISO by `buildiso build`",
        )
    return data


# --- diff -----------------------------------------------------------------------------

_BUILD_VALUES = [
    ("product version", "product.version"),
    ("build", "product.build"),
    ("ISO name", "iso.name"),
    ("volume label", "iso.volume_label"),
    ("base", "inputs.base.label"),
    ("base checksum", "inputs.base.sha256"),
    ("signing key", "inputs.signing.key_id"),
    ("allow unsigned", "inputs.signing.allow_unsigned"),
    ("allow unresolved", "inputs.depsolve.allow_unresolved"),
    ("profile variant", "inputs.profile.variant"),
    ("gateway comps", "inputs.gateway_comps.sha256"),
]


def _package_changes(old: Mapping[str, Package], new: Mapping[str, Package]) -> Iterator[str]:
    for key in sorted(set(old) | set(new)):
        if key not in old:
            yield f"  added:      {new[key].nevra}"
        elif key not in new:
            yield f"  removed:    {old[key].nevra}"
        else:
            before, after = Evr.parse(old[key].evr), Evr.parse(new[key].evr)
            order = after.compare(before)
            if order > 0:
                yield f"  upgraded:   {key}  {before} -> {after}"
            elif order < 0:
                yield f"  downgraded: {key}  {before} -> {after}"
            elif old[key].sha256 != new[key].sha256:
                yield f"  rebuilt:    {new[key].nevra} (same version, different file)"


def _file_changes(
    old: Mapping[str, RenderedFile], new: Mapping[str, RenderedFile]
) -> Iterator[str]:
    for rel in sorted(set(old) | set(new)):
        before, after = old.get(rel), new.get(rel)
        if before is None:
            yield f"  added:   {rel}"
        elif after is None:
            yield f"  removed: {rel}"
        elif before.sha256 != after.sha256:
            if before.text is not None and after.text is not None:
                yield f"  changed: {rel}"
                diff = difflib.unified_diff(
                    before.text.splitlines(),
                    after.text.splitlines(),
                    fromfile=f"old/{rel}",
                    tofile=f"new/{rel}",
                    lineterm="",
                )
                yield from (f"    {line}" for line in diff)
            else:
                yield f"  changed: {rel} (sha256 {before.sha256} -> {after.sha256})"


def _mapping_changes(old: Mapping[str, str], new: Mapping[str, str]) -> Iterator[str]:
    for rel in sorted(set(old) | set(new)):
        if old.get(rel) == new.get(rel) or rel.startswith(f"{_REPODATA}/"):
            continue
        change = "changed" if rel in old and rel in new else "added" if rel in new else "removed"
        yield f"  {change}: {rel}"


def _parsed(manifest: Manifest | ParsedManifest, source: str) -> ParsedManifest:
    if isinstance(manifest, ParsedManifest):
        return manifest
    return parse_manifest(manifest, source=source)


def diff_manifests(
    old_manifest: Manifest | ParsedManifest, new_manifest: Manifest | ParsedManifest
) -> list[str]:
    """Human-readable lines: what changed from ``old`` to ``new`` (empty = same build)."""
    old, new = _parsed(old_manifest, "old manifest"), _parsed(new_manifest, "new manifest")
    lines: list[str] = []

    def section(title: str, body: Iterator[str] | list[str]) -> None:
        body = list(body)
        if body:
            lines.append(title)
            lines.extend(body)

    section(
        "Build:",
        [
            f"  {label}: {old.values[key]} -> {new.values[key]}"
            for label, key in _BUILD_VALUES
            if old.values[key] != new.values[key]
        ],
    )
    section("Gateway packages:", _package_changes(old.gateway_packages, new.gateway_packages))
    section("Install set:", _package_changes(old.install_set, new.install_set))
    section("Kickstart and boot menus:", _file_changes(old.rendered, new.rendered))
    section("Other files on the media:", _mapping_changes(old.staged, new.staged))
    section(
        "Tools:",
        [
            f"  {tool}: {old.tools.get(tool)} -> {new.tools.get(tool)}"
            for tool in sorted(set(old.tools) | set(new.tools))
            if old.tools.get(tool) != new.tools.get(tool)
        ],
    )
    return lines


def diff_command(*, old: Path, new: Path) -> None:
    """``buildiso diff OLD NEW``: print what changed; "no changes" when nothing did."""
    before = parse_manifest(load_manifest(old), source=str(old))
    after = parse_manifest(load_manifest(new), source=str(new))
    lines = diff_manifests(before, after)
    click.echo(f"buildiso diff {old} -> {new}")
    old_sha, new_sha = str(before.values["iso.sha256"]), str(after.values["iso.sha256"])
    if old_sha == new_sha:
        click.echo("ISO: identical (same sha256)")
    else:
        click.echo(f"ISO: {old_sha[:16]}… -> {new_sha[:16]}…")
    if not lines:
        click.echo("no changes in inputs, install set or rendered files")
    for line in lines:
        click.echo(line)
