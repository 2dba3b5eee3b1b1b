"""Whole-model validation: every rule a pipeline must meet before it is planned and compiled.

Owns: the rules about nodes, links, files, names and values that KFP 1.2, Argo 2.7 and
Kubernetes would otherwise enforce late (at upload, at run time) or not at all (silently wrong
values). research/reliability.md lists each rule with its source. Must not: stop at the first
problem; it returns all of them. Rules about run parameters as a set (name collisions, the
server's size limit) live in params.py, where the names are made.
"""
from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from typing import Mapping, Sequence
from pathlib import PurePosixPath

from . import naming
from .errors import Location, Problem, shown
from .model import Node, NodeKind, Pipeline
from .node_files import RESERVED_DIR, node_files


# Env names a run parameter must never set: they would let whoever starts a run execute code,
# load foreign config, redirect credentials or break the node runtime (research/reliability.md
# §3, §5.3). Derived from what each program a node starts reads from its environment: python3
# (every PYTHON* switch but a few harmless ones), papermill/jupyter_client/ipykernel (JUPYTER_*,
# IPYTHONDIR), Rscript (R_* start-up files, R_DEFAULT_PACKAGES, R_TESTS, helper commands), git
# if user code calls it (GIT_CONFIG_*, GIT_SSH_COMMAND, GIT_EXEC_PATH, ... : all GIT_*), OpenSSL
# and libcurl (config and key-log files) and glibc's list of variables unsafe for setuid programs.
RESERVED_ENV = frozenset({"PATH", "HOME", "BASH_ENV", "ENV", "IFS", "SHELL", "SHELLOPTS", "BASHOPTS", "PS4",
                          "PROMPT_COMMAND", "CDPATH", "GLOBIGNORE",
                          "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy",
                          # Other interpreters' "run this first" and "load from here" switches.
                          "NODE_OPTIONS", "PERL5OPT", "PERL5LIB", "PERLLIB", "RUBYOPT", "JAVA_TOOL_OPTIONS",
                          "_JAVA_OPTIONS", "JDK_JAVA_OPTIONS", "IPYTHONDIR", "MPLBACKEND", "MPLCONFIGDIR",
                          # Programs git, R and pagers start on the user's behalf.
                          "SSH_ASKPASS", "EDITOR", "VISUAL", "PAGER", "LESSOPEN", "LESSCLOSE", "BROWSER",
                          # glibc's unsecure-envvars list (beyond LD_*): loaders, resolver, locales.
                          "GCONV_PATH", "GETCONF_DIR", "HOSTALIASES", "LOCALDOMAIN", "LOCPATH", "MALLOC_TRACE",
                          "NIS_PATH", "NLSPATH", "RESOLV_HOST_CONF", "RES_OPTIONS", "TZDIR",
                          # Where TLS trusts certificates, loads engines or logs its keys, and where
                          # libcurl/requests read config and passwords: a run could divert or read
                          # storage traffic.
                          "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "CURL_HOME",
                          "OPENSSL_CONF", "OPENSSL_ENGINES", "OPENSSL_MODULES", "SSLKEYLOGFILE", "NETRC"})
RESERVED_ENV_PREFIXES = ("LD_", "AWS_", "MINIO_", "PIP_", "T3QKFP_", "PYTHON", "DYLD_", "GIT_", "JUPYTER_",
                         "R_", "OPENSSL_", "BOTO_")
# PYTHON* switches that only change buffering, hashing or diagnostics: common in notebooks' env.
ALLOWED_PYTHON_ENV = frozenset({"PYTHONUNBUFFERED", "PYTHONHASHSEED", "PYTHONDONTWRITEBYTECODE",
                                "PYTHONFAULTHANDLER"})
