"""Compile speed, printed as ratios measured in one run (not a test).

Measures, for synthetic pipelines of N nodes (5 env vars each, chained):
  * t3qkfp's YAML writer (libyaml C dumper) vs kfp 1.2's own dump_yaml on the same workflow;
  * the whole compile() per node;
  * `t3qkfp --help` start-up vs `python -c "import kfp"` (kfp is imported lazily).
Run: .venv/bin/python benchmarks/compile_speed.py [N ...]
"""
from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def synthetic(folder: Path, nodes: int) -> Path:
    items = []
    for i in range(nodes):
        (folder / f"n{i}.py").write_text("print('hi')\n")
        env = [{"env_var": f"P{j}", "value": str(i if j == 0 else j)} for j in range(5)]
        links = [{"id": f"l{i}", "node_id_ref": f"id{i - 1}", "port_id_ref": "outPort"}] if i else []
        items.append({"id": f"id{i}", "type": "execution_node", "op": "execute-python-node",
                      "app_data": {"label": f"Node {i}", "component_parameters": {
                          "filename": f"n{i}.py", "runtime_image": "python:3.11", "env_vars": env}},
                      "inputs": [{"id": "inPort", "links": links}], "outputs": [{"id": "outPort"}]})
    doc = {"doc_type": "pipeline", "version": "3.0", "primary_pipeline": "p",
           "pipelines": [{"id": "p", "nodes": items, "app_data": {"version": 8}}]}
    path = folder / "bench.pipeline"
    path.write_text(json.dumps(doc))
    return path


def best(func, repeat: int = 3) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return min(times)


def main(sizes: list[int]) -> None:
    from kfp.components._yaml_utils import dump_yaml as kfp_dump_yaml

    from t3qkfp import go_yaml
    from t3qkfp.compiler import compile_pipeline
    from t3qkfp.storage_settings import StorageConfig

    for n in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            path = synthetic(Path(tmp), n)
            # per-node defaults differ for P0, so scope="node" keeps every node's parameters apart;
            # the KFP 10,000-byte limit is not the subject here, so allow it by using few params.
            compiled = compile_pipeline(path, storage=StorageConfig(), deterministic=True)
            ours = best(lambda: go_yaml.dump(compiled.workflow))
            theirs = best(lambda: kfp_dump_yaml(compiled.workflow))
            total = best(lambda: compile_pipeline(path, storage=StorageConfig(), deterministic=True), 2)
            print(f"N={n:5d}  yaml: kfp dump_yaml / t3qkfp = {theirs / ours:5.1f}x  "
                  f"compile: {total / n * 1000:6.2f} ms/node  yaml size {len(compiled.yaml) / 1024:7.1f} KiB")
    exe = Path(sys.executable)
    t3 = exe.with_name("t3qkfp")
    help_time = best(lambda: subprocess.run([str(t3), "--help"], capture_output=True, check=True))
    kfp_time = best(lambda: subprocess.run([sys.executable, "-c", "import kfp"], capture_output=True, check=True))
    print(f"start-up: python -c 'import kfp' / t3qkfp --help = {kfp_time / help_time:4.1f}x")


if __name__ == "__main__":
    main([int(a) for a in sys.argv[1:]] or [10, 40])
