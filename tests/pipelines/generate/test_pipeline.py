"""The generate pipeline on the real SmolLM2 ``.litertlm`` (LiteRT-LM, 2 threads)."""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

import pytest
from structlog.testing import capture_logs

from edge_agent.errors import CancelledError, ModelError, PayloadError, Reason
from edge_agent.pipelines.base import RequestContext, TextSample
from edge_agent.pipelines.generate.options import GenerateOptions, GenerateRouteOptions
from edge_agent.pipelines.generate.pipeline import GeneratePipeline
from edge_agent.pipelines.generate.prompt import DEFAULT_SYSTEM, render_chatml
from edge_agent.pipelines.generate.schema import intents_schema, validate
from edge_agent.pipelines.outputs import SideOutputs
from edge_agent.runtime.manifest import ModelPackage

VARIANT = "smollm2-135m-kv1024"
SECRET = "my door code is 4711"

INTENTS: dict[str, Any] = {
    "lights_on": {"room": "string"},
    "lights_off": {"room": "string"},
    "set_temperature": {"room": "string", "value": "number"},
}


def _sample(text: str, **fields: Any) -> TextSample:
    return TextSample(text=text, fields=MappingProxyType(fields), source_format="application/json")


def _ctx(
    route: GenerateRouteOptions | None = None, partials: list[Mapping[str, Any]] | None = None
) -> RequestContext:
    sink = None if partials is None else (lambda seq, data: partials.append({"seq": seq, **data}))
    return RequestContext(
        topic="sensors/s1/prompt",
        sensor="s1",
        route="ask",
        request_id="r1",
        route_options=route or GenerateRouteOptions(),
        outputs=SideOutputs(sink),
    )


def test_token_ids_match_the_gguf_tokenizer(
    generate_pipeline: GeneratePipeline, reference: dict[str, Any]
) -> None:
    probes = reference["token_ids"]
    assert len(probes) >= 5
    for text, ids in probes.items():
        assert generate_pipeline.model.tokenize(text) == ids, text


def test_greedy_completions_are_deterministic_and_match_the_recording(
    generate_pipeline: GeneratePipeline, reference: dict[str, Any]
) -> None:
    for case in reference["greedy"]:
        answers = [
            generate_pipeline.process(
                _sample(case["prompt"], max_tokens=case["max_tokens"]), _ctx()
            )[0]
            for _ in range(2)
        ]
        assert answers[0]["text"] == answers[1]["text"] == case["text"]
        assert answers[0]["prompt_tokens"] == case["prompt_tokens"]


def test_the_models_template_renders_the_same_prompt(generate_pipeline: GeneratePipeline) -> None:
    """The Jinja template inside the .litertlm and the pipeline's renderer agree."""
    conversation = generate_pipeline.model.engine.create_conversation(
        messages=[{"role": "system", "content": "Be brief."}]
    )
    try:
        rendered = conversation.render_message_to_string("What is 2+2?")
    finally:
        conversation.close()
    expected = render_chatml("Be brief.", [], "What is 2+2?")
    assert expected.endswith(rendered)
    assert render_chatml(None, [], "x").startswith(f"<|im_start|>system\n{DEFAULT_SYSTEM}")


def test_partials_concatenate_to_the_final_text(generate_pipeline: GeneratePipeline) -> None:
    partials: list[Mapping[str, Any]] = []
    [result] = generate_pipeline.process(
        _sample("Name three colours of the rainbow.", max_tokens=40), _ctx(partials=partials)
    )
    assert len(partials) >= 3
    assert [p["seq"] for p in partials] == list(range(len(partials)))
    assert "".join(p["text"] for p in partials) == result["text"]
    assert result["completion_tokens"] >= len(partials)
    assert result["ttft_ms"] > 0
    assert result["tokens_per_s"] > 0


def test_max_tokens_ends_with_finish_reason_length(generate_pipeline: GeneratePipeline) -> None:
    [result] = generate_pipeline.process(
        _sample("Write a long story about a lighthouse keeper.", max_tokens=8), _ctx()
    )
    assert result["finish_reason"] == "length"
    assert result["completion_tokens"] == 8