# A Kubernetes secret (set by the pipeline's author, never by whoever starts a run) may set AWS_*:
# users' code reads its own object storage credentials there, and t3qkfp's loader reads its own
# from private T3QKFP_S3_* names, so nothing of t3qkfp's depends on them.
SECRET_MAY_SET = ("AWS_",)
PROXY = re.compile(r"(?i)[a-z]*_proxy")
# What makes an env name a credential: its value would be shown to everyone as a run parameter.
# Unambiguous fragments anywhere in the name (PGPASSWORD, dbPassword, CLIENT_SECRET); short or
# ambiguous ones only as whole words (MYSQL_PWD, HF_TOKEN), so MAX_TOKENS or TOKENIZER pass.
CREDENTIAL_INSIDE = re.compile(r"(?i)passw(or)?d|secret(?!ar)|credential|passphrase|apikey|pgpass|"
                               r"connection_?string|connstr|webhook|privkey|sshkey")
CREDENTIAL_WORDS = frozenset({"pwd", "dsn", "netrc", "htpasswd"})
# Words that are credentials only at the end of the name and not after a counting word:
# DB_PASS, GITHUB_PAT, HF_TOKEN, SESSION_COOKIE, but NUM_PASSES, FIRST_PASS, MAX_TOKENS, PAT_ID.
CREDENTIAL_LAST_WORDS = frozenset({"token", "pass", "pat", "cookie", "jwt"})
TOKEN_COUNTERS = frozenset({"max", "min", "num", "n", "total", "count", "per", "eos", "bos", "pad", "unk",
                            "sep", "cls", "mask", "start", "end", "special", "first", "second", "third",
                            "last", "final", "next", "prev", "single", "multi", "one", "two", "each",
                            "forward", "backward", "skip", "fast", "slow", "extra", "by"})
CREDENTIAL_PAIRS = frozenset({("api", "key"), ("access", "key"), ("secret", "key"), ("private", "key"),
                              ("auth", "key"), ("client", "secret"), ("storage", "key"),
                              ("account", "key"), ("sas", "token"), ("master", "key"), ("ssh", "key"),
                              ("signing", "key"), ("encryption", "key"), ("deploy", "key"), ("license", "key"),
                              ("session", "key"), ("basic", "auth"), ("http", "auth"), ("proxy", "auth"),
                              ("conn", "str"), ("conn", "string"), ("web", "hook"), ("pg", "pass")})
# scheme://user:password@host anywhere in a value (DATABASE_URL, broker URLs): the password would
# be a run parameter whatever the variable is called.
URL_WITH_PASSWORD = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://[^/?#@\s:]*:[^/?#@\s]+@")
# Kubernetes secret names are DNS-1123 subdomains; keys [-._a-zA-Z0-9]+ (apimachinery validation).
SECRET_NAME = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
SECRET_KEY = re.compile(r"[-._a-zA-Z0-9]+")
# Label values and the name part of label/annotation keys (apimachinery validation.go).
LABEL_VALUE = re.compile(r"[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?")
# Docker image reference, loosely: no whitespace, no upper-case repository path, optional tag/digest.
IMAGE = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._:/@-]*")
EXTENSIONS = {NodeKind.NOTEBOOK: (".ipynb",), NodeKind.PYTHON: (".py",), NodeKind.R: (".r", ".R")}
KIND_NAMES = {NodeKind.NOTEBOOK: "a notebook node", NodeKind.PYTHON: "a Python node", NodeKind.R: "an R node"}


def argo_safe(text: str) -> str | None:
    """Why Argo 2.7 cannot carry `text` through its template substitution, or None if it can.

    Argo JSON-marshals a template, splices values with Go's strconv.Quote and unmarshals it
    again (workflow/common/util.go); `{{`/`}}` are template syntax with no escape, and control
    or non-printable astral characters come out as escapes JSON cannot read.
    """
    if "{{" in text or "}}" in text:
        return "contains '{{' or '}}', which Argo Workflows reads as a template expression (Argo has no escape for them)"
    for ch in text:
        code = ord(ch)
        if ch in "\t\n\r\b\f":
            continue
        if code < 0x20 or code == 0x7F:
            return f"contains the control character U+{code:04X}, which Argo cannot pass through"
        if 0xD800 <= code <= 0xDFFF:
            return f"contains the lone surrogate U+{code:04X}"
        if code >= 0x10000 and unicodedata.category(ch)[0] not in "LMNPS":
            return f"contains the non-printable character U+{code:05X}, which Argo cannot pass through"
    return None


