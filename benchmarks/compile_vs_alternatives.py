"""t3qkfp's compile and local runner against the alternatives, as ratios measured in one run.

Run (full, CPU heavy: minutes on 2 cores):
    .venv/bin/python benchmarks/compile_vs_alternatives.py
Smoke (what CI runs through tests/test_benchmark_smoke.py; no timing is asserted):
    .venv/bin/python benchmarks/compile_vs_alternatives.py --smoke

Compared, for synthetic pipelines of N Python nodes with 5 env vars each (chain: each node after
the previous one; fan: one root and N-1 children), with the env defaults shared by all nodes
(5 run parameters) or distinct per node (5·N run parameters; the KFP 1.2 server's 10 KB limit on
them is lifted inside this benchmark only):
  t3qkfp   Elyra JSON file -> YAML text (compile_pipeline(...).yaml);
  (B)      kfp 1.2 `Compiler().compile` of the equivalent hand-written DSL: the same ContainerOps,
           env PipelineParams (pipeline function arguments), node spec and dependencies, and the
           loader command in every op (kfp 1.2's DSL has no workflow-level podSpecPatch, where
           t3qkfp writes it once);
  (C)      compile-then-edit: an Elyra-2.x-style DSL with literal env values compiled by kfp, the
           YAML loaded, env values rewritten to run parameters (template inputs, task arguments,
           DAG inputs, spec.arguments) and dumped again: "pure" with pure-Python PyYAML as kfp 1.2
           does throughout, "libyaml" with the C loader/dumper for the load and both dumps;
  floor    dumping t3qkfp's final dict with plain libyaml, and json.dumps of it.
Time is the best of a few runs (wall clock, one process); per-node CPU is process time / N.
The local runner part runs `t3qkfp run --local` on a chain of trivial Python nodes against
running the same scripts directly with python3, one after the other.
"""
from __future__ import annotations

import argparse
import gc
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import yaml

ENV_PER_NODE = 5
ROOT = Path(__file__).resolve().parents[1]


# --- inputs ----------------------------------------------------------------------------------

@dataclass(frozen=True, slots=True, kw_only=True)
class Case:
    """One synthetic pipeline shape."""

    nodes: int
    shape: str   # "chain" | "fan"
    shared: bool

    @property
    def name(self) -> str:
        return f"{self.shape:5s} {'shared' if self.shared else 'distinct':8s} N={self.nodes}"

    def parents(self, i: int) -> list[int]:
        if i == 0:
            return []
        return [i - 1] if self.shape == "chain" else [0]

    def env(self, i: int) -> list[tuple[str, str]]:
        return [(f"P{j}", f"v{j}" if self.shared else f"v{j}-{i}") for j in range(ENV_PER_NODE)]


def write_pipeline(folder: Path, case: Case, script: str = "print('hi')\n") -> Path:
    """An Elyra 3.x .pipeline file and its node scripts."""
    items = []
    for i in range(case.nodes):
        (folder / f"n{i}.py").write_text(script)
        links = [{"id": f"l{i}-{p}", "node_id_ref": f"id{p}", "port_id_ref": "outPort"} for p in case.parents(i)]
        env = [{"env_var": k, "value": v} for k, v in case.env(i)]
        items.append({"id": f"id{i}", "type": "execution_node", "op": "execute-python-node",
                      "app_data": {"label": f"Node {i}", "component_parameters": {
                          "filename": f"n{i}.py", "runtime_image": "python:3.11", "env_vars": env}},
                      "inputs": [{"id": "inPort", "links": links}], "outputs": [{"id": "outPort"}]})
    doc = {"doc_type": "pipeline", "version": "3.0", "primary_pipeline": "p",
           "pipelines": [{"id": "p", "nodes": items, "app_data": {"version": 8, "name": "bench"}}]}
    path = folder / "bench.pipeline"
    path.write_text(json.dumps(doc))
    return path


def lift_parameter_limit() -> None:
    """Distinct defaults make 5·N run parameters; the server limit is not the subject here."""
    from t3qkfp import params
    params.MAX_PARAMETER_BYTES = 10**12


