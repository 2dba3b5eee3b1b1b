"""Elyra 2.x's Kubeflow Pipelines processor, replaced by one that runs and exports through t3qkfp.

Owns: the only import of Elyra in t3qkfp. Elyra loads this module through the entry point
`elyra.pipeline.processors: t3qkfp = t3qkfp.elyra_processor:T3qkfpProcessor` (setup.cfg);
nothing in t3qkfp imports it, so t3qkfp works without Elyra. Must not: compile, read Elyra
JSON or talk to KFP/object storage itself — it converts Elyra's objects with elyra_objects and
calls the library (compile_pipeline, upload, submit).

Which `kfp` processor Elyra uses (elyra v2.2.4 elyra/pipeline/processor.py): the manager
instantiates every entry point of the group in entrypoints' order (sys.path order, then
unsorted directory listing) and the registry keeps the *last* processor per `type`. So this
processor takes type `kfp` and, when created, wraps the registry's dict so that a later
non-t3qkfp processor does not replace it: t3qkfp wins whatever the order, and says so in the log.
Switch back to Elyra's own processor with T3QKFP_ELYRA_DISABLE=1 in the Jupyter server's
environment: the processor then registers under an unused type and leaves `kfp` to Elyra.

How t3qkfp's errors reach the user (elyra v2.2.4): `elyra-pipeline submit`
(elyra/cli/pipeline_app.py `_execute_pipeline`) turns only ValueError and RuntimeError into a
clean `Error: ...` line (printing `{error}` and then `{error.__cause__}`); anything else escapes
as a traceback. The REST handlers' HttpErrorMixin answers HTTP 500 JSON whose `message` is
`error.args[0]`. So `process`/`export` re-raise t3qkfp's errors (except InternalError, a bug,
which keeps its traceback) as `ElyraAdapterError`: a RuntimeError (and a T3qkfpError) whose
`args[0]` is t3qkfp's whole message, whose str() is a one-line heading, chained from t3qkfp's
error, which the CLI prints below the heading. Problems name the saved .pipeline file, not `<dict>`.
"""
from __future__ import annotations

import os
import re
from contextlib import contextmanager
from typing import Any, Iterator

try:
    from elyra.metadata import MetadataManager
    from elyra.pipeline.processor import (PipelineProcessorRegistry, PipelineProcessorResponse,
                                          RuntimePipelineProcess)
except ImportError as exc:  # Elyra 3.x renamed the base class; 1.x had no plug-in registry
    raise ImportError(
        "t3qkfp's Elyra adapter needs Elyra 2.x (elyra.pipeline.processor.RuntimePipelineProcess); "
        f"{exc}. Install it with scripts/setup-elyra-env.sh") from exc

from .elyra_objects import RuntimeOptions, from_elyra_pipeline, runtime_options
from .elyra_reader import load_checked
from .errors import InternalError, T3qkfpError, UsageError

PROCESSOR_TYPE = "kfp"                     # Elyra 2.x's runtime type (schema `kfp`)
DISABLED_TYPE = "kfp-t3qkfp-disabled"      # registered under this when switched off: never looked up
DISABLE_ENV = "T3QKFP_ELYRA_DISABLE"
# What Elyra 2.x's export dialog offers for kfp is yaml and py; zip/tar.gz are KFP's other
# package forms, written by the same function as `t3qkfp compile -o`.
EXPORT_SUFFIXES = {"yaml": (".yaml", ".yml"), "zip": (".zip",), "tar.gz": (".tar.gz", ".tgz")}


def disabled(env: Any = None) -> bool:
    """True when T3QKFP_ELYRA_DISABLE asks for Elyra's own `kfp` processor."""
    value = (os.environ if env is None else env).get(DISABLE_ENV, "")
    return value.strip().lower() in {"1", "true", "yes", "on"}


class ElyraAdapterError(RuntimeError, T3qkfpError):
    """A t3qkfp error as Elyra's CLI and REST handlers present it (see the module docstring).

    `args[0]` (the REST `message`) and `format_message()` are t3qkfp's whole message;
    `str()` is a one-line heading, because Elyra's CLI prints the chained error (`__cause__`,
    t3qkfp's error itself) right below it. `error` is that t3qkfp error; `exit_code` is its.
    """

    def __init__(self, message: str, *, heading: str, error: T3qkfpError):
        super().__init__(message)
        self.heading = heading
        self.error = error
        self.exit_code = error.exit_code

    def __str__(self) -> str:
        return self.heading

    def format_message(self) -> str:
        return str(self.args[0])