@dataclass(frozen=True, slots=True, kw_only=True)
class Checked:
    """What checking a pipeline found: its problems and, per node id, its archive's members.

    The members are a by-product of validation (node_files must read the tree to report a
    missing or escaping file); handing them on lets compiling pack them without a second walk.
    """

    problems: list[Problem]
    members: dict[str, tuple[str, ...]]


def check(pipeline: Pipeline) -> Checked:
    """Every problem of a read pipeline, in file order, and the files each node's archive holds."""
    problems: list[Problem] = []
    members: dict[str, tuple[str, ...]] = {}

    def add(message: str, *, node: Node | None = None, field: str | None = None, hint: str = "") -> None:
        problems.append(Problem(location=Location(
            file=pipeline.source, node_id=node.id if node else None,
            node_label=node.label if node else None, field=field), message=message, hint=hint))

    if not pipeline.nodes:
        add("the pipeline has no nodes", hint="add at least one notebook or script node in Elyra")
        return Checked(problems=problems, members=members)
    for text, field in ((pipeline.name, "app_data.properties.name"),
                        (pipeline.description, "app_data.properties.description")):
        reason = argo_safe(text)
        if reason:
            add(f"{field.rsplit('.', 1)[-1]} {reason}", field=field)
    ids = Counter(node.id for node in pipeline.nodes)
    for node_id, count in ids.items():
        if count > 1:
            node = next(n for n in pipeline.nodes if n.id == node_id)
            add(f"{count} nodes share the id {node_id!r}", node=node, field="id",
                hint="node ids must be unique; re-create one of the nodes in Elyra")
    declared = {p.name for p in pipeline.parameters}
    for node in pipeline.nodes:
        members[node.id] = _check_node(pipeline, node, add, declared)
    _check_links(pipeline, add)
    _check_parameters(pipeline, add)
    return Checked(problems=problems, members=members)


