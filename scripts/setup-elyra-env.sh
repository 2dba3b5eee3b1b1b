#!/usr/bin/env bash
# Put Elyra 2.2.4 (the last 2.x release) into a venv that already has t3qkfp (kfp==1.2.0), so
# Elyra's "Run pipeline" / "Export pipeline" for Kubeflow Pipelines go through t3qkfp.
#
#   scripts/setup-elyra-env.sh [VENV]          # default: .venv (must already exist, with t3qkfp)
#
# CI and new users run this same script. Why it is not just `pip install elyra==2.2.4`:
# * Elyra 2.2.x pins kfp==1.3.0 (so do kfp-notebook 0.23.0 and kfp-tekton 0.6.0, which
#   `import elyra.pipeline` needs) and minio<7; t3qkfp needs kfp==1.2.0 and minio 7. So the three
#   are installed with --no-deps, plus only what Elyra's pipeline modules import, under a
#   constraints file holding every version already installed: nothing t3qkfp installed is
#   upgraded or downgraded. kfp-notebook and kfp-tekton import fine with kfp 1.2.0.
# * minio 7 lacks the three exception names elyra/util/cos.py imports; a .pth file makes
#   t3qkfp/elyra_compat.py add them when minio.error is first imported (see that module).
# * Elyra's other pins (jinja2<3, nbconvert<6, jupyter_core<5, jupyterlab, lsp, git extensions,
#   pyyaml<6) are for its JupyterLab front end and Python DSL templates, not for importing its
#   pipeline modules; they are left alone (`pip check` lists them; the check below ignores only
#   lines about elyra, kfp-notebook and kfp-tekton themselves).
set -euo pipefail
# A venv path given here is relative to where the script was called from, not to the repo.
if [ $# -ge 1 ]; then
  VENV=$(cd "$1" 2>/dev/null && pwd) || { echo "setup-elyra-env: no folder $1" >&2; exit 2; }
fi
cd "$(dirname "$0")/.."
VENV=${VENV:-$PWD/.venv}
PY="$VENV/bin/python"
ELYRA_VERSION=2.2.4
[ -x "$PY" ] || { echo "setup-elyra-env: no Python at $PY; create the venv and install t3qkfp first" >&2; exit 2; }
"$PY" -c "import t3qkfp" 2>/dev/null || { echo "setup-elyra-env: t3qkfp is not installed in $VENV (pip install -e .)" >&2; exit 2; }

pip_() { "$PY" -m pip --disable-pip-version-check "$@"; }
constraints=$(mktemp)
trap 'rm -f "$constraints"' EXIT
# Every installed distribution at its current version (editable ones excluded: pip cannot pin them).
pip_ freeze --exclude-editable | grep -E '^[A-Za-z0-9_.-]+==' > "$constraints" || true

echo "setup-elyra-env: elyra $ELYRA_VERSION, kfp-notebook 0.23.0, kfp-tekton 0.6.0 (without their pins)"
pip_ install --quiet --no-deps "elyra==$ELYRA_VERSION" "kfp-notebook==0.23.0" "kfp-tekton==0.6.0"
# What `import elyra.pipeline` imports (elyra/__init__.py, metadata/, util/, pipeline/*.py):
# jupyter_server (handlers), jupyter_core/jsonschema/traitlets/ipython_genutils (metadata),
# entrypoints (processor discovery), papermill (local processor), autopep8 + black + jinja2
# (KFP/Airflow processors), PyGithub (Airflow processor), websocket-client (kernel manager);
# and what its command-line tools import (elyra/cli/pipeline_app.py: click, yaspin, colorama;
# elyra 2.2.4 requires all three without a version bound and uses only `yaspin(text=...)`
# as a context manager and colorama's Fore/Style, present in every release).
echo "setup-elyra-env: what Elyra's pipeline modules import"
# pip's resolver prints Elyra's unmet pins here as "ERROR: ... dependency conflicts"; they are
# expected, so its output is shown only if the install itself fails (pip check below decides).
if ! out=$(pip_ install --quiet --constraint "$constraints" \
    "jupyter_server" "jupyter_core" "jsonschema>=3.2" "traitlets" "ipython_genutils" \
    "entrypoints>=0.3" "papermill>=2.1.3" "autopep8>=1.5.0,<1.5.6" "black" "jinja2" \
    "PyGithub" "websocket-client" "tornado" "requests" "click" "yaspin" "colorama" 2>&1); then
  echo "$out" >&2
  exit 1
fi

site=$("$PY" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])')
# Runs at interpreter start; imports nothing heavy and does nothing if t3qkfp is gone.
# (find_spec of the package first: find_spec('t3qkfp.elyra_compat') raises when t3qkfp is gone)
echo "import importlib.util as u; u.find_spec('t3qkfp') and u.find_spec('t3qkfp.elyra_compat') and __import__('t3qkfp.elyra_compat').elyra_compat.install()" \
  > "$site/t3qkfp_elyra_compat.pth"

echo "setup-elyra-env: checking"
# kfp 1.2.0's own requirements (and everything else t3qkfp installed) must still hold.
broken=$(pip_ check 2>&1 | grep -v -E '^(elyra|kfp-notebook|kfp-tekton) ' | grep -v -E '^No broken requirements' || true)
if [ -n "$broken" ]; then
  echo "setup-elyra-env: pip check reports broken requirements outside Elyra's own pins:" >&2
  echo "$broken" >&2
  exit 1
fi
"$PY" - <<'EOF'
"""Import Elyra, parse a pipeline with Elyra's parser, find processors with Elyra's manager."""
import json
import os
import tempfile
import warnings

with warnings.catch_warnings():
    # jsonschema 4 deprecates the draft7_format_checker that elyra/metadata/manager.py imports.
    warnings.filterwarnings("ignore", category=DeprecationWarning, message=".*draft7_format_checker")
    import elyra
    from elyra.pipeline import PipelineParser, PipelineProcessorManager
    # Elyra's command-line tools (elyra-pipeline, elyra-metadata) import beyond elyra.pipeline.
    import elyra.cli.pipeline_app
    import elyra.metadata.metadata_app
import kfp

with open("examples/churn/churn-elyra2.pipeline", encoding="utf-8") as f:
    doc = json.load(f)
app = doc["pipelines"][0]["app_data"]
app.update({"name": "churn-elyra2", "runtime": "kfp", "runtime-config": "check"})
pipeline = PipelineParser().parse(doc)
assert len(pipeline.operations) == 3, pipeline.operations
manager = PipelineProcessorManager.instance(root_dir=tempfile.mkdtemp())
kfp_processor = manager._registry.get_processor("kfp")
assert kfp_processor is not None, "no 'kfp' processor registered"
where = type(kfp_processor).__module__
import entrypoints
ours = [ep for ep in entrypoints.get_group_all("elyra.pipeline.processors")
        if ep.module_name == "t3qkfp.elyra_processor"]
if not ours:
    print("setup-elyra-env: WARNING: t3qkfp's entry point is not installed; reinstall t3qkfp "
          "(pip install -e .) so Elyra uses it")
elif os.environ.get("T3QKFP_ELYRA_DISABLE", "").strip().lower() not in {"1", "true", "yes", "on"}:
    assert where == "t3qkfp.elyra_processor", f"Elyra's 'kfp' processor is {where}, not t3qkfp's"
print(f"setup-elyra-env: elyra {elyra.__version__}, kfp {kfp.__version__}: parsed "
      f"{len(pipeline.operations)} operations; 'kfp' processor: {where}.{type(kfp_processor).__name__}")
EOF
