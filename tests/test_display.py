"""Tables and DAG pictures: what a person sees in a terminal, in Jupyter and in `t3qkfp graph` output.

The SVG is read as XML, as a browser would, so a text that broke the markup (quotes, `<`, `&`,
backslashes Graphviz would expand) fails here rather than in someone's notebook.
"""
from __future__ import annotations

import html.parser
import itertools
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

import t3qkfp
from t3qkfp import dag_picture, display, display_style
from t3qkfp.errors import GraphvizUnavailable

from conftest import ROOT

EXAMPLE = ROOT / "examples" / "churn" / "churn.pipeline"
ODD = ROOT / "tests" / "cases" / "odd_labels" / "input.pipeline"
SVG = "{http://www.w3.org/2000/svg}"
XLINK = "{http://www.w3.org/1999/xlink}"

needs_dot = pytest.mark.skipif(shutil.which("dot") is None,
                               reason="Graphviz's dot is not installed (scripts/quickstart.sh installs it)")


def _node(node_id: str, label: str, filename: str, env: list[tuple[str, str]], parents: tuple[str, ...] = ()) -> dict:
    return {"id": node_id, "type": "execution_node", "op": "execute-python-node",
            "app_data": {"label": label,
                         "component_parameters": {"filename": filename, "runtime_image": "registry.example.com/ml/rt:1.0",
                                                  "env_vars": [{"env_var": k, "value": v} for k, v in env]},
                         "ui_data": {"label": label}},
            "inputs": [{"id": "inPort", "links": [{"id": f"link-{p}", "node_id_ref": p, "port_id_ref": "outPort"}
                                                  for p in parents]}],
            "outputs": [{"id": "outPort"}]}


# Labels and ids that break naive DOT or SVG: quotes, markup, entities, Graphviz's own escapes
# (\N node name, \G graph name, \l line end), XML's CDATA end, Korean, trailing backslash.
ODD_LABELS = ['데이터 "준비" <b>&amp;</b>', 'back\\slash \\N \\G \\l {x} ]]> -- end\\', "it's 100% [ok]; a=b"]
ODD_IDS = ['id "1" <x>', "id\\N\\l", "id's & 3"]


@pytest.fixture(scope="module")
def churn() -> tuple[t3qkfp.model.Pipeline, t3qkfp.ParameterPlan]:
    pipeline = t3qkfp.load(EXAMPLE)
    return pipeline, t3qkfp.plan(pipeline)


@pytest.fixture(scope="module")
def odd(tmp_path_factory: pytest.TempPathFactory) -> t3qkfp.model.Pipeline:
    folder = tmp_path_factory.mktemp("odd")
    for name in ("a.py", "b.py", "c.py"):
        (folder / name).write_text("print('hi')\n")
    nodes = [_node(ODD_IDS[0], ODD_LABELS[0], "a.py", [("A", '"q" <&>'), ("SHARED", "x\\N")]),
             _node(ODD_IDS[1], ODD_LABELS[1], "b.py", [("A", "back\\slash"), ("SHARED", "x\\N")], (ODD_IDS[0],)),
             _node(ODD_IDS[2], ODD_LABELS[2], "c.py", [], (ODD_IDS[1], ODD_IDS[0]))]
    document = {"doc_type": "pipeline", "version": "3.0", "id": "odd", "primary_pipeline": "p",
                "pipelines": [{"id": "p", "nodes": nodes,
                               "app_data": {"version": 8, "properties": {"name": 'odd "pipe" <&> 파이프라인'}}}]}
    return t3qkfp.load(document, base_dir=folder)