@contextmanager
def _for_elyra(heading: str) -> Iterator[None]:
    """Re-raise t3qkfp's errors (not InternalError, a bug) as ElyraAdapterError."""
    try:
        yield
    except InternalError:
        raise
    except T3qkfpError as exc:
        raise ElyraAdapterError(for_elyra_user(exc.format_message()), heading=heading, error=exc) from exc


# Command-line flags that t3qkfp's hints name, and what an Elyra user sets instead: the fields
# of Elyra 2.2.4's Kubeflow Pipelines runtime configuration (metadata schema "kfp").
_ELYRA_FIELDS = (
    ("--username/--password", "api_username/api_password in the runtime configuration"),
    ("--namespace", "user_namespace in the runtime configuration"),
    ("--host", "api_endpoint in the runtime configuration"),
    ("--username", "api_username in the runtime configuration"),
    ("--password", "api_password in the runtime configuration"),
    ("--endpoint", "cos_endpoint in the runtime configuration"),
    ("--bucket", "cos_bucket in the runtime configuration"),
    ("--pipeline-name", "another pipeline file name"),
)


def for_elyra_user(message: str) -> str:
    """A hint naming `t3qkfp submit` flags, reworded for someone who runs from Elyra's editor."""
    for flag, field in _ELYRA_FIELDS:
        message = re.sub(rf"(?<![\w-]){re.escape(flag)}(?![\w-])", field, message)
    return message


class T3qkfpProcessorResponse(PipelineProcessorResponse):
    """What Elyra's "Run pipeline" dialog shows: the run's dashboard URL and where outputs go."""

    _type = PROCESSOR_TYPE

    @property
    def type(self) -> str:
        return self._type


class _RegistryKeepingT3qkfp(dict):
    """Elyra's registry dict, except that a t3qkfp processor is not replaced by another one.

    Elyra 2.x keeps the last processor registered per type and entry point order is not
    defined, so without this the result would depend on how site-packages is listed.
    """

    def __setitem__(self, key: str, value: Any) -> None:
        current = self.get(key)
        if isinstance(current, T3qkfpProcessor) and not isinstance(value, T3qkfpProcessor):
            current.log.info("t3qkfp: keeping t3qkfp's processor for Elyra runtime type %r; %s.%s is "
                             "not used (set %s=1 to use it)", key, type(value).__module__,
                             type(value).__name__, DISABLE_ENV)
            return
        super().__setitem__(key, value)


def _keep_kfp_type() -> None:
    """Wrap the registry's class-level dict once (elyra v2.2.4 keeps `_processors` on the class)."""
    if not isinstance(PipelineProcessorRegistry._processors, _RegistryKeepingT3qkfp):
        PipelineProcessorRegistry._processors = _RegistryKeepingT3qkfp(PipelineProcessorRegistry._processors)


class _LogLines:
    """A text stream for upload's progress lines that writes them to Elyra's log."""

    def __init__(self, logger: Any):
        self._log = logger
        self._pending = ""

    def write(self, text: str) -> int:
        self._pending += text
        *lines, self._pending = self._pending.split("\n")
        for line in lines:
            if line.strip():
                self._log.info("%s", line)
        return len(text)

    def flush(self) -> None:
        if self._pending.strip():
            self._log.info("%s", self._pending)
        self._pending = ""


