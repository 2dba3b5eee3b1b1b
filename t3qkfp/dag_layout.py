"""The DAG picture without Graphviz: a pure-Python layered layout drawn as SVG.

Owns: placing node boxes in layers left to right (grandalf's Sugiyama layout, the same family of
algorithm as Graphviz's `dot`), routing each link through the layers it crosses, and writing
the SVG in the look of dag_picture.py's Graphviz picture (rounded boxes, the same rows, colours
from display_style.py, legend and tooltips, `class="node"`/`class="edge"` groups). Must not:
decide what a box says beyond what the Graphviz label says, or need any program outside Python.

Why: a JupyterHub user cannot apt-get Graphviz, and without a picture the notebook and
`t3qkfp graph` lose the DAG. grandalf is small, pure Python and kept (one dependency,
pyparsing), so we only measure text and draw. Text widths are estimated from font metrics
(average Helvetica/Courier advance, East Asian wide characters twice as wide), which is close
enough for boxes that must not overlap and hold their text; dot measures exactly and routes
edges around boxes, which is why the note says Graphviz gives a better layout.
"""
from __future__ import annotations

import html
import unicodedata
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .display_style import (DEFAULT_LIMIT, FONT, KIND_STYLE, LABEL_LIMIT, MONO, TEXT_LIMIT, clip, clip_middle,
                            one_line, parameter_kind, readable)

if TYPE_CHECKING:
    from .model import Node, Pipeline
    from .params import ParameterPlan, RunParameter

NOTE = "drawn without Graphviz; installing Graphviz (`dot`) gives a better layout"

_PAD = 6.0          # inside a box, around its rows
_ROW_GAP = 4.0      # between rows
_LAYER_GAP = 56.0   # between layers (room for the arrows)
_NODE_GAP = 24.0    # between boxes of one layer
_MARGIN = 14.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Run:
    """One piece of text in a row: its own <text> element, as Graphviz writes one per font change."""

    text: str
    size: float
    mono: bool = False
    bold: bool = False
    colour: str = "#000000"

    @property
    def width(self) -> float:
        """Estimated advance: Courier is 0.6 em, Helvetica about 0.55 (bold 0.6); wide CJK 1 em."""
        per = 0.6 if (self.mono or self.bold) else 0.55
        total = 0.0
        for ch in self.text:
            if unicodedata.combining(ch):
                continue
            total += 1.0 if unicodedata.east_asian_width(ch) in ("W", "F") else per
        return total * self.size


@dataclass(frozen=True, slots=True, kw_only=True)
class Row:
    """A line of a box; `rule` draws a separator line above it."""

    runs: tuple[Run, ...]
    rule: bool = False

    @property
    def width(self) -> float:
        return sum(r.width for r in self.runs)

    @property
    def height(self) -> float:
        return max(r.size for r in self.runs) * 1.2


@dataclass(frozen=True, slots=True, kw_only=True)
class Box:
    """A node box: rows, tooltip and size."""

    rows: tuple[Row, ...]
    tooltip: str

    @property
    def width(self) -> float:
        return max(r.width for r in self.rows) + 2 * _PAD

    @property
    def height(self) -> float:
        return sum(r.height for r in self.rows) + _ROW_GAP * (len(self.rows) - 1) + 2 * _PAD


def node_box(node: "Node", plan: "ParameterPlan", params: dict[str, "RunParameter"]) -> Box:
    """The rows dag_picture.py's Graphviz label has, in the same fonts and colours."""
    rows = [Row(runs=(Run(text=clip(node.label, LABEL_LIMIT), size=13, bold=True),)),
            Row(runs=(Run(text=f"{node.kind.short}: ", size=10),
                      Run(text=clip(node.filename, TEXT_LIMIT), size=10, mono=True))),
            Row(runs=(Run(text=f"image: {clip_middle(node.runtime_image, TEXT_LIMIT)}", size=9,
                          colour="#555555"),))]
    bindings = plan.bindings_of(node.id)
    if not bindings:
        rows.append(Row(runs=(Run(text="no run parameters", size=9, colour="#777777"),), rule=True))
    width = max((len(b.param) for b in bindings), default=0)
    for i, b in enumerate(bindings):
        parameter = params.get(b.param)
        colour = KIND_STYLE[parameter_kind(parameter)][0] if parameter else "#222222"
        default = readable(parameter.default, DEFAULT_LIMIT) if parameter else "?"
        runs = [Run(text=b.param, size=10, mono=True, bold=True, colour=colour),
                Run(text="\u00a0" * (width - len(b.param)) + " = " + default, size=10, mono=True)]
        if b.env_name != b.param:
            runs.append(Run(text=f"  (env {b.env_name})", size=9, colour="#555555"))
        rows.append(Row(runs=tuple(runs), rule=i == 0))
    return Box(rows=tuple(rows), tooltip=f"{node.label} (node id {node.id})")