def test_a_stop_text_cuts_the_answer(generate_pipeline: GeneratePipeline) -> None:
    [free] = generate_pipeline.process(_sample("Count from 1 to 10.", max_tokens=40), _ctx())
    assert "5" in free["text"]
    [cut] = generate_pipeline.process(
        _sample("Count from 1 to 10.", max_tokens=40, stop=["5"]), _ctx()
    )
    assert cut["text"] == free["text"][: free["text"].index("5")]
    assert cut["finish_reason"] == "stop"


def test_structured_intent_parses_against_its_schema(generate_pipeline: GeneratePipeline) -> None:
    garage = {"intent": "lights_on", "slots": {"room": "garage"}}
    bedroom = {"intent": "set_temperature", "slots": {"room": "bedroom", "value": 19}}
    route = GenerateRouteOptions.model_validate(
        {
            "structured": {
                "intents": INTENTS,
                "examples": [
                    ["switch on the light in the garage", garage],
                    ["set the bedroom to 19 degrees", bedroom],
                ],
            }
        }
    )
    for command in ("turn off the lights in the kitchen", "make the office 22 degrees"):
        [result] = generate_pipeline.process(_sample(command, max_tokens=60), _ctx(route))
        assert validate(result["json"], intents_schema(INTENTS)) is None
        assert result["constrained"] is True
        assert result["attempts"] in (1, 2)


def test_structured_json_schema_without_constraint_validates(
    generate_pipeline: GeneratePipeline,
) -> None:
    schema = {
        "type": "object",
        "properties": {"answer": {"type": "string"}},
        "required": ["answer"],
        "additionalProperties": False,
    }
    route = GenerateRouteOptions.model_validate(
        {
            "structured": {
                "json_schema": schema,
                "constrain": "off",
                "examples": [["What is the capital of Italy?", {"answer": "Rome"}]],
            }
        }
    )
    results, reasons = [], []
    try:
        results = generate_pipeline.process(
            _sample("What is the capital of France?", max_tokens=40), _ctx(route)
        )
    except PayloadError as exc:  # a 135M model may fail twice; then the reason is coded
        reasons.append(exc.reason)
    assert reasons == [Reason.STRUCTURED_OUTPUT_INVALID] or (
        validate(results[0]["json"], schema) is None and results[0]["constrained"] is False
    )


def test_a_too_long_prompt_is_rejected_with_a_reason(generate_pipeline: GeneratePipeline) -> None:
    long_prompt = " ".join(["lamp"] * 2000)
    with capture_logs() as logs, pytest.raises(PayloadError) as err:
        generate_pipeline.process(_sample(long_prompt), _ctx())
    assert err.value.reason is Reason.PROMPT_TOO_LONG
    assert "lamp" not in err.value.detail
    assert "lamp lamp" not in repr(logs)


def test_history_trims_to_fit_and_conversation_is_remembered(
    generate_pipeline: GeneratePipeline,
) -> None:
    generate_pipeline.history.clear()
    first = generate_pipeline.process(
        _sample("My name is Ada. Say hello to me.", conversation="c1", max_tokens=20), _ctx()
    )[0]
    second = generate_pipeline.process(
        _sample("What is my name?", conversation="c1", max_tokens=20), _ctx()
    )[0]
    alone = generate_pipeline.process(_sample("What is my name?", max_tokens=20), _ctx())[0]
    assert first["conversation"] == second["conversation"] == "c1"
    assert second["prompt_tokens"] > alone["prompt_tokens"] + first["completion_tokens"]
    assert len(generate_pipeline.history.history("c1")) == 2


def test_timeout_has_its_own_reason(generate_package: ModelPackage, tmp_path: Path) -> None:
    pipe = GeneratePipeline(
        "g", generate_package, GenerateOptions(timeout_s=0.05), num_threads=2, cache_dir=tmp_path
    )
    pipe.load(VARIANT)
    try:
        with pytest.raises(PayloadError) as err:
            pipe.process(_sample("Write a poem about the sea.", max_tokens=200), _ctx())
        assert err.value.reason is Reason.GENERATION_TIMEOUT
        # the engine is usable after a cut-short generation
        pipe.opts = GenerateOptions()
        [ok] = pipe.process(_sample("Say yes.", max_tokens=3), _ctx())
        assert ok["completion_tokens"] >= 1
    finally:
        pipe.unload()


