"""The look every display shares: parameter colours, fonts, text limits and how a value is cut.

Owns: what colour each kind of run parameter gets (table names, picture boxes, legend), the
fonts and the clipping limits of a node box, and the few rules that turn user text into one
readable line (defaults quoted when empty, padded or multi-line; long text cut with "…";
XML-illegal characters shown as U+FFFD). Must not: import anything but the plan's types.

Why separate: the tables (display.py), the Graphviz picture (dag_picture.py) and the picture
drawn without Graphviz (dag_layout.py) must say the same things in the same colours; when
these lived in display.py, dag_layout.py reached back up into it for them.
"""
from __future__ import annotations

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .params import RunParameter

# How a parameter is coloured in the picture and what the legend calls it (colour-blind safe:
# blue / orange / purple differ in lightness too).
KIND_STYLE = {
    "shared": ("#1f5fa8", "shared by several nodes"),
    "node": ("#b35900", "per node (defaults differ or scope node)"),
    "elyra": ("#6a3d9a", "Elyra pipeline parameter"),
    "single": ("#222222", "used by one node"),
}
FONT = "Helvetica,Arial,sans-serif"
MONO = "Courier,monospace"
LABEL_LIMIT = 40     # characters of a node label shown in a box (the tooltip has all of it)
TEXT_LIMIT = 44      # file names and images
DEFAULT_LIMIT = 24   # parameter defaults inside a box
# Characters XML 1.0 (and so SVG and Graphviz's HTML labels) cannot hold, plus C1 controls.
CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def parameter_kind(parameter: "RunParameter") -> str:
    """Which colour a parameter gets (a key of KIND_STYLE)."""
    if parameter.origin == "elyra":
        return "elyra"
    if parameter.scope == "node":
        return "node"
    return "shared" if len(parameter.node_ids) > 1 else "single"


def readable(value: str, limit: int = 40) -> str:
    """A default as a person should read it: empty, padded or multi-line values quoted, long ones cut."""
    text = repr(value) if (value == "" or value != value.strip() or "\n" in value) else value
    return clip(text, limit)


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, the last one "…" when anything was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def clip_middle(text: str, limit: int) -> str:
    """Long image names keep their registry start and their tag, which is what people check."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


def one_line(text: str) -> str:
    """A label as one line: a tab or newline would break a table's columns or a box's row."""
    return CONTROL.sub("\ufffd", text.replace("\t", " ").replace("\n", " "))
