"""Small HTML pieces for the report. Every text that came from a run is escaped here.

Serial logs, failure messages and even cell names are hostile input (a guest prints what
it likes); nothing from them reaches the page except through ``esc``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence

from buildiso.boottest import cellfailure
from buildiso.boottest.bootproto import ALL_STAGES, strip_ansi
from buildiso.boottest.results import StageTiming

PALETTE_SIZE = 12
MAX_LOG_LINES = 20000

# Filter box for a serial log: shown only when scripts run; without them the log is plain
# text that the browser's own find searches.
FILTER_SCRIPT = """<script>
(function () {
  var box = document.getElementById("filter");
  if (!box) { return; }
  document.getElementById("filterbar").hidden = false;
  var lines = document.querySelectorAll("pre.log span.l");
  box.addEventListener("input", function () {
    var q = box.value.toLowerCase(), shown = 0;
    for (var i = 0; i < lines.length; i++) {
      var hit = !q || lines[i].textContent.toLowerCase().indexOf(q) >= 0;
      lines[i].style.display = hit ? "" : "none";
      if (hit) { shown++; }
    }
    document.getElementById("filtercount").textContent = q ? shown + " lines" : "";
  });
})();
</script>"""


def esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def page(*, title: str, body: str, css: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        f"<title>{esc(title)}</title>\n"
        f'<link rel="stylesheet" href="{esc(css)}">\n'
        f"</head>\n<body>\n{body}\n</body>\n</html>\n"
    )


def stage_order(cells: Iterable[Sequence[StageTiming]]) -> list[str]:
    """Stages seen in any cell: the install's in flow order, then the others as they came."""
    seen = list(dict.fromkeys(s.name for stages in cells for s in stages))
    return [s for s in ALL_STAGES if s in seen] + [s for s in seen if s not in ALL_STAGES]


def seconds_text(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "–"


def stage_cell(info: StageTiming | None) -> str:
    if info is None:
        return '<td class="num none">–</td>'
    mark = " bad" if info.bad else ""
    return (
        f'<td class="num{mark}" title="{esc(info.status.value)}">'
        f"{esc(seconds_text(info.seconds))}{'!' if mark else ''}</td>"
    )


def bar(
    stages: Sequence[StageTiming], order: Sequence[str], *, total: float, longest: float
) -> str:
    """A horizontal bar as long as the cell's run, in one coloured segment per stage."""
    if longest <= 0 or total <= 0:
        return '<div class="bar empty"></div>'
    width = max(1.0, 100.0 * total / longest)
    by_name = {s.name: s for s in stages}
    parts = []
    for stage in order:
        info = by_name.get(stage)
        seconds = info.seconds if info else None
        if seconds is None or seconds <= 0 or info is None:
            continue
        status = info.status.value
        bad = " bad" if info.bad else ""
        parts.append(
            f'<span class="seg st{order.index(stage) % PALETTE_SIZE}{bad}" '
            f'style="width:{100.0 * seconds / total:.2f}%" '
            f'title="{esc(stage)}: {seconds:.1f} s ({esc(status)})"></span>'
        )
    return f'<div class="bar" style="width:{width:.2f}%">{"".join(parts)}</div>'


def legend(order: Sequence[str]) -> str:
    items = "".join(
        f'<li><span class="swatch st{i % PALETTE_SIZE}"></span>{esc(stage)}</li>'
        for i, stage in enumerate(order)
    )
    return f'<ul class="legend">{items}</ul>'


def failure_legend(classes: Iterable[str | None]) -> str:
    """What each failure class shown means (boottest/cellfailure.py's closed set)."""
    shown = sorted({c for c in classes if c})
    if not shown:
        return ""
    rows = "".join(f"<dt>{esc(c)}</dt><dd>{esc(cellfailure.meaning(c))}</dd>" for c in shown)
    return f'<dl class="classes">{rows}</dl>'


def log_block(raw: str, *, log_id: str) -> str:
    """A serial log as text: ANSI stripped, every line anchored (#L12), escaped."""
    lines = strip_ansi(raw).split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    cut = len(lines) - MAX_LOG_LINES
    note = ""
    if cut > 0:
        note = f'<p class="note">first {cut} lines left out; the full log is linked above</p>'
        lines = lines[cut:]
    first = max(cut, 0) + 1
    body = "".join(
        f'<span class="l" id="{log_id}{n}"><a class="n" href="#{log_id}{n}">{n}</a>'
        f"{esc(text)}\n</span>"
        for n, text in enumerate(lines, start=first)
    )
    return f'{note}<pre class="log">{body}</pre>'


def definition_list(items: Sequence[tuple[str, object]]) -> str:
    rows = "".join(f"<dt>{esc(k)}</dt><dd>{esc(v)}</dd>" for k, v in items)
    return f"<dl>{rows}</dl>"
