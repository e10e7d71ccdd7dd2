"""The report's pages: ``index.html`` (the matrix, shards, build) and one page per cell.

Each cell page shows its result, failure class and reason, stage times, its filmstrip (each
thumbnail links to the full-size frame; ``#frame-N`` shows frame N), its screenshots,
post-install checks and serial logs (searchable text). Files a page shows are
copied next to it, so the report folder stands alone (CI pages, an artifact, a laptop).
They are read through ``report/cellfiles.py`` (no link followed, every read bounded): what
it refuses is listed on the page as a broken artifact, one line each, and never published.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from buildiso.boottest.artifacts import SCREENSHOTS
from buildiso.boottest.filmstrip import FOLDER, FULL
from buildiso.boottest.qemu import CONSOLE_LOG, FIRMWARE_LOG, PROTOCOL_LOG
from buildiso.report.cellfiles import LINK, MAX_LOG_BYTES, Refused, ResultsFolder
from buildiso.report.htmlbits import (
    FILTER_SCRIPT,
    bar,
    definition_list,
    esc,
    failure_legend,
    legend,
    log_block,
    page,
    seconds_text,
    stage_cell,
    stage_order,
)
from buildiso.report.results import CellRecord, Results, ShardRun

CSS = "report.css"
MACHINE = re.compile(r"[a-z0-9][a-z0-9-]{0,39}")  # a machine's log subfolder (scenario.py)
RESULT_TEXT = {"passed": "pass", "failed": "FAIL", "missing": "NOT RUN"}


@dataclass(frozen=True)
class BuildInfo:
    summary: list[tuple[str, object]]  # manifest summary rows (empty: no manifest given)
    manifest_name: str
    previous_name: str | None
    diff: list[str]  # `buildiso diff` lines (empty: no changes, or no previous)


def cell_href(record: CellRecord) -> str:
    return f"cells/{record.name}/index.html"


def index_page(results: Results, build: BuildInfo) -> str:
    counts = results.counts
    total = len(results.cells)
    ok = counts["passed"] == total and total > 0
    verdict = f"{counts['passed']} of {total} cells passed"
    if counts["failed"]:
        verdict += f", {counts['failed']} failed"
    if counts["missing"]:
        verdict += f", {counts['missing']} not run"
    if results.broken:
        verdict += f"; {len(results.broken)} shard(s) unreadable"
        ok = False
    order = stage_order(c.stages for c in results.cells)
    longest = max((c.seconds for c in results.cells), default=0.0)
    head = "".join(f'<th class="num">{esc(s)}</th>' for s in order)
    rows = []
    for cell in results.cells:
        by_name = {s.name: s for s in cell.stages}
        stages = "".join(stage_cell(by_name.get(s)) for s in order)
        name = (
            f'<a href="{esc(cell_href(cell))}">{esc(cell.name)}</a>'
            if cell.status != "missing"
            else esc(cell.name)
        )
        result = RESULT_TEXT[cell.status]
        if cell.failure_class and cell.status != "passed":
            result += f" <span class='class'>{esc(cell.failure_class)}</span>"
        rows.append(
            f'<tr class="{cell.status}" id="cell-{esc(cell.name)}">'
            f'<th scope="row">{name}</th><td class="result">{result}</td>'
            f"<td>{esc(cell.shard or '–')}</td>{stages}"
            f'<td class="num total">{esc(seconds_text(cell.seconds))}</td>'
            f'<td class="barcell">{bar(cell.stages, order, total=cell.seconds, longest=longest)}'
            "</td></tr>"
        )
        if cell.status != "passed":
            rows.append(
                f'<tr class="reason {cell.status}"><td></td>'
                f'<td colspan="{len(order) + 4}">{esc(cell.message)}</td></tr>'
            )
    matrix = (
        '<div class="scroll"><table class="matrix"><thead><tr><th>cell</th><th>result</th>'
        f'<th>shard</th>{head}<th class="num">total s</th><th>time line</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table></div>{legend(order)}"
        + failure_legend(c.failure_class for c in results.cells if c.status != "passed")
    )
    shards = (
        "<table><thead><tr><th>shard</th><th>cells</th><th>scenario</th><th>tested</th>"
        "<th>accel</th><th>why</th>"
        f'<th class="num">wall s</th></tr></thead><tbody>{"".join(map(_shard_row, results.shards))}'
        "</tbody></table>"
    )
    if results.isos_differ():
        shards += ('<p class="verdict bad">the shards tested different ISOs (their sha256 '
                   "differ): this report mixes builds</p>")  # fmt: skip
    body = [
        "<header><h1>Boot test report</h1>",
        f'<p class="verdict {"ok" if ok else "bad"}">{esc(verdict)}</p>',
        '<p class="files"><a href="junit.xml">junit.xml</a> (all shards merged)</p></header>',
        f'<section id="matrix"><h2>Matrix</h2>{matrix}</section>',
        f'<section id="shards"><h2>Shards</h2>{shards}</section>',
        f'<section id="build"><h2>Build</h2>{build_section(build)}</section>',
    ]
    return page(title=f"Boot test: {verdict}", body="\n".join(body), css=CSS)


def _shard_row(s: ShardRun) -> str:
    if s.summary is None:
        return (f'<tr class="failed"><td>{esc(s.folder.name)}</td><td colspan="6">unreadable: '
                f"{esc(s.problem)}</td></tr>")  # fmt: skip
    tested = "<br>".join(f"{esc(i.role)}: {esc(Path(i.path).name)} ({esc(i.identity)}), "
                         f"sha256 {esc(i.sha256)}" for i in s.summary.isos)  # fmt: skip
    return (
        f"<tr><td>{esc(s.shard)}</td><td>{esc(', '.join(s.cell_names) or '–')}</td>"
        f"<td>{esc(s.summary.scenario)}</td><td>{tested or '–'}</td>"
        f"<td>{esc(s.summary.accel)}</td><td>{esc(s.summary.accel_reason)}</td>"
        f'<td class="num">{esc(seconds_text(s.summary.wall_seconds))}</td></tr>'
    )


def build_section(build: BuildInfo) -> str:
    if not build.summary:
        return '<p class="note">no build manifest given (buildiso report --manifest)</p>'
    parts = [f"<h3>{esc(build.manifest_name)}</h3>", definition_list(build.summary)]
    if build.previous_name is None:
        parts.append('<p class="note">no previous manifest given (--previous): no diff</p>')
    else:
        parts.append(f"<h3>Changes since {esc(build.previous_name)}</h3>")
        text = "\n".join(build.diff) or "no changes in inputs, install set or rendered files"
        parts.append(f'<pre class="diff">{esc(text)}</pre>')
    return "\n".join(parts)


def write_cell_page(record: CellRecord, dest: Path) -> list[str]:
    """``dest/index.html`` for one cell, with the files it shows copied into ``dest``;
    returns the cell's broken artifacts (shown on the page, never published)."""
    dest.mkdir(parents=True, exist_ok=True)
    src = record.files
    broken = list(record.problems)
    sections = [
        _stages_section(record),
        _filmstrip_section(record, dest, broken),
        _screenshots_section(src, dest, broken),
        _checks_section(record),
        _logs_section(src, dest, broken),
    ]
    broken = list(dict.fromkeys(broken))  # a link met twice is one line
    body = [
        '<p class="nav"><a href="../../index.html">← all cells</a></p>',
        f"<header><h1>{esc(record.name)}</h1>",
        f'<p class="verdict {"ok" if record.status == "passed" else "bad"}">'
        f"{esc(RESULT_TEXT[record.status])}"
        + (f" — {esc(record.failure_class)}" if record.failure_class else "")
        + "</p>",
        f'<p class="message">{esc(record.message)}</p>',
        definition_list(
            [("shard", record.shard), ("scenario", record.result.scenario if record.result
                                       else "–"), ("accel", record.accel),
             ("total seconds", record.seconds)]
        ),  # fmt: skip
        failure_legend([record.failure_class] if record.status != "passed" else []),
        "</header>",
        *sections,
        _broken_section(broken),
    ]
    html_text = page(title=f"{record.name}: {RESULT_TEXT[record.status]}", body="\n".join(body),
                     css="../../" + CSS)  # fmt: skip
    (dest / "index.html").write_text(html_text, encoding="utf-8")
    return broken


