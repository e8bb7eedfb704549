"""SVG drawn on the server: layered graphs (a run's DAG, lineage), a timeline, line charts.

Pure functions from plain data to markup (no I/O, no store): every label is escaped here,
so templates insert the result as it is. Layout is deliberately simple and deterministic:
a node's column is its longest path from a source, rows follow the input order, edges are
cubic curves from the right side of one node to the left side of the next. Above
:data:`TIMELINE_ABOVE` steps a run page switches to :func:`timeline` (as ZenML does), where
a DAG that wide stops being readable.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from html import escape
from math import isfinite

__all__ = ["TIMELINE_ABOVE", "Bar", "Node", "Series", "layered_graph", "line_chart", "timeline"]

#: A run with more steps than this is drawn as a timeline instead of a graph.
TIMELINE_ABOVE = 100

_NODE_W, _NODE_H, _COL_GAP, _ROW_GAP, _PAD = 150, 34, 40, 14, 12
#: One colour per series, in order (colour-blind safe: Okabe-Ito).
PALETTE = ("#0072b2", "#e69f00", "#009e73", "#cc79a7", "#56b4e9", "#d55e00", "#f0e442")


@dataclass(frozen=True, slots=True)
class Node:
    """A box of a layered graph. ``kind`` becomes its CSS class (status, artifact...)."""

    id: str
    label: str
    kind: str = "node"
    href: str | None = None
    note: str | None = None  # a second, smaller line (``cached``, a version...)
    column: int | None = None  # forced column; None: longest path from a source


@dataclass(frozen=True, slots=True)
class Bar:
    """A row of a timeline: ``start`` and ``end`` in seconds from the run's start."""

    label: str
    start: float
    end: float
    kind: str
    href: str | None = None


@dataclass(frozen=True, slots=True)
class Series:
    """A named line of a chart: (x, y) points; None values leave a gap."""

    name: str
    points: Sequence[tuple[float, float | None]]


def _text(value: object, limit: int = 26) -> str:
    s = str(value)
    return escape(s if len(s) <= limit else s[: limit - 1] + "…")