def test_cancel_from_another_thread_raises_cancelled(generate_pipeline: GeneratePipeline) -> None:
    partials: list[Mapping[str, Any]] = []

    def cancel_after_first_piece(seq: int, data: Mapping[str, Any]) -> None:
        partials.append(data)
        if seq == 2:
            threading.Thread(target=generate_pipeline.cancel).start()

    ctx = _ctx()
    ctx.outputs = SideOutputs(cancel_after_first_piece)
    try:
        with pytest.raises(CancelledError):
            generate_pipeline.process(_sample("Write a story about a cat.", max_tokens=200), ctx)
    finally:
        generate_pipeline._cancelled.clear()  # the module's pipeline serves later tests
    assert 3 <= len(partials) < 100


def test_secret_prompts_and_answers_are_not_logged(generate_pipeline: GeneratePipeline) -> None:
    with capture_logs() as logs:
        [result] = generate_pipeline.process(
            _sample(f"Repeat after me: {SECRET}", max_tokens=16), _ctx()
        )
    assert logs, "the answer is logged (without text)"
    flat = repr(logs)
    assert SECRET not in flat
    assert result["text"] not in flat or not result["text"]


def test_unloaded_pipeline_raises_model_error(generate_package: ModelPackage) -> None:
    pipe = GeneratePipeline("g", generate_package, GenerateOptions())
    with pytest.raises(ModelError):
        pipe.process(_sample("hi"), _ctx())


def test_weight_cache_lives_in_the_cache_dir_and_stale_ones_go(
    generate_package: ModelPackage, tmp_path: Path
) -> None:
    stale = tmp_path / "smollm2-135m-instruct-kv1024.litertlm_1_1.xnnpack_cache"
    stale.write_bytes(b"old")
    pipe = GeneratePipeline("g", generate_package, GenerateOptions(), cache_dir=tmp_path)
    pipe.load(VARIANT)
    try:
        current = pipe.model.current_weight_cache()
        assert current.is_file()
        assert current.stat().st_size > 100 << 20  # XNNPACK's packed int8 weights
        assert not stale.exists()
    finally:
        pipe.unload()
    assert pipe.active_variant is None


def test_the_answer_stops_where_the_context_ends(
    generate_package: ModelPackage, tmp_path: Path
) -> None:
    opts = GenerateOptions(max_prompt_tokens=1000, max_output_tokens=400)
    pipe = GeneratePipeline("g", generate_package, opts, num_threads=2, cache_dir=tmp_path)
    pipe.load(VARIANT)
    try:
        prompt = "Keep repeating the word lamp: " + "lamp " * 900
        [result] = pipe.process(_sample(prompt, max_tokens=400), _ctx())
    finally:
        pipe.unload()
    room = 1024 - result["prompt_tokens"]
    assert 0 < room < 400
    assert result["completion_tokens"] <= room
    assert (result["finish_reason"] == "length") == (result["completion_tokens"] == room)


def test_prepare_builds_a_weight_cache_once(generate_package: ModelPackage, tmp_path: Path) -> None:
    from edge_agent.runtime.litert_lm import weight_cache_path

    pipe = GeneratePipeline(
        "generate", generate_package, GenerateOptions(), num_threads=2, cache_dir=tmp_path
    )
    variant = "smollm2-135m-kv1024"
    engines: list[str] = []
    real = pipe._engine

    def counting(variant_id: str) -> Any:
        engines.append(variant_id)
        return real(variant_id)

    pipe._engine = counting  # type: ignore[method-assign]
    pipe.prepare([variant])
    assert weight_cache_path(generate_package.variant_path(variant), tmp_path).exists()
    pipe.prepare([variant])  # a restart: the cache is there, no engine is built
    assert engines == [variant]
