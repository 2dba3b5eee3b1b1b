"""The DAG as a picture: Graphviz's drawing, the layered fallback, and picture files.

Owns: the DOT description of the DAG (one box per node with its label, file, image and run
parameters, one arrow per Elyra link), running Graphviz (`dot`, through the `graphviz` Python
package) for SVG/PNG/PDF, falling back to dag_layout.py's SVG when Graphviz is missing, and
writing a picture file whole or not at all. Must not: load, plan or compile (callers pass the
Pipeline and its ParameterPlan), or import graphviz before a picture is asked for.

Why Graphviz: a kept layout engine places the nodes and routes the edges, so big or odd DAGs
never overlap; we only describe what each node box says. Every user text (labels, ids, file
names, defaults) reaches the DOT source either as escaped HTML-like label text or as an escaped
quoted string, so Korean, quotes, `<`, `&`, `\\` and braces draw as written.
"""
from __future__ import annotations

import html
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import dag_layout
from .display_style import (CONTROL, DEFAULT_LIMIT, FONT, KIND_STYLE, LABEL_LIMIT, MONO, TEXT_LIMIT, clip,
                            clip_middle, one_line, parameter_kind, readable)
from .errors import GraphvizUnavailable, T3qkfpError, UsageError

if TYPE_CHECKING:
    import graphviz

    from .model import Node, Pipeline
    from .params import ParameterPlan, RunParameter

logger = logging.getLogger("t3qkfp")
# Picture formats `write_dag` and `t3qkfp graph` accept: "dot" is the DOT source itself, the rest
# are rendered by Graphviz.
FORMATS = ("svg", "png", "pdf", "dot")
INSTALL_DOT_HINT = ("install Graphviz: `apt-get install -y --no-install-recommends graphviz` "
                    "(Debian/Ubuntu), `brew install graphviz` (macOS), `conda install graphviz`")
INSTALL_PACKAGE_HINT = "install the Python package: pip install 't3qkfp[notebooks]' (or graphviz>=0.20)"


def _xml_text(text: str) -> str:
    """Text for an HTML-like label cell: XML-escaped, backslashes doubled, no XML-illegal characters.

    Graphviz parses HTML-like labels with an XML parser, so `&`, `<`, `>` must be entities and
    control characters must go (shown as U+FFFD). Graphviz then still expands `\\N` (node
    name) and `\\G` (graph name) in label text and turns `\\\\` into one backslash, so every
    backslash is doubled (measured with dot 2.43; tests/test_display.py checks the round trip).
    """
    return html.escape(one_line(text), quote=False).replace("\\", "\\\\")


def _quoted(text: str) -> Any:
    """Text for a quoted DOT attribute (tooltips), so it reaches the SVG exactly as written.

    A tooltip is unescaped twice on its way into the SVG (escString substitution of `\\N`,
    `\\l`..., then the SVG writer's own unescaping), so a literal backslash needs four
    (measured with dot 2.43; tests/test_display.py checks the round trip). The SVG writer keeps
    anything that looks like an entity (`&amp;`), so `&` becomes `&amp;` first. `nohtml` keeps
    a text like `<x>` from being read as an HTML label; the package's quoting escapes `"`.
    """
    import graphviz

    text = CONTROL.sub("\ufffd", text).replace("\\", "\\" * 4)
    return graphviz.nohtml(text.replace("&", "&amp;"))