class T3qkfpProcessor(RuntimePipelineProcess):
    """Elyra's `kfp` runtime, run and exported by t3qkfp: node env vars become KFP run parameters."""

    _type = PROCESSOR_TYPE

    def __init__(self, root_dir: str, **kwargs: Any):
        super().__init__(root_dir, **kwargs)
        self._enabled = not disabled()
        if self._enabled:
            _keep_kfp_type()
            self.log.info("t3qkfp: Kubeflow Pipelines runs and exports from Elyra go through t3qkfp "
                          "(set %s=1 to use Elyra's own processor)", DISABLE_ENV)
        else:
            self.log.info("t3qkfp: %s is set; Elyra's own Kubeflow Pipelines processor is used", DISABLE_ENV)

    @property
    def type(self) -> str:
        return self._type if self._enabled else DISABLED_TYPE

    # -- Elyra's processor interface ----------------------------------------------------------
    def process(self, pipeline: Any) -> T3qkfpProcessorResponse:
        """Upload the node archives, upload the pipeline (a new version if the name exists) and run it.

        The run uses every run parameter's default, i.e. the values written in the pipeline;
        change them in the KFP dashboard for the next run. Experiment: the pipeline name in
        lower case, as Elyra 2.x names it.
        """
        with _for_elyra(f"t3qkfp did not run pipeline {pipeline.name!r}"):
            return self._process(pipeline)

    def _process(self, pipeline: Any) -> T3qkfpProcessorResponse:
        from .archive_upload import upload
        from .kfp_auth import KfpAuth
        from .kfp_submit import submit

        options = self._options(pipeline)
        source = from_elyra_pipeline(pipeline, root_dir=self.root_dir)
        # Loaded once, named after the saved file, so every problem names it rather than a dict.
        model = load_checked(source.document, base_dir=source.base_dir, source=source.name,
                             root_dir=self.root_dir)
        progress = _LogLines(self.log)
        upload(model, config=options.storage,
               credentials=options.upload_credentials, create_bucket=True, progress=progress)
        progress.flush()
        auth = (KfpAuth(username=options.username, password=options.password,
                        origin=f"Elyra runtime configuration {options.name!r}")
                if options.username else None)
        result = submit(model, host=options.host, pipeline_name=pipeline.name,
                        experiment=pipeline.name.lower(), namespace=options.namespace, auth=auth,
                        storage=options.storage, upload_files=False,
                        on_status=lambda line: self.log.info("t3qkfp: %s", line))
        run_prefix = options.storage.key("runs", result.run_id or "")
        return T3qkfpProcessorResponse(run_url=result.run_url, object_storage_url=options.storage.endpoint,
                                       object_storage_path=f"/{options.storage.bucket}/{run_prefix}")

    def export(self, pipeline: Any, pipeline_export_format: str, pipeline_export_path: str,
               overwrite: bool) -> str:
        """Write what `t3qkfp compile` writes for the saved file; returns the path as given (as Elyra does).

        Nothing is uploaded: `t3qkfp upload` or a run from Elyra puts the node archives in place.
        """
        with _for_elyra(f"t3qkfp did not export pipeline {pipeline.name!r}"):
            return self._export(pipeline, pipeline_export_format, pipeline_export_path, overwrite)

    def _export(self, pipeline: Any, fmt: str, pipeline_export_path: str, overwrite: bool) -> str:
        from .compiler import compile_pipeline

        if fmt == "py":
            raise UsageError("t3qkfp exports Kubeflow Pipelines YAML only, not a Python DSL script "
                             "(format 'py'): choose the YAML format, or set "
                             f"{DISABLE_ENV}=1 and restart Jupyter to use Elyra's own processor")
        if fmt not in EXPORT_SUFFIXES:
            raise UsageError(f"Pipeline export format {fmt!r} not recognized; t3qkfp writes "
                             f"{', '.join(EXPORT_SUFFIXES)}")
        if not str(pipeline_export_path).endswith(EXPORT_SUFFIXES[fmt]):
            raise UsageError(f"export path {pipeline_export_path!r} must end with "
                             f"{' or '.join(EXPORT_SUFFIXES[fmt])} for format {fmt!r}")
        target = pipeline_export_path if os.path.isabs(pipeline_export_path) else \
            os.path.join(self.root_dir, pipeline_export_path)
        if os.path.exists(target) and not overwrite:
            raise UsageError(f"File {target} already exists.")
        options = self._options(pipeline)
        source = from_elyra_pipeline(pipeline, root_dir=self.root_dir,
                                     likely_files=[_saved_file_beside(pipeline, target, fmt)])
        model = load_checked(source.document, base_dir=source.base_dir, source=source.name,
                             root_dir=self.root_dir)
        compiled = compile_pipeline(model, storage=options.storage, deterministic=True)
        compiled.write(target)
        self.log.info("t3qkfp: exported %r to %s (%d run parameters)", pipeline.name, target,
                      len(compiled.workflow.get("spec", {}).get("arguments", {}).get("parameters", [])))
        return pipeline_export_path

    def _options(self, pipeline: Any) -> RuntimeOptions:
        """The runtime configuration the user chose in Elyra's dialog, as t3qkfp settings."""
        config = self._get_metadata_configuration(namespace=MetadataManager.NAMESPACE_RUNTIMES,
                                                  name=pipeline.runtime_config)
        return runtime_options(pipeline.runtime_config, dict(config.metadata))


def _saved_file_beside(pipeline: Any, export_target: str, fmt: str) -> str:
    """Where Elyra's editor keeps the pipeline it exports: its export dialog writes
    `<folder of the .pipeline>/<its stem>.<format>`, so the saved file is beside the export."""
    name = os.path.basename(getattr(pipeline, "source", None) or "")
    if not name.endswith(".pipeline"):
        base = os.path.basename(export_target)
        for suffix in EXPORT_SUFFIXES.get(fmt, ()):
            if base.endswith(suffix):
                base = base[:-len(suffix)]
                break
        name = f"{base}.pipeline"
    return os.path.join(os.path.dirname(export_target), name)