def _broken_section(broken: Sequence[str]) -> str:
    if not broken:
        return ""
    items = "".join(f'<li class="broken">{esc(line)}</li>\n' for line in broken)
    return _section("broken", "Broken artifacts (not published)",
                    f'<p class="note">the report reads no link and no oversized file from a '
                    f"results folder</p>\n<ul>\n{items}</ul>")  # fmt: skip


def _copy_picture(src: ResultsFolder, names: Sequence[str], dest: Path, broken: list[str]) -> bool:
    """The PNG ``names`` (below ``src``) copied to ``dest``; False (and why, in ``broken``)
    when it is missing or refused."""
    try:
        data = src.read_picture(*names)
    except FileNotFoundError:
        return False
    except Refused as exc:
        broken.append(str(exc))
        return False
    except OSError as exc:
        broken.append(f"{src.shown(names)}: {exc.strerror}")
        return False
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_bytes(data)  # into the report's own new folder
    return True


def _stages_section(record: CellRecord) -> str:
    order = stage_order([record.stages])
    if not order:
        return '<section id="stages"><h2>Stages</h2><p class="note">no stage started</p></section>'
    rows = "".join(
        f"<tr><td>{esc(s.name)}</td>{stage_cell(s)}<td>{esc(s.status.value)}</td>"
        f'<td class="num">{esc(seconds_text(s.guest_seconds))}</td></tr>'
        for s in record.stages
    )
    return (
        '<section id="stages"><h2>Stages</h2>'
        f"{bar(record.stages, order, total=record.seconds, longest=record.seconds)}"
        '<table><thead><tr><th>stage</th><th class="num">host s</th><th>status</th>'
        f'<th class="num">guest s</th></tr></thead><tbody>{rows}</tbody></table></section>'
    )


