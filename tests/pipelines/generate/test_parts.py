"""The generate family's parts that need no model: stops, history, schemas, requests."""

from __future__ import annotations

import itertools
import sys
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from edge_agent.errors import MissingExtraError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import TextSample
from edge_agent.pipelines.generate.history import ConversationStore, Exchange
from edge_agent.pipelines.generate.options import (
    GenerateOptions,
    GenerateRouteOptions,
    StructuredOptions,
)
from edge_agent.pipelines.generate.prompt import StopScanner, render_chatml
from edge_agent.pipelines.generate.request import parse_request
from edge_agent.pipelines.generate.schema import extract_json, intents_schema, validate
from edge_agent.pipelines.generate.structured import StructuredTask
from edge_agent.runtime.litert_lm import LiteRtLmModel, runtime_module
from edge_agent.runtime.manifest import load_package

# -- stop texts -------------------------------------------------------------------------------

_ALPHABET = st.sampled_from(list("ab<|>\n "))


def _cut(text: str, stops: tuple[str, ...]) -> str:
    found = [i for i in (text.find(s) for s in stops) if i >= 0]
    return text[: min(found)] if found else text


@given(
    text=st.text(_ALPHABET, max_size=60),
    stops=st.lists(st.text(_ALPHABET, min_size=1, max_size=5), max_size=3),
    cuts=st.lists(st.integers(0, 60), max_size=20),
)
def test_released_pieces_concatenate_to_the_text_before_the_first_stop(
    text: str, stops: list[str], cuts: list[int]
) -> None:
    bounds = sorted({0, len(text), *(c for c in cuts if c <= len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    scanner = StopScanner(tuple(stops))
    released = "".join(scanner.feed(p) for p in pieces) + scanner.flush()
    assert released == _cut(text, tuple(stops))
    assert scanner.stopped == (released != text or any(s in text for s in stops))


def test_a_stop_split_over_pieces_is_held_back_then_dropped() -> None:
    scanner = StopScanner(("<|im_start|>",))
    assert scanner.feed("Paris.<|im") == "Paris."
    assert scanner.feed("_start|>user") == ""
    assert scanner.stopped
    assert scanner.flush() == ""


def test_chatml_prompt_layout() -> None:
    text = render_chatml("Be brief.", [Exchange("hi", "hello")], "and now?")
    assert text == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nhi<|im_end|>\n"
        "<|im_start|>assistant\nhello<|im_end|>\n<|im_start|>user\nand now?<|im_end|>\n"
        "<|im_start|>assistant\n"
    )


# -- history ----------------------------------------------------------------------------------


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_history_keeps_the_last_exchanges_only() -> None:
    store = ConversationStore(2, 100.0, 10, clock=_Clock())
    for i in range(5):
        store.add("c", Exchange(f"u{i}", f"a{i}"))
    assert [e.user for e in store.history("c")] == ["u3", "u4"]


def test_history_expires_by_age() -> None:
    clock = _Clock()
    store = ConversationStore(4, 60.0, 10, clock=clock)
    store.add("c", Exchange("u", "a"))
    clock.now = 59.0
    assert store.history("c")
    clock.now = 120.0
    assert store.history("c") == []
    assert len(store) == 0


def test_history_forgets_the_least_recently_used_conversation() -> None:
    clock = _Clock()
    store = ConversationStore(4, 1e9, 2, clock=clock)
    for name in ("a", "b", "c"):
        clock.now += 1
        store.add(name, Exchange("u", "x"))
    assert store.history("a") == []
    assert store.history("b")
    assert store.history("c")


def test_history_turned_off_keeps_nothing() -> None:
    store = ConversationStore(0, 60.0, 10)
    store.add("c", Exchange("u", "a"))
    assert store.history("c") == []


# -- schemas ----------------------------------------------------------------------------------

INTENTS: dict[str, Any] = {
    "lights_on": {"room": "string"},
    "set_temperature": {"room": "string", "value": "number"},
    "stop_music": {},
}


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ({"intent": "lights_on", "slots": {"room": "kitchen"}}, True),
        ({"intent": "stop_music", "slots": {}}, True),
        ({"intent": "set_temperature", "slots": {"room": "hall", "value": 21.5}}, True),
        ({"intent": "lights_on", "slots": {"value": 3}}, False),  # slot of another intent
        ({"intent": "open_door", "slots": {}}, False),
        ({"intent": "set_temperature", "slots": {"value": "warm"}}, False),
        ({"intent": "lights_on"}, False),
        ([1, 2], False),
    ],
)
def test_intents_schema_accepts_only_that_intents_slots(value: Any, ok: bool) -> None:
    assert (validate(value, intents_schema(INTENTS)) is None) is ok