@pytest.fixture(params=["dot", "layered"])
def drawer(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    """Each picture test runs with Graphviz's `dot` and with `dot` removed from PATH (dag_layout.py)."""
    if request.param == "dot" and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed (scripts/quickstart.sh installs it)")
    if request.param == "layered":
        monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    return request.param


def svg_root(svg: str) -> ET.Element:
    return ET.fromstring(svg.encode("utf-8"))


def texts(svg: str) -> list[str]:
    return dag_picture.svg_texts(svg)


def node_boxes(svg: str) -> list[tuple[float, float, float, float]]:
    """(x0, y0, x1, y1) of each node's outline, from the coordinates of its paths and polygons."""
    boxes = []
    for group in svg_root(svg).iter(f"{SVG}g"):
        if group.get("class") != "node":
            continue
        numbers: list[float] = []
        for shape in itertools.chain(group.iter(f"{SVG}path"), group.iter(f"{SVG}polygon")):
            numbers += [float(n) for n in re.findall(r"-?\d+(?:\.\d+)?", shape.get("d") or shape.get("points") or "")]
        xs, ys = numbers[0::2], numbers[1::2]
        boxes.append((min(xs), min(ys), max(xs), max(ys)))
    return boxes


# --- the text table ---------------------------------------------------------------------------

def test_text_table_of_the_example(churn):
    pipeline, plan = churn
    assert display.plan_text(pipeline, plan) == """\
pipeline 'churn': 7 run parameters, 3 nodes
NAME                TYPE     DEFAULT  ENV VAR        NODES             NOTE
DATA_SIZE           Integer  200      DATA_SIZE      Load data
EPOCHS              Integer  20       EPOCHS         Train
LEARNING_RATE       Float    0.1      LEARNING_RATE  Train
SEED                Integer  42       SEED           Load data, Train  shared
THRESHOLD           Float    0.5      THRESHOLD      Evaluate
evaluate_LOG_LEVEL  String   DEBUG    LOG_LEVEL      Evaluate          defaults differ between 2 nodes
train_LOG_LEVEL     String   INFO     LOG_LEVEL      Train             defaults differ between 2 nodes"""


def test_text_table_aligns_korean_labels_by_display_width():
    pipeline = t3qkfp.load(ODD)
    lines = display.plan_text(pipeline, t3qkfp.plan(pipeline)).splitlines()[1:]
    note_columns = {display._width(line[: line.index("defaults") if "defaults" in line else line.index("NOTE")])
                    for line in lines}
    assert len(note_columns) == 1, lines


def test_text_table_quotes_empty_and_padded_defaults_and_keeps_lines_whole(odd):
    document = t3qkfp.load(ROOT / "tests" / "cases" / "v8_pipeline_parameters" / "input.pipeline")
    table = display.plan_text(document, t3qkfp.plan(document))
    assert re.search(r"^NO_VALUE\s+String\s+''\s+NO_VALUE", table, re.M)
    plan = t3qkfp.plan(odd)
    assert len(display.plan_text(odd, plan).splitlines()) == 2 + len(plan.parameters)


def test_dag_text_lists_nodes_parents_first_with_file_image_and_parameters(churn):
    pipeline, plan = churn
    text = display.dag_text(pipeline, plan)
    assert text.splitlines()[0] == "DAG: 3 nodes, 2 links"
    assert text.index("Load data") < text.index("Train") < text.index("Evaluate")
    assert "  Train  (python: train.py)" in text
    assert "image   quay.io/jupyter/scipy-notebook:2024-05-27" in text
    assert "after   Train" in text
    assert "train_LOG_LEVEL=INFO (env LOG_LEVEL)" in text
    assert str(pipeline) == display.plan_text(pipeline, plan) + "\n\n" + text


# --- the HTML table ---------------------------------------------------------------------------

class _Table(html.parser.HTMLParser):
    """Collects the cell texts of every body row."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.in_body = False
        self.cell: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        if tag == "tbody":
            self.in_body = True
        elif tag == "tr" and self.in_body:
            self.rows.append([])
        elif tag == "td" and self.in_body:
            self.cell = []

    def handle_endtag(self, tag):
        if tag == "td" and self.cell is not None:
            self.rows[-1].append("".join(self.cell))
            self.cell = None
        elif tag == "tbody":
            self.in_body = False

    def handle_data(self, data):
        if self.cell is not None:
            self.cell.append(data)


@pytest.mark.parametrize("which", ["churn", "odd"])
def test_html_table_has_every_row_with_its_cells(which, churn, odd):
    pipeline, plan = churn if which == "churn" else (odd, t3qkfp.plan(odd))
    parser = _Table()
    parser.feed(display.plan_html(pipeline, plan))
    expected = [[display_style.readable(c, 80) if i == 2 else c for i, c in enumerate(row)]
                for row in display.plan_rows(pipeline, plan)]
    assert parser.rows == expected
    assert len(parser.rows) == len(plan.parameters)


# --- the picture ------------------------------------------------------------------------------

def test_svg_of_the_example_has_every_node_parameter_file_and_image(churn, drawer):
    pipeline, plan = churn
    svg = dag_picture.dag_svg(pipeline, plan)
    shown = texts(svg)
    joined = "\n".join(shown)
    for node in pipeline.nodes:
        assert node.label in shown
        assert node.filename in shown
        assert node.runtime_image in joined
    for parameter in plan.parameters:
        assert parameter.name in shown
    groups = [g for g in svg_root(svg).iter(f"{SVG}g")]
    assert sum(g.get("class") == "node" for g in groups) == len(pipeline.nodes)
    assert sum(g.get("class") == "edge" for g in groups) == sum(len(n.parents) for n in pipeline.nodes)


@pytest.mark.parametrize("source", ["churn", "odd_labels", "odd"])
def test_node_boxes_do_not_overlap(source, odd, drawer):
    pipeline = {"churn": lambda: t3qkfp.load(EXAMPLE), "odd_labels": lambda: t3qkfp.load(ODD),
                "odd": lambda: odd}[source]()
    boxes = node_boxes(dag_picture.dag_svg(pipeline, t3qkfp.plan(pipeline)))
    assert len(boxes) == len(pipeline.nodes)
    for (a, b) in itertools.combinations(boxes, 2):
        apart = a[2] <= b[0] or b[2] <= a[0] or a[3] <= b[1] or b[3] <= a[1]
        assert apart, (a, b)


def test_odd_labels_ids_and_values_reach_the_svg_exactly(odd, drawer):
    plan = t3qkfp.plan(odd)
    svg = dag_picture.dag_svg(odd, plan)
    shown = texts(svg)
    for label in ODD_LABELS:
        assert label in shown
    for parameter in plan.parameters:
        assert parameter.name in shown
    assert any(t.endswith('= "q" <&>') for t in shown)
    assert any(t.endswith("= back\\slash") for t in shown)
    tooltips = [a.get(f"{XLINK}title") for a in svg_root(svg).iter(f"{SVG}a")]
    for node in odd.nodes:
        assert f"{node.label} (node id {node.id})" in tooltips
    assert odd.name in tooltips


def test_long_labels_are_cut_in_the_box_but_whole_in_the_tooltip(drawer):
    pipeline = t3qkfp.load(ODD)
    svg = dag_picture.dag_svg(pipeline, t3qkfp.plan(pipeline))
    long = next(n.label for n in pipeline.nodes if len(n.label) > 40)
    assert long[:39] + "…" in texts(svg)
    tooltips = [a.get(f"{XLINK}title") or "" for a in svg_root(svg).iter(f"{SVG}a")]
    assert any(t.startswith(long) for t in tooltips)


def test_dot_source_never_carries_user_text_as_node_names(odd):
    source = dag_picture.dag_dot(odd, t3qkfp.plan(odd))
    assert re.findall(r"^\s*(n\d+) \[", source, re.M) == ["n0", "n1", "n2"]
    assert re.findall(r"^\s*(n\d+ -> n\d+)", source, re.M) == ["n0 -> n1", "n1 -> n2", "n0 -> n2"]


@needs_dot
@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".png", b"\x89PNG"), (".pdf", b"%PDF"), (".dot", b"digraph")])
def test_write_dag_formats(tmp_path, churn, suffix, magic):
    pipeline, plan = churn
    target = dag_picture.write_dag(pipeline, tmp_path / "sub" / f"dag{suffix}", plan)
    assert target.read_bytes().startswith(magic)
    assert not list(target.parent.glob("*.partial"))


def test_write_dag_refuses_unknown_formats(tmp_path, churn):
    with pytest.raises(t3qkfp.UsageError, match="use one of svg, png, pdf, dot"):
        dag_picture.write_dag(churn[0], tmp_path / "dag.bmp", churn[1])


def test_without_dot_svg_is_drawn_in_layers_with_a_note_and_other_formats_say_why_not(monkeypatch, tmp_path, churn, caplog):
    pipeline, plan = churn
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    with caplog.at_level("INFO", logger="t3qkfp"):
        svg = dag_picture.dag_svg(pipeline, plan)
    assert "drawn without Graphviz; installing Graphviz (`dot`) gives a better layout" in caplog.text
    assert "train_LOG_LEVEL" in texts(svg)
    xs = [(b[0], b[2]) for b in node_boxes(svg)]
    assert xs[0][1] < xs[1][0] < xs[1][1] < xs[2][0], "load -> train -> evaluate read left to right"
    shown = pipeline._repr_html_()
    assert "<table" in shown and "<svg" in shown and "better layout" in shown and "<?xml" not in shown
    assert t3qkfp.picture(pipeline, plan).note.startswith("drawn without Graphviz")
    with pytest.raises(GraphvizUnavailable, match=r"`conda install graphviz`; an \.svg picture is drawn without it"):
        dag_picture.write_dag(pipeline, tmp_path / "dag.png", plan)
    assert not (tmp_path / "dag.png").exists()


def test_missing_graphviz_package_is_one_clear_error(monkeypatch, churn):
    monkeypatch.setitem(sys.modules, "graphviz", None)  # import graphviz -> ModuleNotFoundError
    with pytest.raises(GraphvizUnavailable, match=r"t3qkfp\[notebooks\]"):
        dag_picture.dag_dot(*churn)
    assert "<svg" in dag_picture.dag_svg(*churn)  # the picture is still drawn, in layers


def test_without_dot_or_grandalf_the_picture_says_what_to_install(monkeypatch, tmp_path, churn):
    """Neither Graphviz nor grandalf: one GraphvizUnavailable naming both, not grandalf's ModuleNotFoundError."""
    monkeypatch.setenv("PATH", str(tmp_path))  # no `dot` on it
    for name in [m for m in sys.modules if m.startswith("grandalf.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "grandalf", None)  # import grandalf -> ModuleNotFoundError
    with pytest.raises(GraphvizUnavailable, match=r"`conda install graphviz`; or pip install grandalf"):
        dag_picture.dag_svg(*churn)
    shown = churn[0]._repr_html_()
    assert "<table" in shown and "No DAG picture" in shown and "pip install grandalf" in shown


# --- rich display -----------------------------------------------------------------------------

@needs_dot
def test_pipeline_and_compiled_show_table_and_picture_in_jupyter(churn):
    pipeline, plan = churn
    for shown in (pipeline._repr_html_(), t3qkfp.compile_pipeline(EXAMPLE)._repr_html_(),
                  t3qkfp.view(pipeline)._repr_html_()):
        assert shown.count("<tr>") == 1 + len(plan.parameters)
        assert "<svg" in shown and "<?xml" not in shown and "<!DOCTYPE" not in shown
    assert "spec.arguments.parameters" in t3qkfp.compile_pipeline(EXAMPLE)._repr_html_()


def test_ipython_text_view_is_the_table_and_the_dag(churn):
    pipeline, plan = churn

    class Printer:
        def __init__(self) -> None:
            self.parts: list[str] = []

        def text(self, value: str) -> None:
            self.parts.append(value)

    printer = Printer()
    pipeline._repr_pretty_(printer, False)
    assert printer.parts == [display.pipeline_text(pipeline, plan)]
    assert repr(pipeline).startswith("Pipeline(")  # the dataclass repr stays for debugging


def test_view_takes_a_scope_or_a_plan_and_a_bad_plan_is_shown_not_raised(churn):
    pipeline, _ = churn
    per_node = t3qkfp.view(EXAMPLE, scope="node")
    assert {p.scope for p in per_node.plan.parameters} == {"node"}
    assert "Load data_SEED" not in str(per_node) and "load_data_SEED" in str(per_node)
    with pytest.raises(t3qkfp.PipelineError) as no_plan:
        t3qkfp.plan(pipeline, scope="pipeline")
    shown = display.no_plan_html(pipeline, no_plan.value)
    assert "no run-parameter plan" in shown and "LOG_LEVEL" in shown
    assert "its defaults differ" in display.no_plan_text(pipeline, no_plan.value)


def test_a_pipeline_whose_default_plan_fails_shows_why_instead_of_raising(tmp_path):
    """print() and Jupyter on a bare Pipeline make its default plan; when that fails the reason is shown."""
    (tmp_path / "a.py").write_text("print('hi')\n")
    env = [(f"V{i}", "x" * 900) for i in range(12)]  # about 11,000 bytes of defaults: over KFP's 10,000
    document = {"doc_type": "pipeline", "version": "3.0", "id": "big", "primary_pipeline": "p",
                "pipelines": [{"id": "p", "nodes": [_node("n1", "Only", "a.py", env)],
                               "app_data": {"version": 8, "properties": {"name": "big"}}}]}
    pipeline = t3qkfp.load(document, base_dir=tmp_path)
    with pytest.raises(t3qkfp.PipelineError, match="10000 the KFP 1.2 API server accepts"):
        t3qkfp.plan(pipeline)
    assert str(pipeline).startswith("pipeline 'big': 1 node\n") and "10000 the KFP 1.2 API server" in str(pipeline)
    shown = pipeline._repr_html_()
    assert "no run-parameter plan" in shown and "10000 the KFP 1.2 API server" in shown


# --- the command ------------------------------------------------------------------------------

def t3qkfp_cli(*args: str, cwd: Path | None = None, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "t3qkfp", *args], capture_output=True, cwd=cwd, env=env)


@needs_dot
def test_graph_command_writes_svg(tmp_path):
    result = t3qkfp_cli("graph", str(EXAMPLE), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == "wrote churn.svg\n"
    assert "train_LOG_LEVEL" in texts((tmp_path / "churn.svg").read_text())
    result = t3qkfp_cli("graph", str(EXAMPLE), "-o", str(tmp_path / "dag.png"))
    assert result.returncode == 0 and (tmp_path / "dag.png").read_bytes().startswith(b"\x89PNG")


def test_graph_command_dot_to_stdout_text_and_errors(tmp_path):
    dot = t3qkfp_cli("graph", str(EXAMPLE), "-f", "dot", "-o", "-")
    assert dot.returncode == 0 and dot.stdout.startswith(b"digraph t3qkfp {")
    text = t3qkfp_cli("graph", str(EXAMPLE), "--text")
    assert text.returncode == 0 and b"DAG: 3 nodes, 2 links" in text.stdout
    bad = t3qkfp_cli("graph", str(EXAMPLE), "-o", str(tmp_path / "x.bmp"))
    assert bad.returncode == 2 and b"use one of svg, png, pdf, dot" in bad.stderr
    missing = t3qkfp_cli("graph", str(tmp_path / "nope.pipeline"))
    assert missing.returncode == 1 and b"file not found" in missing.stderr
    assert t3qkfp_cli("graph", "--help").returncode == 0


def test_graph_command_without_dot_draws_svg_and_says_graphviz_is_better(tmp_path):
    import os

    env = {**os.environ, "PATH": str(tmp_path)}
    result = t3qkfp_cli("graph", str(EXAMPLE), "-o", str(tmp_path / "dag.svg"), env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.decode() == f"wrote {tmp_path / 'dag.svg'}\n"
    assert result.stderr.decode() == ("t3qkfp: note: drawn without Graphviz; installing Graphviz (`dot`) "
                                      "gives a better layout\n")
    assert "train_LOG_LEVEL" in texts((tmp_path / "dag.svg").read_text())
    piped = t3qkfp_cli("graph", str(EXAMPLE), "-o", "-", env=env)
    assert piped.returncode == 0 and piped.stdout.startswith(b"<?xml") and b"better layout" in piped.stderr
    png = t3qkfp_cli("graph", str(EXAMPLE), "-o", str(tmp_path / "dag.png"), env=env)
    assert png.returncode == 1
    assert b"needs Graphviz's `dot` program" in png.stderr and b"Traceback" not in png.stderr
    assert not (tmp_path / "dag.png").exists()


def test_a_plan_alone_shows_tasks_instead_of_labels(churn):
    _, plan = churn
    text = display.parameter_plan_text(plan)
    lines = text.splitlines()
    assert lines[0] == "plan 'churn' (scope auto): 7 run parameters, 3 tasks"
    assert lines[1].split() == ["NAME", "TYPE", "DEFAULT", "ENV", "VAR", "TASKS", "NOTE"]
    assert re.search(r"^SEED\s+Integer\s+42\s+SEED\s+load-data, train\s+shared$", text, re.M)
    parser = _Table()
    parser.feed(display.parameter_plan_html(plan))
    assert parser.rows == [list(row) for row in display.parameter_plan_rows(plan)]
    assert "<th" in display.parameter_plan_html(plan) and ">tasks</th>" in display.parameter_plan_html(plan)


def test_counts_of_one_read_as_english(tmp_path):
    (tmp_path / "a.py").write_text("print('hi')\n")
    document = {"doc_type": "pipeline", "version": "3.0", "id": "one", "primary_pipeline": "p",
                "pipelines": [{"id": "p", "nodes": [_node("n1", "Only", "a.py", [("A", "1")])],
                               "app_data": {"version": 8, "properties": {"name": "one"}}}]}
    pipeline = t3qkfp.load(document, base_dir=tmp_path)
    plan = t3qkfp.plan(pipeline)
    text = display.pipeline_text(pipeline, plan)
    assert text.startswith("pipeline 'one': 1 run parameter, 1 node\n")
    assert "DAG: 1 node, 0 links" in text
    assert "1 run parameter, 1 node</p>" in display.plan_html(pipeline, plan)
    assert "1 run parameter, 1 task" in display.parameter_plan_text(plan)
    path = tmp_path / "one.pipeline"
    path.write_text(__import__("json").dumps(document))
    result = t3qkfp_cli("validate", str(path))
    assert ": valid (1 node, 1 run parameter)\n" in result.stdout.decode(), result