@dataclass(slots=True)
class _View:
    """grandalf's vertex/edge view: sizes in, position or path out.

    grandalf lays layers out top to bottom; we want them left to right like `rankdir=LR`, so a
    box's width is handed over as the view's height and the axes are swapped back afterwards.
    """

    w: float = 0.0
    h: float = 0.0
    xy: tuple[float, float] = (0.0, 0.0)
    path: list[tuple[float, float]] | None = None

    def setpath(self, points: list[tuple[float, float]]) -> None:
        self.path = list(points)


def layered_svg(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The DAG picture as SVG text, laid out in layers by grandalf (no Graphviz needed)."""
    from grandalf.graphs import Edge, Graph, Vertex
    from grandalf.layouts import SugiyamaLayout

    params = {p.name: p for p in plan.parameters}
    boxes = [node_box(node, plan, params) for node in pipeline.nodes]
    index = {node.id: i for i, node in enumerate(pipeline.nodes)}
    vertices = []
    for i, box in enumerate(boxes):
        vertex = Vertex(i)
        vertex.view = _View(w=box.height, h=box.width)
        vertices.append(vertex)
    links = [(index[parent], i) for i, node in enumerate(pipeline.nodes) for parent in node.parents
             if parent in index]
    edges = []
    for parent, child in links:
        edge = Edge(vertices[parent], vertices[child])
        edge.view = _View()
        edges.append(edge)
    graph = Graph(vertices, edges)

    # Each connected part is laid out alone and stacked below the previous one.
    centres: dict[int, tuple[float, float]] = {}
    paths: dict[int, list[tuple[float, float]]] = {}
    top = _MARGIN
    for component in sorted(graph.C, key=lambda c: min(v.data for v in c.sV)):
        layout = SugiyamaLayout(component)
        layout.xspace, layout.yspace = _NODE_GAP, _LAYER_GAP
        layout.init_all()
        layout.draw()
        placed = {v.data: (v.view.xy[1], v.view.xy[0]) for v in component.sV}  # swap back to LR
        y0 = min(y - boxes[i].height / 2 for i, (_, y) in placed.items())
        x0 = min(x - boxes[i].width / 2 for i, (x, _) in placed.items())
        for i, (x, y) in placed.items():
            centres[i] = (x - x0 + _MARGIN, y - y0 + top)
        for k, edge in enumerate(edges):
            if edge.v[0].data in placed and edge.view.path:
                paths[k] = [(py - x0 + _MARGIN, px - y0 + top) for px, py in edge.view.path]
        top = max(centres[i][1] + boxes[i].height / 2 for i in placed) + _NODE_GAP

    kinds = sorted({parameter_kind(p) for p in plan.parameters}, key=list(KIND_STYLE).index)
    legend_y = top + 4
    width = max([centres[i][0] + boxes[i].width / 2 for i in centres] + [0.0]) + _MARGIN
    legend_width = sum(Run(text="■ " + KIND_STYLE[k][1], size=9).width + 12 for k in kinds) + _MARGIN
    width = max(width, legend_width + _MARGIN, 120.0)
    height = legend_y + (16 if kinds else 0) + _MARGIN

    out = ['<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
           f'<svg width="{width:.0f}pt" height="{height:.0f}pt" viewBox="0.00 0.00 {width:.2f} {height:.2f}" '
           'xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">',
           f'<g id="graph0" class="graph" font-family="{FONT}">',
           "<title>t3qkfp</title>",
           f'<g id="a_graph0"><a xlink:title="{_attr(pipeline.name)}">',
           f'<rect x="0" y="0" width="{width:.2f}" height="{height:.2f}" fill="white" stroke="none"/>',
           "</a></g>"]
    for k, (parent, child) in enumerate(links):
        out.append(_edge_svg(k, parent, child, centres, boxes, paths.get(k)))
    for i, box in enumerate(boxes):
        out.append(_box_svg(i, box, centres[i]))
    x = _MARGIN
    for kind in kinds:
        colour, text = KIND_STYLE[kind]
        run = Run(text="■ " + text, size=9, colour=colour)
        out.append(f'<text x="{x:.2f}" y="{legend_y + 9:.2f}" font-size="9" fill="{colour}">{_text(run.text)}</text>')
        x += run.width + 12
    out.append("</g>\n</svg>\n")
    return "\n".join(out)


def _box_svg(i: int, box: Box, centre: tuple[float, float]) -> str:
    x0, y0 = centre[0] - box.width / 2, centre[1] - box.height / 2
    x1, y1 = x0 + box.width, y0 + box.height
    r = 5.0
    outline = (f"M{x0 + r:.2f},{y0:.2f} L{x1 - r:.2f},{y0:.2f} Q{x1:.2f},{y0:.2f} {x1:.2f},{y0 + r:.2f} "
               f"L{x1:.2f},{y1 - r:.2f} Q{x1:.2f},{y1:.2f} {x1 - r:.2f},{y1:.2f} L{x0 + r:.2f},{y1:.2f} "
               f"Q{x0:.2f},{y1:.2f} {x0:.2f},{y1 - r:.2f} L{x0:.2f},{y0 + r:.2f} Q{x0:.2f},{y0:.2f} {x0 + r:.2f},{y0:.2f} Z")
    parts = [f'<g id="node{i + 1}" class="node">', f"<title>n{i}</title>",
             f'<g id="a_node{i + 1}"><a xlink:title="{_attr(box.tooltip)}">',
             f'<path fill="#f7f9fc" stroke="#8a8a8a" d="{outline}"/>']
    y = y0 + _PAD
    for row in box.rows:
        if row.rule:
            rule = y - _ROW_GAP / 2
            parts.append(f'<path fill="none" stroke="#8a8a8a" d="M{x0:.2f},{rule:.2f} L{x1:.2f},{rule:.2f}"/>')
        baseline = y + row.height * 0.8
        x = x0 + _PAD
        for run in row.runs:
            family = f' font-family="{MONO}"' if run.mono else ""
            weight = ' font-weight="bold"' if run.bold else ""
            parts.append(f'<text text-anchor="start" x="{x:.2f}" y="{baseline:.2f}"{family}{weight} '
                         f'font-size="{run.size:g}" fill="{run.colour}" xml:space="preserve">{_text(run.text)}</text>')
            x += run.width
        y += row.height + _ROW_GAP
    parts.append("</a></g>\n</g>")
    return "\n".join(parts)


def _edge_svg(k: int, parent: int, child: int, centres: dict[int, tuple[float, float]], boxes: list[Box],
              path: list[tuple[float, float]] | None) -> str:
    """A link from the parent's right side to the child's left side, through its layer points."""
    (px, py), (cx, cy) = centres[parent], centres[child]
    start = (px + boxes[parent].width / 2, py)
    end = (cx - boxes[child].width / 2 - 7, cy)   # 7: the arrow head
    middle = (path or [])[1:-1]
    points = [start, *middle, end]
    d = f"M{start[0]:.2f},{start[1]:.2f}"
    for a, b in zip(points, points[1:]):
        bend = (b[0] - a[0]) / 2
        d += f" C{a[0] + bend:.2f},{a[1]:.2f} {b[0] - bend:.2f},{b[1]:.2f} {b[0]:.2f},{b[1]:.2f}"
    tip = end[0] + 7
    head = f"{tip:.2f},{end[1]:.2f} {end[0]:.2f},{end[1] - 3.5:.2f} {end[0]:.2f},{end[1] + 3.5:.2f} {tip:.2f},{end[1]:.2f}"
    return (f'<g id="edge{k + 1}" class="edge"><title>n{parent}&#45;&gt;n{child}</title>'
            f'<path fill="none" stroke="#555555" stroke-width="1.2" d="{d}"/>'
            f'<polygon fill="#555555" stroke="#555555" points="{head}"/></g>')


def _text(text: str) -> str:
    return html.escape(one_line(text), quote=False)


def _attr(text: str) -> str:
    return html.escape(one_line(text), quote=True)
