#!/usr/bin/env bash
# Set everything up in ./.venv and run the main job on the bundled example:
# print its run-parameter table, compile it to YAML, and run it locally with an override.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# Graphviz's `dot` gives the DAG pictures (t3qkfp graph, the notebooks) their best layout and
# PNG/PDF; without it they are drawn in Python. Installed only as root, apt's output kept off stdout.
if ! command -v dot >/dev/null; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "== installing Graphviz (apt-get; its log: build/apt-graphviz.log)"
    mkdir -p build
    if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends graphviz; } \
        >build/apt-graphviz.log 2>&1; then
      echo "Graphviz not installed (apt-get failed, see build/apt-graphviz.log); DAG pictures are drawn without it" >&2
    fi
  else
    echo "Graphviz skipped (needs root and apt-get); DAG pictures are drawn without it" >&2
  fi
fi
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e '.[test]'
example=examples/churn/churn.pipeline
echo "== run parameters of $example"
.venv/bin/t3qkfp params "$example"
echo "== compile"
mkdir -p build
.venv/bin/t3qkfp compile "$example" -o build/churn.yaml --quiet
if .venv/bin/t3qkfp run --help >/dev/null 2>&1; then
  echo "== run locally with EPOCHS=5"
  .venv/bin/t3qkfp run "$example" --local -p EPOCHS=5
fi
