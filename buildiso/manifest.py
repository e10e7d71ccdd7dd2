"""The build manifest (``EMAIL_490_190.manifest.json``) and ``buildiso diff``.

The manifest records what went into an ISO (base, gateway packages, signing key, profile,
SOURCE_DATE_EPOCH), what it installs (the resolved install set), the rendered files
(with their text, so ``diff`` can show a unified diff of a kickstart or menu change), the
tool versions and the ISO's own checksums. ``buildiso diff OLD NEW`` turns two manifests
into the text the nightly build mails to the team.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import click

from buildiso import boundedjson
from buildiso.atomicfile import write_json_atomic
from buildiso.compose.rpmversion import Evr
from buildiso.errors import InputError
from buildiso.manifesttypes import Package, ParsedManifest, RenderedFile, parse_manifest

SCHEMA = 1
# createrepo_c names repodata files by checksum: a package change renames them all, which
# the package lines already say.
_REPODATA = "cs-repo/repodata"
Manifest = dict[str, Any]


def write_manifest(path: Path, manifest: Manifest) -> None:
    """Write atomically (``atomicfile``: fsynced before the rename); sorted keys."""
    write_json_atomic(path, manifest, indent=2, sort_keys=True)


# A DVD build's manifest (install set, staged files, rendered texts) is a few MB.
MAX_MANIFEST_BYTES = 64 * 2**20
MAX_MANIFEST_DEPTH = 16


def load_manifest(path: Path, *, follow_symlinks: bool = True) -> Manifest:
    """A manifest read bounded (size, nesting, numbers, Unicode: boundedjson.py); a symbolic
    link is followed only when the user named it (``follow_symlinks``)."""
    try:
        data = boundedjson.load(path, max_bytes=MAX_MANIFEST_BYTES, max_depth=MAX_MANIFEST_DEPTH,
                                follow_symlinks=follow_symlinks)  # fmt: skip
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror})", hint="give a build's *.manifest.json"
        ) from exc
    except InputError as exc:
        raise InputError(
            f"not a JSON manifest: {exc.message}", hint="give a *.manifest.json"
        ) from exc
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