def best(func: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """(best wall seconds, process seconds of that run) over `repeat` runs."""
    runs = []
    for _ in range(repeat):
        wall, cpu = time.perf_counter(), time.process_time()
        func()
        runs.append((time.perf_counter() - wall, time.process_time() - cpu))
    return min(runs)


# --- t3qkfp, stage by stage --------------------------------------------------------------------

def t3qkfp_compile(path: Path) -> str:
    from t3qkfp.compiler import compile_pipeline
    from t3qkfp.storage_settings import StorageConfig
    return compile_pipeline(path, storage=StorageConfig(), deterministic=True, allow_large=True).yaml


def t3qkfp_stages(path: Path) -> dict[str, float]:
    """The stages of compile_pipeline timed one by one (same calls, same order), with the cycle
    collector paused as compile_pipeline pauses it."""
    gc.disable()
    try:
        return _t3qkfp_stages(path)
    finally:
        gc.enable()


def _t3qkfp_stages(path: Path) -> dict[str, float]:
    from kfp.compiler import Compiler

    from t3qkfp import argo_emit, elyra_reader, go_yaml, kfp_build, node_files, params, workflow_size
    from t3qkfp.invariants import workflow_problems
    from t3qkfp.runtime.command import runtime_helper
    from t3qkfp.storage_settings import StorageConfig

    times: dict[str, float] = {}

    def stage(name: str, func: Callable[[], Any]) -> Any:
        start = time.perf_counter()
        result = func()
        times[name] = time.perf_counter() - start
        return result

    config = StorageConfig()
    loaded = stage("load", lambda: elyra_reader.load_checked(path))  # validation collects the node files
    pipeline = loaded.pipeline
    plan = stage("plan", lambda: params.plan(pipeline))
    archives = stage("archives", lambda: node_files.node_archives(pipeline, loaded.members))
    runtime_sha256 = runtime_helper()[1]
    builds = {i: kfp_build.NodeBuild(archive_sha256=a.sha256, runtime_sha256=runtime_sha256) for i, a in archives.items()}
    func, plist = stage("kfp build", lambda: kfp_build.build(pipeline, plan, config, builds))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        workflow = stage("kfp compiler", lambda: Compiler()._create_workflow(
            func, pipeline_name=plan.pipeline_name, params_list=plist))
    argo_emit.add_loader(workflow)
    links = {(plan.task(p), plan.task(n.id)) for n in pipeline.nodes for p in n.parents}
    problems = stage("checks", lambda: (workflow_size.measure(workflow), workflow_problems(workflow, plan, links))[1])
    assert not problems, problems
    stage("YAML", lambda: go_yaml.dump(workflow))
    return times


# --- (B) and (C): kfp's own compiler on hand-written DSL ---------------------------------------

def _node_specs(path: Path) -> dict[str, Any]:
    """Per node, the strings the hand-written DSL carries as literals (task, command, node spec)."""
    from t3qkfp import nodespec
    from t3qkfp.compiler import compile_pipeline
    from t3qkfp.runtime.command import container_command
    from t3qkfp.storage_settings import StorageConfig
    compiled = compile_pipeline(path, storage=StorageConfig(), deterministic=True, allow_large=True)
    tasks = [task for _, task in compiled.plan.tasks]
    spec = {}
    for template in compiled.workflow["spec"]["templates"]:
        if "container" in template:
            env = {e["name"]: e.get("value") for e in template["container"]["env"]}
            spec[template["name"]] = env[nodespec.NODE_ENV]
    # kfp 1.2's DSL cannot set a workflow-level podSpecPatch, so a hand-written DSL repeats the
    # loader command in every ContainerOp (t3qkfp writes it once, in spec.podSpecPatch).
    command = container_command()
    return {"tasks": tasks, "spec": [spec[t] for t in tasks], "command": command,
            "params": {p.name: p.default for p in compiled.plan.parameters},
            "binding": [{b.env_name: b.param for b in compiled.plan.bindings_of(node_id)}
                        for node_id, _ in compiled.plan.tasks]}


def dsl_function(case: Case, literal: dict[str, Any], *, with_params: bool) -> Callable[..., None]:
    """The pipeline function a user would write by hand: with run parameters as its arguments (B),
    or with literal env values, as Elyra 2.x exports it (C)."""
    from kfp import dsl
    from kubernetes.client import models as k8s

    from t3qkfp import nodespec

    def ops(values: dict[str, Any]) -> None:
        made = []
        for i, task in enumerate(literal["tasks"]):
            op = dsl.ContainerOp(name=task, image="python:3.11", command=list(literal["command"]),
                                 file_outputs={"mlpipeline-ui-metadata": nodespec.UI_METADATA_PATH,
                                               "mlpipeline-metrics": nodespec.METRICS_PATH})
            op.set_display_name(f"Node {i}")
            for env_name, param in literal["binding"][i].items():
                op.container.add_env_variable(k8s.V1EnvVar(name=env_name, value=values[param]))
            op.container.add_env_variable(k8s.V1EnvVar(name=nodespec.NODE_ENV, value=literal["spec"][i]))
            op.container.add_env_variable(k8s.V1EnvVar(name=nodespec.RUN_ID_ENV, value=nodespec.RUN_ID_VALUE))
            for name, key in nodespec.storage_secret_env(frozenset()):
                op.container.add_env_variable(k8s.V1EnvVar(name=name, value_from=k8s.V1EnvVarSource(
                    secret_key_ref=k8s.V1SecretKeySelector(name="mlpipeline-minio-artifact", key=key + "key"))))
            for parent in case.parents(i):
                op.after(made[parent])
            made.append(op)

    names = list(literal["params"])
    if not with_params:
        return lambda: ops(literal["params"])
    # A hand-written DSL names every run parameter as an argument with its default.
    source = "def pipeline(" + ", ".join(f"{n}={literal['params'][n]!r}" for n in names) + "):\n"
    source += "    ops({" + ", ".join(f"{n!r}: {n}" for n in names) + "})\n"
    namespace: dict[str, Any] = {"ops": ops}
    exec(source, namespace)  # noqa: S102 - generated from the benchmark's own names
    return namespace["pipeline"]


def kfp_compile(func: Callable[..., None], out: Path) -> None:
    from kfp.compiler import Compiler
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        Compiler().compile(func, str(out))


def edit_to_parameters(workflow: dict[str, Any], literal: dict[str, Any]) -> None:
    """Compile-then-edit: every bound env value becomes `{{inputs.parameters.X}}`, declared on
    the template, passed by its DAG task and listed in spec.arguments."""
    spec = workflow["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    binding = dict(zip(literal["tasks"], literal["binding"]))
    entry = templates[spec["entrypoint"]]
    for task in entry["dag"]["tasks"]:
        bound = binding[task["name"]]
        template = templates[task["template"]]
        for item in template["container"]["env"]:
            if item["name"] in bound:
                item["value"] = "{{inputs.parameters.%s}}" % bound[item["name"]]
        names = sorted(set(bound.values()))
        template["inputs"] = {"parameters": [{"name": n} for n in names]}
        task["arguments"] = {"parameters": [{"name": n, "value": "{{inputs.parameters.%s}}" % n} for n in names]}
    entry["inputs"] = {"parameters": [{"name": n} for n in literal["params"]]}
    spec["arguments"] = {"parameters": [{"name": n, "value": v} for n, v in literal["params"].items()]}


def compile_then_edit(func: Callable[[], None], literal: dict[str, Any], out: Path, *, libyaml: bool) -> None:
    if libyaml:
        from kfp.compiler import Compiler
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            workflow = Compiler()._create_workflow(func)
        out.write_text(yaml.dump(workflow, Dumper=yaml.CSafeDumper, default_flow_style=False))
        loaded = yaml.load(out.read_text(), Loader=yaml.CSafeLoader)
    else:
        kfp_compile(func, out)
        loaded = yaml.load(out.read_text(), Loader=yaml.SafeLoader)
    edit_to_parameters(loaded, literal)
    dumper = yaml.CSafeDumper if libyaml else yaml.SafeDumper
    out.write_text(yaml.dump(loaded, Dumper=dumper, default_flow_style=False))


def same_work(workflow: dict[str, Any], *others: Path) -> None:
    """The alternatives must produce what t3qkfp does, or the ratios compare different work: the
    same run parameters with the same defaults, the same tasks, dependencies and env per task."""
    def shape(wf: dict[str, Any]) -> tuple[Any, ...]:
        spec = wf["spec"]
        templates = {t["name"]: t for t in spec["templates"]}
        dag = templates[spec["entrypoint"]]["dag"]["tasks"]
        env = {t["name"]: [(e["name"], e.get("value")) for e in templates[t["template"]]["container"]["env"]]
               for t in dag}
        deps = sorted((d, t["name"]) for t in dag for d in t.get("dependencies", []))
        args = sorted((a["name"], a["value"]) for a in spec["arguments"]["parameters"])
        return args, deps, env
    mine = shape(workflow)
    for path in others:
        theirs = shape(yaml.load(path.read_text(), Loader=yaml.CSafeLoader))
        if theirs != mine:
            raise AssertionError(f"{path.name} does not do the same work as t3qkfp's workflow")


# --- the compile table ---------------------------------------------------------------------------

def compile_rows(cases: list[Case], repeat: int, out: Callable[[str], None]) -> list[dict[str, Any]]:
    from t3qkfp.compiler import compile_pipeline
    from t3qkfp.kfp_build import kfp_modules
    from t3qkfp.argo_emit import workflow_size
    from t3qkfp.storage_settings import StorageConfig

    kfp_modules()
    rows = []
    header = (f"{'case':26s} {'t3qkfp s':>9s} {'ms/node':>8s} {'cpu ms/n':>8s} {'B/t3':>6s} {'Cpure/t3':>8s} "
              f"{'Clib/t3':>7s} {'floor lib':>9s} {'json':>6s} {'KB/node':>7s} {'stored KB':>9s}")
    out(header)
    for case in cases:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = write_pipeline(folder, case)
            reps = repeat if case.nodes <= 200 else 1
            ours, cpu = best(lambda: t3qkfp_compile(path), reps)
            literal = _node_specs(path)
            b_func = dsl_function(case, literal, with_params=True)
            c_func = dsl_function(case, literal, with_params=False)
            theirs, _ = best(lambda: kfp_compile(b_func, folder / "b.yaml"), reps)
            c_pure, _ = best(lambda: compile_then_edit(c_func, literal, folder / "c.yaml", libyaml=False), reps)
            c_lib, _ = best(lambda: compile_then_edit(c_func, literal, folder / "c.yaml", libyaml=True), reps)
            compiled = compile_pipeline(path, storage=StorageConfig(), deterministic=True, allow_large=True)
            workflow = compiled.workflow
            same_work(workflow, folder / "b.yaml", folder / "c.yaml")
            floor_lib, _ = best(lambda: yaml.dump(workflow, Dumper=yaml.CSafeDumper, default_flow_style=False), reps)
            floor_json, _ = best(lambda: json.dumps(workflow), reps)
            stages = t3qkfp_stages(path)
            row = {"case": case, "t3qkfp": ours, "cpu": cpu, "B": theirs, "Cpure": c_pure, "Clib": c_lib,
                   "floor_lib": floor_lib, "floor_json": floor_json, "stages": stages,
                   "yaml_per_node": len(compiled.yaml.encode()) / case.nodes,
                   "stored": workflow_size(workflow)}
            rows.append(row)
            out(f"{case.name:26s} {ours:9.3f} {ours / case.nodes * 1000:8.2f} {cpu / case.nodes * 1000:8.2f} "
                f"{theirs / ours:6.2f} {c_pure / ours:8.2f} {c_lib / ours:7.2f} {floor_lib / ours:9.2f} "
                f"{floor_json / ours:6.3f} {row['yaml_per_node'] / 1024:7.2f} {row['stored'] / 1024:9.1f}")
    out("")
    out("stage breakdown (share of t3qkfp's time):")
    names = list(rows[0]["stages"])
    out(f"{'case':26s} " + " ".join(f"{n:>12s}" for n in names))
    for row in rows:
        total = sum(row["stages"].values())
        out(f"{row['case'].name:26s} " + " ".join(f"{row['stages'][n] / total * 100:11.0f}%" for n in names))
    return rows


def targets(rows: list[dict[str, Any]], out: Callable[[str], None]) -> None:
    """The issue's targets, judged on this run's figures (printed, never asserted)."""
    sizes = sorted({r["case"].nodes for r in rows})
    top, mid = sizes[-1], (200 if 200 in sizes else sizes[0])
    out("")
    out(f"targets at N={top} (scaling against N={mid}):")
    for row in (r for r in rows if r["case"].nodes == top):
        case = row["case"]
        base = next(r for r in rows if r["case"].nodes == mid and r["case"].shape == case.shape
                    and r["case"].shared == case.shared)
        scaling = (row["cpu"] / top) / (base["cpu"] / mid)
        marks = [("B/t3 >= 3", row["B"] / row["t3qkfp"], 3, True),
                 ("Cpure/t3 >= 6", row["Cpure"] / row["t3qkfp"], 6, True),
                 (f"cpu/node {top} vs {mid} <= 1.2", scaling, 1.2, False),
                 ("YAML KB/node <= 2.5", row["yaml_per_node"] / 1024, 2.5, False)]
        text = "  ".join(f"{label}: {value:.2f} {'ok' if (value >= goal if up else value <= goal) else 'MISSED'}"
                         for label, value, goal, up in marks)
        out(f"  {case.shape:5s} {'shared' if case.shared else 'distinct':8s} {text}")


# --- local runner ---------------------------------------------------------------------------------

def local_rows(counts: list[int], out: Callable[[str], None]) -> None:
    """`t3qkfp run --local` on chains of trivial Python nodes against the scripts run directly."""
    exe = Path(sys.executable).with_name("t3qkfp")
    env = dict(os.environ, PYTHONPATH=str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", ""))
    out("")
    out("local runner: chain of trivial Python nodes (print), wall seconds")
    out(f"{'nodes':>5s} {'t3qkfp run':>11s} {'scripts':>8s} {'overhead':>9s}")
    measured = {}
    for count in counts:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            path = write_pipeline(folder, Case(nodes=count, shape="chain", shared=True))
            start = time.perf_counter()
            subprocess.run([str(exe), "run", "--local", "--workdir", str(folder / "work"), str(path)],
                           check=True, capture_output=True, env=env, cwd=folder)
            ours = time.perf_counter() - start
            start = time.perf_counter()
            for i in range(count):
                subprocess.run(["python3", str(folder / f"n{i}.py")], check=True, capture_output=True)
            direct = time.perf_counter() - start
        measured[count] = (ours, direct)
        out(f"{count:5d} {ours:11.2f} {direct:8.2f} {ours - direct:9.2f}")
    if len(counts) > 1:
        low, high = min(counts), max(counts)
        marginal = (measured[high][0] - measured[low][0]) / (high - low)
        script = statistics.mean(measured[c][1] / c for c in counts)
        fixed = measured[low][0] - low * marginal
        out(f"fixed overhead ~{fixed:.2f} s (target <= 2.5), marginal {marginal:.2f} s per Python node "
            f"(target <= 0.2; the script alone: {script:.2f} s)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--smoke", action="store_true", help="tiny N, one repetition (CI)")
    parser.add_argument("--sizes", default="50,200,1000,2000", help="node counts, comma-separated")
    parser.add_argument("--local", default="1,5", help="node counts for the local runner ('' to skip)")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    sizes = [3, 6] if args.smoke else [int(s) for s in args.sizes.split(",") if s]
    local = [1, 2] if args.smoke else [int(s) for s in args.local.split(",") if s]
    repeat = 1 if args.smoke else args.repeat
    lift_parameter_limit()
    out = print
    out(f"python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}")
    cases = [Case(nodes=n, shape=shape, shared=shared) for n in sizes for shape in ("chain", "fan")
             for shared in (True, False)]
    rows = compile_rows(cases, repeat, out)
    targets(rows, out)
    if local:
        local_rows(local, out)
    out(f"load average at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
