"""``buildiso report RESULTS… --out DIR``: one JUnit file and one static HTML report.

Checks every input first (``--out``, the result folders, the manifests), writes the report
into a temporary folder beside ``DIR`` and renames it into place: a half-written report is
never published. ``DIR`` may hold an older report (it is replaced) but nothing else; one
report at a time writes it (``outdir.locked``: a second is refused in one line), and
SIGTERM/SIGHUP remove the temporary folder as Ctrl-C does. Files inside the result folders
are read without following links and within bounds (``report/cellfiles.py``); what is
refused is listed on its cell's page and counted here.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from importlib import resources
from pathlib import Path
from typing import Any

from buildiso import outdir
from buildiso.atomicfile import replace_dir
from buildiso.errors import InputError
from buildiso.interrupts import terminate_as_interrupt
from buildiso.log import step
from buildiso.manifest import Manifest, diff_manifests, load_manifest
from buildiso.report.junitmerge import merge_junit
from buildiso.report.pages import CSS, BuildInfo, index_page, write_cell_page
from buildiso.report.results import Results, load_results

log = logging.getLogger(__name__)

MARKER = ".buildiso-report"


def _get(data: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        data = data.get(part) if isinstance(data, dict) else None
    return data


def manifest_summary(manifest: Manifest) -> list[tuple[str, object]]:
    """The rows a person reads first: what was built, from what, how big."""
    size = _get(manifest, "iso.size")
    gateway = _get(manifest, "inputs.gateway_packages") or []
    install_set = manifest.get("install_set") or []
    rows: list[tuple[str, object]] = [
        ("product", f"{_get(manifest, 'product.name')} {_get(manifest, 'product.version')} "
                    f"build {_get(manifest, 'product.build')}"),  # fmt: skip
        ("ISO", _get(manifest, "iso.name")),
        ("volume label", _get(manifest, "iso.volume_label")),
        ("size", f"{size / 2**20:.1f} MiB" if isinstance(size, int) else "?"),
        ("sha256", _get(manifest, "iso.sha256")),
        ("base", _get(manifest, "inputs.base.label")),
        ("signing key", _get(manifest, "inputs.signing.key_id")),
        ("unsigned packages allowed", _get(manifest, "inputs.signing.allow_unsigned")),
        ("profile variant", _get(manifest, "inputs.profile.variant")),
        ("SOURCE_DATE_EPOCH", _get(manifest, "inputs.source_date_epoch")),
        ("install set", f"{len(install_set)} packages" if isinstance(install_set, list) else "?"),
        (
            "gateway packages",
            ", ".join(str(p.get("nevra")) for p in gateway if isinstance(p, dict)) or "none",
        ),
        ("buildiso", manifest.get("buildiso_version")),
    ]
    return [(k, "?" if v is None else v) for k, v in rows]


def _build_info(manifest: Path | None, previous: Path | None) -> BuildInfo:
    if manifest is None:
        if previous is not None:
            raise InputError(
                "--previous needs --manifest (the build to compare with it)",
                hint="add --manifest out/EMAIL_490_190.manifest.json",
            )
        return BuildInfo(summary=[], manifest_name="", previous_name=None, diff=[])
    new = load_manifest(manifest)
    if previous is None:
        return BuildInfo(
            summary=manifest_summary(new), manifest_name=manifest.name, previous_name=None, diff=[]
        )
    old = load_manifest(previous)
    lines = []
    old_sha, new_sha = _get(old, "iso.sha256"), _get(new, "iso.sha256")
    lines.append(
        "ISO: identical (same sha256)"
        if old_sha == new_sha
        else f"ISO: {str(old_sha)[:16]}… -> {str(new_sha)[:16]}…"
    )
    lines += diff_manifests(old, new)
    return BuildInfo(
        summary=manifest_summary(new),
        manifest_name=manifest.name,
        previous_name=str(previous),
        diff=lines,
    )


def _check_out(out: Path) -> None:
    if out.is_symlink():  # replaced by a new folder: the link would be dropped
        raise InputError(f"--out {out}: a symbolic link", hint="give the folder itself")
    if out.exists() and not out.is_dir():
        raise InputError(f"{out}: exists and is not a folder", hint="give a folder for --out")
    if out.is_dir() and any(out.iterdir()) and not (out / MARKER).exists():
        raise InputError(
            f"{out}: not empty and not a buildiso report",
            hint="give a new or empty folder (an older report there is replaced)",
        )


def write_report(results: Results, build: BuildInfo, dest: Path) -> int:
    """The report's files into ``dest`` (an empty folder); how many broken artifacts the
    cell pages list (not published)."""
    css = resources.files("buildiso.report").joinpath(CSS).read_text(encoding="utf-8")
    (dest / CSS).write_text(css, encoding="utf-8")
    merge_junit(results, dest / "junit.xml")
    broken = 0
    for record in results.cells:
        if record.status != "missing":
            lines = write_cell_page(record, dest / "cells" / record.name)
            for line in lines:
                log.warning("%s: not published: %s", record.name, line)
            broken += len(lines)
    (dest / "index.html").write_text(index_page(results, build), encoding="utf-8")
    (dest / MARKER).write_text("written by buildiso report\n", encoding="utf-8")
    return broken


def report_command(
    *, results: list[Path], out: Path, manifest: Path | None, previous: Path | None
) -> Results:
    """``buildiso report``: returns what it read (for the caller's summary line)."""
    if not results:
        raise InputError("no results given", hint="buildiso report SHARD1 SHARD2 … --out DIR")
    outdir.check(out, option="--out")
    _check_out(out)
    loaded = load_results(results)
    build = _build_info(manifest, previous)
    with (
        terminate_as_interrupt(),
        outdir.removed_if_left_empty(out),
        outdir.locked(out, option="--out", verb="report") as lock,
    ):
        _check_out(out)  # again, now that no other report writes it
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
        try:
            lock.also(tmp)  # the folder that takes out's place is locked before it does
            broken = write_report(loaded, build, tmp)
            replace_dir(tmp, out)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    counts = loaded.counts
    step(
        f"report: {counts['passed']} passed, {counts['failed']} failed, "
        f"{counts['missing']} not run -> {out / 'index.html'}"
        + (f" ({broken} broken artifact(s) not published: see the cell pages)" if broken else "")
    )
    return loaded