def _filmstrip_section(record: CellRecord, dest: Path, broken: list[str]) -> str:
    src = record.files
    if not record.frames or src is None:
        why = record.frames_problem or "no frames were recorded"
        return _section("filmstrip", "Filmstrip", f'<p class="note">{esc(why)}</p>')
    figures = []
    for index, frame in enumerate(record.frames):
        name = frame.file  # a plain file name (results.FRAME_FILE): no paths
        if not _copy_picture(src, (FOLDER, name), dest / FOLDER / name, broken):
            continue
        link = f"{FOLDER}/{name}"  # results from before full-size frames: the frame itself
        full = Path(frame.full).name  # results.FULL_FRAME_FILE: "full/NAME"
        if frame.full and _copy_picture(src, (FOLDER, FULL, full), dest / FOLDER / FULL / full,
                                        broken):  # fmt: skip
            link = f"{FOLDER}/{FULL}/{full}"
        caption = f"{frame.stage} · {seconds_text(frame.t)} s"
        reason = frame.reason
        figures.append(
            f'<figure class="frame {esc(reason)}" id="frame-{index}">'
            f'<a href="{esc(link)}" title="full size">'
            f'<img src="{FOLDER}/{esc(name)}" alt="{esc(caption)}" loading="lazy" '
            f'width="{frame.width}" height="{frame.height}">'
            f"</a><figcaption>{esc(caption)}"
            + (f" <em>{esc(reason)}</em>" if reason not in ("stage", "") else "")
            + "</figcaption></figure>"
        )
    return _section("filmstrip", "Filmstrip", f'<div class="strip">{"".join(figures)}</div>')


def _screenshots_section(src: ResultsFolder | None, dest: Path, broken: list[str]) -> str:
    shots = []
    for name in SCREENSHOTS:
        if src is not None and _copy_picture(src, (name,), dest / name, broken):
            shots.append(
                f'<figure><a href="{name}"><img src="{name}" alt="{name}" class="shot"></a>'
                f"<figcaption>{name}</figcaption></figure>"
            )
    if not shots:
        return ""
    return _section("screens", "Screenshots", f'<div class="strip">{"".join(shots)}</div>')


def _checks_section(record: CellRecord) -> str:
    if not record.checks:
        return ""
    rows = "".join(
        f'<tr class="{"passed" if c.ok else "failed"}"><td>{esc(c.name)}</td>'
        f'<td>{"ok" if c.ok else "FAIL"}</td><td>{esc(c.message)}</td></tr>'
        for c in record.checks
    )
    return (
        '<section id="checks"><h2>Checks</h2><table><thead><tr><th>check</th>'
        f"<th>result</th><th>detail</th></tr></thead><tbody>{rows}</tbody></table></section>"
    )


def _logs_section(src: ResultsFolder | None, dest: Path, broken: list[str]) -> str:
    logs: Sequence[tuple[str, str, str]] = (
        (CONSOLE_LOG, "Console (ttyS0)", "C"),
        (PROTOCOL_LOG, "Installer protocol (ttyS1)", "P"),
        (FIRMWARE_LOG, "Firmware debug log", "F"),
    )
    if src is None:
        return ""
    parts = []
    # A scenario's other machines keep their logs in subfolders (server-install/, ...).
    machines = [""]
    for name, kind in src.entries():
        if not MACHINE.fullmatch(name) or kind not in ("dir", "link"):
            continue
        if kind == "link":
            broken.append(f"{src.shown([name])}: {LINK}")
        elif src.sub(name).kind(CONSOLE_LOG) != "missing":
            machines.append(name)
    for sub in machines:
        folder = src.sub(sub) if sub else src
        for name, title, anchor in logs:
            try:
                tail = folder.read_tail(name)
            except FileNotFoundError:
                continue
            except Refused as exc:
                broken.append(str(exc))
                continue
            except OSError as exc:
                broken.append(f"{folder.shown([name])}: {exc.strerror}")
                continue
            # Served as text/plain, never as HTML: the raw log keeps its escape sequences.
            copy = f"{sub}-{name}.txt" if sub else f"{name}.txt"
            (dest / copy).write_bytes(tail.data)
            shown = f"{sub}: {title}" if sub else title
            log_id = f"{sub}-{anchor}" if sub else anchor
            note = (f'<p class="note">the first {tail.skipped} bytes left out (the log is '
                    f"larger than {MAX_LOG_BYTES} bytes)</p>" if tail.skipped else "")  # fmt: skip
            parts.append(
                f'<h3 id="{log_id}">{esc(shown)} <a class="raw" href="{esc(copy)}">raw</a></h3>'
                + note
                + log_block(tail.data.decode("utf-8", errors="replace"), log_id=log_id)
            )
    if not parts:
        return ""
    bar_html = (
        '<p id="filterbar" hidden><label>Filter log lines <input type="search" id="filter">'
        '</label> <span id="filtercount"></span></p>'
    )
    return _section("logs", "Serial logs", bar_html + "".join(parts) + FILTER_SCRIPT)


def _section(anchor: str, title: str, body: str) -> str:
    return f'<section id="{anchor}"><h2>{esc(title)}</h2>{body}</section>'