def test_schema_bounds_and_types() -> None:
    schema = {
        "type": "object",
        "properties": {
            "n": {"type": "integer", "minimum": 1, "maximum": 3},
            "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 2},
        },
        "required": ["n"],
    }
    assert validate({"n": 2, "tags": ["a"]}, schema) is None
    assert "maximum" in (validate({"n": 4}, schema) or "")
    assert "integer" in (validate({"n": True}, schema) or "")
    assert "maxItems" in (validate({"n": 1, "tags": ["a", "b", "c"]}, schema) or "")
    assert "tags[0]" in (validate({"n": 1, "tags": [1]}, schema) or "")


def test_unsupported_schema_keywords_are_a_config_error() -> None:
    with pytest.raises(ValidationError, match="pattern"):
        StructuredOptions.model_validate({"json_schema": {"type": "string", "pattern": "^a"}})


def test_examples_must_match_the_schema() -> None:
    with pytest.raises(ValidationError, match="examples"):
        StructuredOptions.model_validate(
            {"intents": INTENTS, "examples": [["lights on", {"intent": "dance", "slots": {}}]]}
        )


def test_structured_task_describes_every_intent() -> None:
    task = StructuredTask.from_options(StructuredOptions.model_validate({"intents": INTENTS}))
    for name in INTENTS:
        assert name in task.system
    assert task.constrain


def test_extract_json_skips_chatter_and_fences() -> None:
    assert extract_json('Sure! ```json\n{"a": [1, {"b": 2}]}\n``` done') == {"a": [1, {"b": 2}]}
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("no braces here {")


# -- requests ---------------------------------------------------------------------------------


def _sample(text: str, **fields: Any) -> TextSample:
    return TextSample(text=text, fields=MappingProxyType(fields), source_format="application/json")


def test_request_defaults_come_from_the_route_then_the_pipeline() -> None:
    opts = GenerateOptions(default_max_tokens=50, system="pipeline system")
    route = GenerateRouteOptions(max_tokens=20, temperature=0.5)
    req = parse_request(_sample("hi"), opts, route)
    assert (req.max_tokens, req.temperature, req.system) == (20, 0.5, "pipeline system")
    req = parse_request(_sample("hi", max_tokens=7, system="mine", stop=["\n"]), opts, route)
    assert (req.max_tokens, req.system, req.stop) == (7, "mine", ("\n",))


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"max_tokens": 10_000}, Reason.MAX_TOKENS_TOO_LARGE),
        ({"colour": "red"}, Reason.BAD_ENVELOPE),
        ({"temperature": 5}, Reason.BAD_ENVELOPE),
        ({"conversation": "has spaces"}, Reason.BAD_ENVELOPE),
        ({"stop": [""]}, Reason.BAD_ENVELOPE),
    ],
)
def test_bad_request_fields_have_reason_codes(fields: dict[str, Any], reason: Reason) -> None:
    with pytest.raises(PayloadError) as err:
        parse_request(_sample("hi", **fields), GenerateOptions(), GenerateRouteOptions())
    assert err.value.reason is reason
    assert "hi" not in err.value.detail


def test_an_empty_prompt_is_rejected() -> None:
    with pytest.raises(PayloadError) as err:
        parse_request(_sample("  \n"), GenerateOptions(), GenerateRouteOptions())
    assert err.value.reason is Reason.BAD_ENVELOPE


# -- packaging: a missing artifact, a corrupt one, a missing extra ------------------------------


def _family_copy(tmp_path: Path) -> Path:
    """The generate family folder without its built artifacts."""
    src = Path(__file__).resolve().parents[3] / "models" / "generate"
    dst = tmp_path / "generate"
    dst.mkdir()
    (dst / "manifest.toml").write_text((src / "manifest.toml").read_text())
    return dst


def test_a_missing_artifact_names_the_command_that_builds_it(tmp_path: Path) -> None:
    package = load_package(_family_copy(tmp_path))
    for variant in package.manifest.variants:
        why = package.unavailable_reason(variant.id)
        assert why == "not built: run `python -m models.build.generate`"
    assert package.available_variants() == []


def test_a_corrupt_artifact_is_refused_before_the_runtime_sees_it(tmp_path: Path) -> None:
    root = _family_copy(tmp_path)
    package = load_package(root)
    variant = package.manifest.variants[0]
    (root / str(variant.file)).write_bytes(b"not a model")
    with pytest.raises(ModelError, match="sha256 mismatch"):
        LiteRtLmModel(
            package.variant_path(variant.id),
            sha256=variant.sha256,
            num_threads=1,
            max_num_tokens=512,
            cache_dir=tmp_path / "cache",
        )


def test_without_the_extra_the_error_names_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "litert_lm", None)  # import litert_lm -> ImportError
    with pytest.raises(MissingExtraError) as err:
        runtime_module("generate")
    assert err.value.extra == "generate"
    assert "pip install 'edge-agent[generate]'" in str(err.value)