def _columns(nodes: Sequence[Node], edges: Sequence[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a source (cycles, which a plan never has, are cut)."""
    ups: dict[str, list[str]] = {n.id: [] for n in nodes}
    for a, b in edges:
        if a in ups and b in ups:
            ups[b].append(a)
    col: dict[str, int] = {n.id: n.column for n in nodes if n.column is not None}
    for start in ups:
        stack: list[tuple[str, bool]] = [(start, False)]
        visiting: set[str] = set()
        while stack:
            nid, expanded = stack.pop()
            if nid in col:
                continue
            if expanded:
                visiting.discard(nid)
                col[nid] = 1 + max((col.get(u, 0) for u in ups[nid]), default=-1)
                continue
            visiting.add(nid)
            stack.append((nid, True))
            stack.extend((u, False) for u in ups[nid] if u not in col and u not in visiting)
    return col


def layered_graph(
    nodes: Sequence[Node], edges: Sequence[tuple[str, str]], *, title: str = "graph"
) -> str:
    """Boxes in columns, edges as curves; each box links to its ``href``."""
    if not nodes:
        return ""
    col = _columns(nodes, edges)
    rows: dict[int, int] = {}
    pos: dict[str, tuple[float, float]] = {}
    for n in nodes:
        c = col[n.id]
        r = rows.get(c, 0)
        rows[c] = r + 1
        pos[n.id] = (_PAD + c * (_NODE_W + _COL_GAP), _PAD + r * (_NODE_H + _ROW_GAP))
    width = _PAD * 2 + (max(col.values()) + 1) * (_NODE_W + _COL_GAP) - _COL_GAP
    height = _PAD * 2 + max(rows.values()) * (_NODE_H + _ROW_GAP) - _ROW_GAP
    out = [
        f'<svg class="graph" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}">'
    ]
    for a, b in edges:
        if a not in pos or b not in pos:
            continue
        x1, y1 = pos[a][0] + _NODE_W, pos[a][1] + _NODE_H / 2
        x2, y2 = pos[b][0], pos[b][1] + _NODE_H / 2
        mid = (x1 + x2) / 2
        out.append(
            f'<path class="edge" d="M{x1:.0f},{y1:.0f} C{mid:.0f},{y1:.0f} '
            f'{mid:.0f},{y2:.0f} {x2:.0f},{y2:.0f}"/>'
        )
    for n in nodes:
        x, y = pos[n.id]
        box = (
            f'<g class="node {escape(n.kind)}" data-id="{escape(n.id)}">'
            f"<title>{escape(n.label)}{' (' + escape(n.note) + ')' if n.note else ''}</title>"
            f'<rect x="{x:.0f}" y="{y:.0f}" width="{_NODE_W}" height="{_NODE_H}" rx="5"/>'
        )
        if n.note:
            box += (
                f'<text x="{x + 8:.0f}" y="{y + 15:.0f}">{_text(n.label, 22)}</text>'
                f'<text class="note" x="{x + 8:.0f}" y="{y + 28:.0f}">{_text(n.note, 26)}</text>'
            )
        else:
            box += f'<text x="{x + 8:.0f}" y="{y + 21:.0f}">{_text(n.label, 22)}</text>'
        box += "</g>"
        if n.href:
            box = f'<a href="{escape(n.href)}">{box}</a>'
        out.append(box)
    out.append("</svg>")
    return "".join(out)


def timeline(bars: Sequence[Bar], *, width: int = 900) -> str:
    """One row per step, a bar from its start to its end (seconds from the run's start)."""
    if not bars:
        return ""
    label_w, row_h = 180, 14
    span = max((b.end for b in bars), default=0.0) or 1.0
    scale = (width - label_w - _PAD) / span
    height = _PAD * 2 + len(bars) * row_h + 16
    out = [
        f'<svg class="timeline" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" aria-label="timeline">'
        f'<text class="axis" x="{label_w}" y="{_PAD}">0 s</text>'
        f'<text class="axis" x="{width - _PAD}" y="{_PAD}" text-anchor="end">{span:.3g} s</text>'
    ]
    for i, b in enumerate(bars):
        y = _PAD + 8 + i * row_h
        x = label_w + b.start * scale
        w = max(2.0, (b.end - b.start) * scale)
        row = (
            f'<g class="bar {escape(b.kind)}"><title>{escape(b.label)}: '
            f"{b.end - b.start:.3f} s</title>"
            f'<text x="{label_w - 6}" y="{y + 10}" text-anchor="end">{_text(b.label)}</text>'
            f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row_h - 4}" rx="2"/></g>'
        )
        out.append(f'<a href="{escape(b.href)}">{row}</a>' if b.href else row)
    out.append("</svg>")
    return "".join(out)


def _fmt(v: float) -> str:
    return f"{v:.3g}"


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    width: int = 420,
    height: int = 180,
    x_labels: Mapping[float, str] | None = None,
    y_min: float | None = None,
) -> str:
    """Lines with a legend, the y range written at the left; empty data draws an empty frame."""
    pts = [(x, y) for s in series for x, y in s.points if y is not None and isfinite(y)]
    left, right, top, bottom = 48, 10, 22, 22
    out = [
        f'<svg class="chart" xmlns="http://www.w3.org/2000/svg" width="{width}" '
        f'height="{height}" viewBox="0 0 {width} {height}" role="img" '
        f'aria-label="{escape(title)}"><text class="title" x="{left}" y="14">'
        f"{escape(title)}</text>"
        f'<rect class="frame" x="{left}" y="{top}" width="{width - left - right}" '
        f'height="{height - top - bottom}"/>'
    ]
    if pts:
        xs = [p[0] for p in pts]
        ys = [p[1] for p in pts]
        x0, x1 = min(xs), max(xs)
        y0 = min(ys) if y_min is None else min(y_min, min(ys))
        y1 = max(ys)
        if y1 == y0:
            y1 = y0 + (abs(y0) or 1.0)
        if x1 == x0:
            x1 = x0 + 1.0

        def px(x: float) -> float:
            return left + (x - x0) / (x1 - x0) * (width - left - right)

        def py(y: float) -> float:
            return height - bottom - (y - y0) / (y1 - y0) * (height - top - bottom)

        out.append(f'<text class="axis" x="{left - 4}" y="{top + 8}" text-anchor="end">')
        out.append(f"{_fmt(y1)}</text>")
        out.append(
            f'<text class="axis" x="{left - 4}" y="{height - bottom}" text-anchor="end">'
            f"{_fmt(y0)}</text>"
        )
        for x, label in (x_labels or {}).items():
            out.append(
                f'<text class="axis" x="{px(x):.1f}" y="{height - 6}" text-anchor="middle">'
                f"{escape(label)}</text>"
            )
        legend_x = width - right
        for i, s in enumerate(series):
            if not any(y is not None for _, y in s.points):
                continue  # no value yet: no legend (its colour stays its own)
            colour = PALETTE[i % len(PALETTE)]
            segments: list[list[str]] = [[]]
            for x, y in s.points:
                if y is None or not isfinite(y):
                    segments.append([])
                    continue
                segments[-1].append(f"{px(x):.1f},{py(y):.1f}")
            for seg in segments:
                if len(seg) > 1:
                    out.append(
                        f'<polyline class="line" stroke="{colour}" points="{" ".join(seg)}"/>'
                    )
                for point in seg:
                    cx, cy = point.split(",")
                    out.append(f'<circle cx="{cx}" cy="{cy}" r="2.5" fill="{colour}"/>')
            out.append(
                f'<text class="legend" x="{legend_x}" y="14" text-anchor="end" '
                f'style="fill:{colour}">{_text(s.name, 20)}</text>'
            )
            legend_x -= 8 + 7 * min(len(s.name), 20)
    else:
        out.append(
            f'<text class="axis" x="{width / 2:.0f}" y="{height / 2:.0f}" '
            'text-anchor="middle">no data yet</text>'
        )
    out.append("</svg>")
    return "".join(out)