def _node_label(node: "Node", plan: "ParameterPlan", params: dict[str, "RunParameter"]) -> str:
    """The HTML-like label of one node box: label, kind and file, image, then its parameters."""
    rows = [
        f'<TR><TD ALIGN="LEFT" BALIGN="LEFT"><FONT POINT-SIZE="13"><B>{_xml_text(clip(node.label, LABEL_LIMIT))}</B></FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="10">{_xml_text(node.kind.short)}: '
        f'<FONT FACE="{MONO}">{_xml_text(clip(node.filename, TEXT_LIMIT))}</FONT></FONT></TD></TR>',
        f'<TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#555555">image: '
        f'{_xml_text(clip_middle(node.runtime_image, TEXT_LIMIT))}</FONT></TD></TR>',
    ]
    bindings = plan.bindings_of(node.id)
    if bindings:
        # One cell per parameter, names padded in a monospace font: Graphviz spreads spare width
        # over the columns of a nested table, which tore names and values apart.
        width = max(len(b.param) for b in bindings)
        rows.append("<HR/>")
        for b in bindings:
            parameter = params.get(b.param)
            colour = KIND_STYLE[parameter_kind(parameter)][0] if parameter else "#222222"
            default = readable(parameter.default, DEFAULT_LIMIT) if parameter else "?"
            padding = "\u00a0" * (width - len(b.param))
            env = (f'<FONT FACE="{FONT}" POINT-SIZE="9" COLOR="#555555">  (env {_xml_text(b.env_name)})</FONT>'
                   if b.env_name != b.param else "")
            rows.append(
                f'<TR><TD ALIGN="LEFT"><FONT FACE="{MONO}" POINT-SIZE="10"><FONT COLOR="{colour}"><B>{_xml_text(b.param)}</B></FONT>'
                f'{padding} = {_xml_text(default)}</FONT>{env}</TD></TR>')
    else:
        rows.append('<HR/><TR><TD ALIGN="LEFT"><FONT POINT-SIZE="9" COLOR="#777777">no run parameters</FONT></TD></TR>')
    return ('<<TABLE BORDER="1" COLOR="#8a8a8a" STYLE="ROUNDED" BGCOLOR="#f7f9fc" CELLBORDER="0" '
            'CELLSPACING="0" CELLPADDING="4">' + "".join(rows) + "</TABLE>>")


def _legend(plan: "ParameterPlan") -> str:
    kinds = sorted({parameter_kind(p) for p in plan.parameters}, key=list(KIND_STYLE).index)
    if not kinds:
        return ""
    cells = "".join(
        f'<TD><FONT POINT-SIZE="9" COLOR="{KIND_STYLE[k][0]}"><B>■</B> {html.escape(KIND_STYLE[k][1])}</FONT></TD>'
        for k in kinds)
    return f'<<TABLE BORDER="0" CELLSPACING="6"><TR>{cells}</TR></TABLE>>'


def dag_graph(pipeline: "Pipeline", plan: "ParameterPlan") -> "graphviz.Digraph":
    """The DAG as a `graphviz.Digraph`: one box per node, one arrow per Elyra link.

    DOT node names are generated (`n0`, `n1`, ...) so Elyra's ids, which may hold anything, never
    enter DOT syntax; the id and full label go into the tooltip as escaped strings.
    """
    graphviz = _graphviz_module()
    params = {p.name: p for p in plan.parameters}
    names = {node.id: f"n{i}" for i, node in enumerate(pipeline.nodes)}
    graph = graphviz.Digraph(name="t3qkfp", graph_attr={
        "rankdir": "LR", "nodesep": "0.35", "ranksep": "0.55", "fontname": FONT,
        "bgcolor": "white", "pad": "0.2", "labelloc": "b", "labeljust": "l",
        "tooltip": _quoted(pipeline.name)},
        node_attr={"shape": "plain", "fontname": FONT},
        edge_attr={"color": "#555555", "arrowsize": "0.8", "penwidth": "1.2"})
    legend = _legend(plan)
    if legend:
        graph.attr(label=legend)
    for node in pipeline.nodes:
        graph.node(names[node.id], label=_node_label(node, plan, params),
                   tooltip=_quoted(f"{node.label} (node id {node.id})"))
    for node in pipeline.nodes:
        for parent in node.parents:
            if parent in names:
                graph.edge(names[parent], names[node.id])
    return graph