def _check_node(pipeline: Pipeline, node: Node, add, declared: set[str]) -> tuple[str, ...]:
    """Add the node's problems; return the files its archive holds (none without a file name)."""
    members: tuple[str, ...] = ()
    if not node.runtime_image:
        add("no runtime image", node=node, field=_field(pipeline, "runtime_image"),
            hint="choose a runtime image in the node's properties or the pipeline defaults")
    elif argo_safe(node.runtime_image):
        add(f"runtime image {shown(node.runtime_image)} {argo_safe(node.runtime_image)}", node=node,
            field=_field(pipeline, "runtime_image"))
    elif IMAGE.fullmatch(node.runtime_image) is None:
        add(f"runtime image {shown(node.runtime_image)} is not a valid image reference", node=node,
            field=_field(pipeline, "runtime_image"), hint="write [registry/]owner/image:tag without spaces")
    reason = argo_safe(node.label)
    if reason:
        add(f"label {reason}", node=node, field="app_data.ui_data.label")
    if node.filename:
        suffixes = EXTENSIONS[node.kind]
        if not node.filename.endswith(sum(EXTENSIONS.values(), ())):
            # Elyra's bootstrapper runs .ipynb, .py and .r files and refuses the rest ("Unsupported
            # file type", kfp-notebook v0.23.0 etc/docker-scripts/bootstrapper.py:64; elyra v3.15.0
            # elyra/kfp/bootstrapper.py:71). The reader already ran .py/.r/.ipynb by their extension.
            add(f"file {shown(node.filename)} is not a notebook (.ipynb), Python (.py) or R (.r) file, "
                "the only kinds Elyra runs", node=node, field=_field(pipeline, "filename"))
        elif not node.filename.endswith(suffixes):
            add(f"file {shown(node.filename)} does not end with {' or '.join(suffixes)}, as {KIND_NAMES[node.kind]} needs",
                node=node, field=_field(pipeline, "filename"))
        members, file_problems = node_files(pipeline, node)
        for member in members:
            # .t3qkfp/ is t3qkfp's own folder in the pod (node_files.RESERVED_DIR): the runtime skips
            # it when unpacking, so a node file there would never arrive. Dependencies there are
            # refused by node_files.
            if member.split("/", 1)[0] == RESERVED_DIR:
                add(f"file {shown(node.filename)} is inside {RESERVED_DIR}/, which t3qkfp reserves for its node runtime",
                    node=node, field=_field(pipeline, "filename"), hint="move the file to another folder")
        for problem in file_problems:
            add(problem.message, node=node, field=_field(pipeline, problem.location.field or ""),
                hint=problem.hint)
    for index, output in enumerate(node.outputs):
        path = PurePosixPath(output)
        if path.is_absolute() or ".." in path.parts or "\\" in output or "\x00" in output:
            add(f"output {shown(output)} is absolute or leaves the node's folder with '..'", node=node,
                field=_field(pipeline, f"outputs[{index}]"), hint="outputs are paths relative to the node's file")
    seen: dict[str, str] = {}
    for env in node.env:
        where = env.field
        if not naming.is_env_name(env.name):
            add(f"env var name {shown(env.name)} is not a valid name", node=node, field=where,
                hint="use letters, digits and '_', not starting with a digit (a C identifier)")
            continue
        if env.name in seen:
            add(f"env var {env.name!r} is set twice ({seen[env.name]} and {where})", node=node,
                field=where, hint="keep one of them")
            continue
        seen[env.name] = where
        if _reserved(env.name):
            add(f"env var {env.name!r} is reserved: a run parameter must never set it", node=node,
                field=where, hint="rename it; PATH, LD_*, PYTHON*, GIT_*, JUPYTER_*, R_*, BASH_ENV, AWS_*, proxies, T3QKFP_*, other interpreters' start-up switches (NODE_OPTIONS, ...) and TLS/OpenSSL files are reserved")
        elif looks_like_credential(env.name):
            add(f"env var {env.name!r} looks like a credential; it would be shown to everyone as a run parameter",
                node=node, field=where,
                hint="put it in a Kubernetes secret and reference it with kubernetes_secrets (Elyra 3.9+), or rename it if it is not secret")
        if holds_password_url(env.value):
            add(f"value of env var {env.name!r} holds a URL with a password (user:password@); it would be shown to everyone as a run parameter",
                node=node, field=where,
                hint="put it in a Kubernetes secret and reference it with kubernetes_secrets (Elyra 3.9+)")
        reason = argo_safe(env.value)
        if reason:
            add(f"value of env var {env.name!r} {reason}", node=node, field=where)
    for name in node.pipeline_parameters:
        if name not in declared:
            add(f"node uses pipeline parameter {shown(name)}, which the pipeline does not define", node=node,
                field=_field(pipeline, "pipeline_parameters"), hint="define it in the pipeline properties or remove it from the node")
        elif name in seen:
            add(f"env var {name!r} is also a pipeline parameter this node receives", node=node,
                field=_field(pipeline, "pipeline_parameters"), hint="remove one of the two")
    for index, secret in enumerate(node.secrets):
        where = _field(pipeline, f"kubernetes_secrets[{index}]")
        if not naming.is_env_name(secret.name) or (_reserved(secret.name) and not secret.name.startswith(SECRET_MAY_SET)):
            add(f"secret env var name {shown(secret.name)} is not a valid, unreserved name", node=node, field=where)
        if SECRET_NAME.fullmatch(secret.secret) is None or len(secret.secret) > 253:
            add(f"secret name {shown(secret.secret)} is not a valid Kubernetes resource name", node=node, field=where)
        if SECRET_KEY.fullmatch(secret.key) is None or len(secret.key) > 253:
            add(f"secret key {shown(secret.key)} is not a valid Kubernetes secret key", node=node, field=where)
    _check_kubernetes(pipeline, node, add)
    for index, text in enumerate((node.filename, *node.dependencies, *node.outputs)):
        reason = argo_safe(text) if "{{" not in text and "}}" not in text else None
        if reason:
            add(f"path {shown(text)} {reason}", node=node,
                field=_field(pipeline, "filename" if index == 0 else "dependencies/outputs"))
    return members


