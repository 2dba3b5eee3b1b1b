"""go_yaml.dump writes exactly the text PyYAML over libyaml writes with the Go-safe styles.

The fast writer lays out blocks itself and classifies common strings without asking libyaml;
these tests hold it byte-identical to the reference dumper on random nested documents of hostile
strings (every scalar style, multi-line text at every depth, empty containers, long keys, shared
objects) and check that a compiled workflow takes the fast path rather than the fallback.
"""
from __future__ import annotations

import random
from collections import OrderedDict

import pytest
from hypothesis import given, settings, strategies as st

from conftest import ROOT
from t3qkfp import go_yaml
from t3qkfp.compiler import compile_pipeline
from t3qkfp.storage_settings import StorageConfig

PIECES = ["", " ", "a", "Z_9", "/tmp/x.json", "yes", "No", "on", "y", "~", "null", "true", "08", "0o17", "1e3",
          "+1", "-0", ".5", ".inf", "<<", "=", "a=b", "2001-12-14", "12:30", "#x", "x #y", "- x", "? x",
          ": x", "a: b", "!t", "&a", "*a", "|", ">", "'q'", '"q"', "%x", "@x", "`x", "{x}", "[x]", ",",
          "{{inputs.parameters.P_1}}", "{{workflow.uid}}", "{{x", "$(HOME)", "\n", "a\nb", "a\n", "\n\n",
          "a\n\n", " a\nb", "\ta", "a\t", "  padded  ", "\u2028", "\x85", "\ufeff", "é", "😀", "\\", "\x07",
          "---", "...", "- ", "-", "a b", "a  b", "eyJhIjoxfQ==", "x" * 130, "k" * 127]
TEXT = st.one_of(st.sampled_from(PIECES),
                 st.lists(st.sampled_from(PIECES), min_size=1, max_size=4).map("".join),
                 st.text(max_size=12))
SCALAR = st.one_of(TEXT, st.none(), st.booleans(), st.integers(-10**6, 10**6),
                   st.floats(allow_nan=False, allow_infinity=True))
DOCUMENT = st.recursive(SCALAR, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(TEXT, inner, max_size=4)), max_leaves=30)


@settings(max_examples=600)
@given(st.dictionaries(TEXT, DOCUMENT, min_size=1, max_size=5))
def test_random_documents_are_written_as_libyaml_writes_them(document):
    assert go_yaml.dump(document) == go_yaml.reference_dump(document)


def test_every_single_line_string_style_agrees_with_libyaml():
    rng = random.Random(5)
    alphabet = "aZ_9/.=+ -:#{}[],'\"!&*|>%@`\\\t\u00e9~?<"
    texts = PIECES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(1, 8))) for _ in range(5000)]
    for text in texts:
        document = {"k": text, text[:100] or "e": [text, {"n": text}]}
        assert go_yaml.dump(document) == go_yaml.reference_dump(document), repr(text)


def test_shared_objects_and_non_string_keys_fall_back_to_libyaml():
    shared = {"a": "b"}
    for document in ({"x": shared, "y": shared}, {"x": [], "y": {"z": []}}, {1: "a"}, {"k": (1, 2)},
                     {"m" * 200: "v"}, {"a\nb": "v"}, {"k": "a\n\n"}, OrderedDict(a="b"),
                     {"k": OrderedDict(a="b")}):
        try:
            expected = go_yaml.reference_dump(document)
        except Exception as exc:  # what libyaml refuses, the writer refuses the same way
            with pytest.raises(type(exc)):
                go_yaml.dump(document)
            continue
        assert go_yaml.dump(document) == expected


def test_a_compiled_workflow_takes_the_fast_path(monkeypatch):
    compiled = compile_pipeline(ROOT / "examples" / "churn" / "churn.pipeline", storage=StorageConfig(),
                                deterministic=True)
    expected = go_yaml.reference_dump(compiled.workflow)
    asked = []
    original = go_yaml._ask_libyaml
    monkeypatch.setattr(go_yaml, "_ask_libyaml", lambda value: asked.append(value) or original(value))
    out: list[str] = []
    go_yaml._Writer(out).mapping(compiled.workflow, 0)  # raises _Unsupported where dump() would fall back
    assert "".join(out) == expected
    # libyaml is asked only about the few scalars the rules leave open (the command, JSON annotations)
    assert 0 < len(asked) < 20, asked