def dag_dot(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The DOT source of the picture (needs the graphviz Python package, not the `dot` program)."""
    return dag_graph(pipeline, plan).source


def dag_svg(pipeline: "Pipeline", plan: "ParameterPlan") -> str:
    """The DAG picture as SVG text: laid out by Graphviz's `dot`, else by the pure-Python layout.

    Without Graphviz the note that it gives a better layout goes to the `t3qkfp` logger.
    """
    svg, note = drawn_svg(pipeline, plan)
    if note:
        logger.info("%s", note)
    return svg


def drawn_svg(pipeline: "Pipeline", plan: "ParameterPlan") -> tuple[str, str]:
    """The SVG and a one-line note, empty when Graphviz drew it.

    Why a fallback rather than an error: a JupyterHub user cannot install Graphviz, and the
    picture is how people check the DAG; dag_layout.py draws the same boxes in layers.
    """
    try:
        return render_graph(dag_graph(pipeline, plan), "svg").decode("utf-8"), ""
    except GraphvizUnavailable as unavailable:
        try:
            return dag_layout.layered_svg(pipeline, plan), dag_layout.NOTE
        except ModuleNotFoundError as exc:
            if (exc.name or "").partition(".")[0] != "grandalf":
                raise
            raise GraphvizUnavailable(f"{unavailable}; or pip install grandalf for a picture without "
                                      "Graphviz") from None


def write_dag(pipeline: "Pipeline", path: str | Path, plan: "ParameterPlan", *, fmt: str | None = None,
              data: bytes | None = None) -> Path:
    """Write the picture to `path`; the format comes from `fmt` or the suffix (.svg .png .pdf .dot)."""
    target = Path(path)
    kind = (fmt or target.suffix.lstrip(".") or "svg").lower()
    if kind == "gv":
        kind = "dot"
    if kind not in FORMATS:
        raise UsageError(f"cannot draw a {kind!r} picture: use one of {', '.join(FORMATS)} "
                         f"(from -f/--format or the file suffix)")
    if data is None:  # `data`: the picture already drawn (t3qkfp graph reports its note itself)
        data = picture_bytes(pipeline, plan, kind)
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    partial.write_bytes(data)
    partial.replace(target)  # a reader never sees half a picture
    return target


def picture_bytes(pipeline: "Pipeline", plan: "ParameterPlan", kind: str) -> bytes:
    """The picture in one of FORMATS; SVG needs no Graphviz (the note is logged), PNG/PDF/DOT do."""
    if kind == "svg":
        return dag_svg(pipeline, plan).encode("utf-8")
    try:
        graph = dag_graph(pipeline, plan)
        return graph.source.encode("utf-8") if kind == "dot" else render_graph(graph, kind)
    except GraphvizUnavailable as exc:
        raise GraphvizUnavailable(f"{exc}; an .svg picture is drawn without it") from None


def _graphviz_module() -> Any:
    try:
        import graphviz
    except ModuleNotFoundError as exc:
        if exc.name != "graphviz":
            raise
        raise GraphvizUnavailable("drawing the DAG needs the `graphviz` Python package, which is not "
                                  f"installed; {INSTALL_PACKAGE_HINT}") from None
    return graphviz


def render_graph(graph: "graphviz.Digraph", fmt: str) -> bytes:
    """Run `dot`; a missing program becomes one clear GraphvizUnavailable, not a traceback."""
    graphviz = _graphviz_module()
    try:
        return graph.pipe(format=fmt, encoding=None)
    except graphviz.ExecutableNotFound:
        raise GraphvizUnavailable("drawing the DAG needs Graphviz's `dot` program, which is not on "
                                  f"PATH; {INSTALL_DOT_HINT}") from None
    except graphviz.CalledProcessError as exc:
        # Our DOT is generated and escaped, so this is a bug in t3qkfp or in Graphviz.
        detail = (exc.stderr or b"").decode("utf-8", "replace").strip()
        raise T3qkfpError(f"Graphviz's `dot` failed to draw the DAG: {detail}") from None


def svg_inline(svg: str) -> str:
    """SVG text ready to sit inside HTML: without the XML prolog and DOCTYPE `dot` writes."""
    start = svg.find("<svg")
    return svg[start:] if start >= 0 else svg


def svg_texts(svg: str) -> list[str]:
    """Every text run of an SVG, as a reader sees them (for tests and for checking a picture)."""
    import xml.etree.ElementTree as ET

    root = ET.fromstring(svg.encode("utf-8"))
    return ["".join(element.itertext()) for element in root.iter("{http://www.w3.org/2000/svg}text")]