def _field(pipeline: Pipeline, name: str) -> str:
    """A node property's path as the reader names it (app_data. in format 3, component_parameters. later)."""
    return ("component_parameters." if pipeline.format_version >= 4 else "app_data.") + name


def _check_kubernetes(pipeline: Pipeline, node: Node, add) -> None:
    """Volumes, tolerations, pod labels/annotations: the rules the kube-apiserver would enforce."""
    k8s = node.kubernetes
    paths: set[str] = set()
    for index, volume in enumerate(k8s.volumes):
        where = _field(pipeline, f"mounted_volumes[{index}]")
        if not volume.path.startswith("/") or argo_safe(volume.path) or volume.path in paths:
            add(f"mount path {shown(volume.path)} must be an absolute path, used once", node=node, field=where)
        paths.add(volume.path)
        if SECRET_NAME.fullmatch(volume.pvc) is None or len(volume.pvc) > 253:
            add(f"PVC name {shown(volume.pvc)} is not a valid Kubernetes resource name", node=node, field=where)
        if volume.sub_path and (volume.sub_path.startswith("/") or ".." in volume.sub_path.split("/")
                                or argo_safe(volume.sub_path)):
            add(f"sub-path {shown(volume.sub_path)} must be a relative path without '..'", node=node, field=where)
    for index, toleration in enumerate(k8s.tolerations):
        where = _field(pipeline, f"kubernetes_tolerations[{index}]")
        if toleration.operator not in ("Equal", "Exists"):
            add(f"toleration operator {toleration.operator!r} must be Equal or Exists", node=node, field=where)
        elif toleration.operator == "Exists" and toleration.value:
            add("a toleration with operator Exists must have no value", node=node, field=where)
        if toleration.effect not in ("", "NoSchedule", "PreferNoSchedule", "NoExecute"):
            add(f"toleration effect {toleration.effect!r} must be NoSchedule, PreferNoSchedule or NoExecute",
                node=node, field=where)
        if any(argo_safe(x) for x in (toleration.key, toleration.value)):
            add("toleration key or value contains characters Argo cannot carry", node=node, field=where)
    for field, items, value_rule in (("kubernetes_pod_annotations", k8s.pod_annotations, None),
                                     ("kubernetes_pod_labels", k8s.pod_labels, LABEL_VALUE)):
        for key, value in items:
            if not _qualified_name(key):
                add(f"{shown(key)} is not a valid Kubernetes key", node=node, field=_field(pipeline, field),
                    hint="[prefix/]name, name up to 63 letters, digits, '-', '_', '.'")
            if value_rule is not None and value and value_rule.fullmatch(value) is None:
                add(f"label value {shown(value)} is not valid (up to 63 letters, digits, '-', '_', '.')",
                    node=node, field=_field(pipeline, field))
            reason = argo_safe(value)
            if reason:
                add(f"value of {shown(key)} {reason}", node=node, field=_field(pipeline, field))


def _qualified_name(key: str) -> bool:
    prefix, _, name = key.rpartition("/")
    if prefix and (len(prefix) > 253 or SECRET_NAME.fullmatch(prefix) is None):
        return False
    return len(name) <= 63 and LABEL_VALUE.fullmatch(name) is not None


def looks_like_credential(name: str) -> bool:
    """True when the name says it holds a secret: a CREDENTIAL_INSIDE fragment anywhere, or a
    credential word or word pair (split at '_' and camelCase)."""
    if CREDENTIAL_INSIDE.search(name):
        return True
    words = [w.lower() for w in re.findall(r"[A-Z]?[a-z0-9]+|[A-Z]+(?![a-z])", name)]
    if any(pair in CREDENTIAL_PAIRS for pair in zip(words, words[1:])):
        return True
    for index, word in enumerate(words):
        if word in CREDENTIAL_LAST_WORDS:
            # HF_TOKEN, DB_PASS are secrets; MAX_TOKEN, FIRST_PASS, PAT_ID are not.
            before = words[index - 1] if index else ""
            if index == len(words) - 1 and before not in TOKEN_COUNTERS:
                return True
        elif word in CREDENTIAL_WORDS:
            return True
    return False


