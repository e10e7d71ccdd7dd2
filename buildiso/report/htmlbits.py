"""Small HTML pieces for the report. Every text that came from a run is escaped here.

Serial logs, failure messages and even cell names are hostile input (a guest prints what
it likes); nothing from them reaches the page except through ``esc``.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from buildiso.boottest.bootproto import ALL_STAGES, strip_ansi

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


def stage_order(stage_maps: Iterable[Mapping[str, Any]]) -> list[str]:
    """Stages seen in any cell: the known ones in flow order, then any others by name."""
    seen: set[str] = set()
    for stages in stage_maps:
        seen.update(stages)
    return [s for s in ALL_STAGES if s in seen] + sorted(seen - set(ALL_STAGES))


def seconds_text(value: object) -> str:
    return f"{value:.1f}" if isinstance(value, int | float) else "–"


def stage_cell(info: Mapping[str, Any] | None) -> str:
    if info is None:
        return '<td class="num none">–</td>'
    status = str(info.get("status", ""))
    mark = " bad" if status in ("failed", "timeout") else ""
    return (
        f'<td class="num{mark}" title="{esc(status)}">'
        f"{esc(seconds_text(info.get('seconds')))}{'!' if mark else ''}</td>"
    )


def bar(
    stages: Mapping[str, Mapping[str, Any]], order: Sequence[str], *, total: float, longest: float
) -> str:
    """A horizontal bar as long as the cell's run, in one coloured segment per stage."""
    if longest <= 0 or total <= 0:
        return '<div class="bar empty"></div>'
    width = max(1.0, 100.0 * total / longest)
    parts = []
    for stage in order:
        info = stages.get(stage)
        seconds = info.get("seconds") if info else None
        if not isinstance(seconds, int | float) or seconds <= 0:
            continue
        status = str(info.get("status", "")) if info else ""
        bad = " bad" if status in ("failed", "timeout") else ""
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
