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

from buildiso.compose.rpmversion import Evr
from buildiso.errors import InputError

SCHEMA = 1
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
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def load_manifest(path: Path) -> Manifest:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(
            f"{path}: cannot read ({exc.strerror})", hint="give a build's *.manifest.json"
        ) from exc
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise InputError(
            f"{path}: not a JSON manifest ({exc})", hint="give a *.manifest.json"
        ) from exc
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise InputError(
            f"{path}: not a buildiso manifest (schema {SCHEMA})",
            hint="give the *.manifest.json written beside an ISO by `buildiso build`",
        )
    return data


# --- diff -----------------------------------------------------------------------------


def _packages(manifest: Manifest, key: str) -> dict[str, dict[str, str]]:
    """name.arch → package entry, for a list of {name, arch, evr, ...} entries."""
    section: Any = manifest
    for part in key.split("."):
        section = section.get(part, {}) if isinstance(section, dict) else {}
    entries = section if isinstance(section, list) else []
    return {f"{p['name']}.{p['arch']}": p for p in entries}


def _package_changes(
    old: Mapping[str, Mapping[str, str]], new: Mapping[str, Mapping[str, str]]
) -> Iterator[str]:
    for key in sorted(set(old) | set(new)):
        if key not in old:
            yield f"  added:      {new[key]['nevra']}"
        elif key not in new:
            yield f"  removed:    {old[key]['nevra']}"
        else:
            before, after = Evr.parse(old[key]["evr"]), Evr.parse(new[key]["evr"])
            order = after.compare(before)
            if order > 0:
                yield f"  upgraded:   {key}  {before} -> {after}"
            elif order < 0:
                yield f"  downgraded: {key}  {before} -> {after}"
            elif old[key].get("sha256") != new[key].get("sha256"):
                yield f"  rebuilt:    {new[key]['nevra']} (same version, different file)"


def _file_changes(old: Mapping[str, Any], new: Mapping[str, Any]) -> Iterator[str]:
    for rel in sorted(set(old) | set(new)):
        before, after = old.get(rel), new.get(rel)
        if before is None:
            yield f"  added:   {rel}"
        elif after is None:
            yield f"  removed: {rel}"
        elif before.get("sha256") != after.get("sha256"):
            if "text" in before and "text" in after:
                yield f"  changed: {rel}"
                diff = difflib.unified_diff(
                    before["text"].splitlines(),
                    after["text"].splitlines(),
                    fromfile=f"old/{rel}",
                    tofile=f"new/{rel}",
                    lineterm="",
                )
                yield from (f"    {line}" for line in diff)
            else:
                yield f"  changed: {rel} (sha256 {before.get('sha256')} -> {after.get('sha256')})"


def _value_changes(old: Manifest, new: Manifest, keys: list[tuple[str, str]]) -> Iterator[str]:
    for label, dotted in keys:
        a, b = _get(old, dotted), _get(new, dotted)
        if a != b:
            yield f"  {label}: {a} -> {b}"


def _get(data: Manifest, dotted: str) -> Any:
    value: Any = data
    for part in dotted.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


def diff_manifests(old: Manifest, new: Manifest) -> list[str]:
    """Human-readable lines: what changed from ``old`` to ``new`` (empty = same build)."""
    lines: list[str] = []

    def section(title: str, body: list[str]) -> None:
        if body:
            lines.append(title)
            lines.extend(body)

    section(
        "Build:",
        list(
            _value_changes(
                old,
                new,
                [
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
                ],
            )
        ),
    )
    section(
        "Gateway packages:",
        list(
            _package_changes(
                _packages(old, "inputs.gateway_packages"), _packages(new, "inputs.gateway_packages")
            )
        ),
    )
    section(
        "Install set:",
        list(_package_changes(_packages(old, "install_set"), _packages(new, "install_set"))),
    )
    section(
        "Kickstart and boot menus:",
        list(_file_changes(old.get("rendered", {}), new.get("rendered", {}))),
    )
    section(
        "Other files on the media:",
        [
            f"  changed: {rel}"
            if rel in old.get("staged", {}) and rel in new.get("staged", {})
            else f"  {'added' if rel in new.get('staged', {}) else 'removed'}: {rel}"
            for rel in sorted(set(old.get("staged", {})) | set(new.get("staged", {})))
            if old.get("staged", {}).get(rel) != new.get("staged", {}).get(rel)
            and not rel.startswith(f"{_REPODATA}/")
        ],
    )
    section(
        "Tools:",
        [
            f"  {tool}: {_get(old, 'tools').get(tool)} -> {_get(new, 'tools').get(tool)}"
            for tool in sorted(set(old.get("tools", {})) | set(new.get("tools", {})))
            if old.get("tools", {}).get(tool) != new.get("tools", {}).get(tool)
        ],
    )
    return lines


def diff_command(*, old: Path, new: Path) -> None:
    """``buildiso diff OLD NEW``: print what changed; "no changes" when nothing did."""
    before, after = load_manifest(old), load_manifest(new)
    lines = diff_manifests(before, after)
    click.echo(f"buildiso diff {old} -> {new}")
    old_iso, new_iso = before.get("iso", {}), after.get("iso", {})
    if old_iso.get("sha256") == new_iso.get("sha256"):
        click.echo("ISO: identical (same sha256)")
    else:
        click.echo(f"ISO: {old_iso.get('sha256', '?')[:16]}… -> {new_iso.get('sha256', '?')[:16]}…")
    if not lines:
        click.echo("no changes in inputs, install set or rendered files")
    for line in lines:
        click.echo(line)