def holds_password_url(value: str) -> bool:
    """True when the value holds a URL with a password in its userinfo (postgres://u:pw@db/x)."""
    return URL_WITH_PASSWORD.search(value) is not None


def reserved_env(name: str) -> bool:
    """True when a run parameter must never set env var `name` (RESERVED_ENV and its prefixes)."""
    if name in ALLOWED_PYTHON_ENV:
        return False
    return (name in RESERVED_ENV or name.upper() in RESERVED_ENV or name.startswith(RESERVED_ENV_PREFIXES)
            or PROXY.fullmatch(name) is not None)


_reserved = reserved_env


def _check_links(pipeline: Pipeline, add) -> None:
    ids = {node.id for node in pipeline.nodes}
    refused = set(pipeline.refused_node_ids)
    for node in pipeline.nodes:
        for parent in node.parents:
            if parent in refused:
                continue  # the refused node already has its own problem
            if parent not in ids:
                add(f"link from node {shown(parent)}, which does not exist", node=node, field="inputs[].links[].node_id_ref",
                    hint="delete the link in Elyra and connect the nodes again")
            elif parent == node.id:
                add("node is linked to itself", node=node, field="inputs[].links[]")
    cycle = find_cycle(pipeline)
    if cycle:
        names = " -> ".join(f"'{pipeline.node(i).label}' ({i})" for i in cycle)
        add(f"the links form a cycle: {names}", hint="remove one of these links")


def find_cycle(pipeline: Pipeline) -> list[str]:
    """One cycle of node ids (first node repeated at the end), or []."""
    return find_cycle_in({node.id: node.parents for node in pipeline.nodes})


def find_cycle_in(parents: Mapping[str, Sequence[str]]) -> list[str]:
    """One cycle in a graph given as {id: ids it depends on} (first id repeated at the end), or [].

    Iterative, so no recursion limit; ids that are not keys (links to nothing) are ignored, as
    are self-links (reported on their own). Shared by the pipeline checks and the local runner.
    """
    children: dict[str, list[str]] = {i: [] for i in parents}
    for node_id, ids in parents.items():
        for parent in ids:
            if parent in parents and parent != node_id:
                children[parent].append(node_id)
    state: dict[str, int] = {}  # 1 = on the current path, 2 = done
    for start in parents:
        if state.get(start):
            continue
        path: list[str] = [start]
        iters = [iter(children[start])]
        state[start] = 1
        while iters:
            nxt = next(iters[-1], None)
            if nxt is None:
                state[path.pop()] = 2
                iters.pop()
            elif state.get(nxt) == 1:
                return path[path.index(nxt):] + [nxt]
            elif not state.get(nxt):
                state[nxt] = 1
                path.append(nxt)
                iters.append(iter(children[nxt]))
    return []


def _check_parameters(pipeline: Pipeline, add) -> None:
    where = "app_data.properties.pipeline_parameters"
    counts = Counter(p.name for p in pipeline.parameters)
    for parameter in pipeline.parameters:
        if counts[parameter.name] > 1:
            add(f"pipeline parameter {parameter.name!r} is defined {counts[parameter.name]} times", field=where)
            counts[parameter.name] = 0
        if not naming.is_param_name(parameter.name):
            add(f"pipeline parameter name {parameter.name!r} is not valid", field=where,
                hint="use ASCII letters, digits and '_', starting with a letter")
        elif _reserved(parameter.name):
            add(f"pipeline parameter {parameter.name!r} would set a reserved env var", field=where)
        if isinstance(parameter.default, str) and holds_password_url(parameter.default):
            add(f"default of pipeline parameter {parameter.name!r} holds a URL with a password (user:password@); it would be shown to everyone as a run parameter",
                field=where, hint="put it in a Kubernetes secret and reference it with kubernetes_secrets (Elyra 3.9+)")
        reason = argo_safe(parameter.default)
        if reason:
            add(f"default of pipeline parameter {parameter.name!r} {reason}", field=where)
