#!/usr/bin/env bash
# Set everything up in ./.venv and run the main job on the bundled example:
# print its run-parameter table, compile it to YAML, and run it locally with an override.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
# The DAG pictures (t3qkfp graph, the notebooks) need Graphviz's `dot`; we run as root here.
command -v dot >/dev/null || { apt-get update -qq && apt-get install -y --no-install-recommends graphviz; }
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
