"""Options of the ``generate`` pipeline, its routes and its family's manifest table."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from edge_agent.pipelines.generate.schema import SlotType, check_schema, intents_schema, validate

__all__ = [
    "GenerateOptions",
    "GenerateRouteOptions",
    "GenerateSettings",
    "StructuredOptions",
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class GenerateOptions(_Strict):
    """Pipeline options of ``generate`` (``[pipelines.<name>.options]``)."""

    max_prompt_tokens: int = Field(
        default=768,
        ge=16,
        le=8192,
        description="Most tokens a prompt may have (system prompt + message, chat markup "
        "included; history is trimmed to fit first); more is `prompt_too_long`.",
    )
    max_output_tokens: int = Field(
        default=256,
        ge=1,
        le=4096,
        description="Most tokens a request may ask for (`max_tokens`); more is "
        "`max_tokens_too_large`. Generation also stops where the context ends.",
    )
    default_max_tokens: int = Field(
        default=128, ge=1, le=4096, description="Tokens generated when a request names none."
    )
    timeout_s: float = Field(
        default=30.0,
        gt=0,
        le=110,
        description="Seconds one request may take from prefill to the last token; past it "
        "the request ends with `generation_timeout` (at most 110: the daemon reports a "
        "generate worker busy for over 120 s as stuck).",
    )
    history_turns: int = Field(
        default=4,
        ge=0,
        le=64,
        description="Exchanges kept per conversation id (oldest dropped first); 0: no history.",
    )
    history_age_s: float = Field(
        default=900.0, gt=0, description="A conversation idle this long starts afresh."
    )
    max_conversations: int = Field(
        default=64,
        ge=1,
        le=10000,
        description="Conversation ids remembered (the least recently used is forgotten).",
    )
    partial_every_tokens: int = Field(
        default=1,
        ge=1,
        le=1024,
        description="Publish a partial result every this many generated tokens (routes "
        "with `stream = false` publish none).",
    )
    system: str | None = Field(
        default=None,
        max_length=4000,
        description="Default system prompt (null: the model's own default).",
    )


class StructuredOptions(_Strict):
    """Structured output of a route: a JSON schema, or intents with their slots."""

    json_schema: dict[str, Any] | None = Field(
        default=None,
        description="JSON schema the answer must match (subset: type, properties, required, "
        "additionalProperties, enum, const, items, anyOf, min/max, min/maxLength, "
        "min/maxItems).",
    )
    intents: dict[str, dict[str, SlotType]] | None = Field(
        default=None,
        description="Intent name -> {slot name -> type or allowed values}; the answer is "
        '`{"intent": <name>, "slots": {...}}` with only that intent\'s slots.',
    )
    instructions: str | None = Field(
        default=None,
        max_length=4000,
        description="System prompt for this route (default: one generated from the schema).",
    )
    examples: list[tuple[str, dict[str, Any]]] = Field(
        default_factory=list,
        max_length=16,
        description="Few-shot [input, answer] pairs shown to the model before the request.",
    )
    constrain: Literal["auto", "off"] = Field(
        default="auto",
        description="auto: constrain decoding to the schema where the runtime supports it; "
        "off: generate freely, then validate and retry once.",
    )

    @model_validator(mode="after")
    def _one_form(self) -> StructuredOptions:
        if (self.json_schema is None) == (self.intents is None):
            raise ValueError("give exactly one of `json_schema` or `intents`")
        if self.intents is not None and not self.intents:
            raise ValueError("`intents` must name at least one intent")
        if self.json_schema is not None:
            check_schema(self.json_schema)
        for i, (_, answer) in enumerate(self.examples):
            why = validate(answer, self.schema_dict)
            if why is not None:
                raise ValueError(f"examples[{i}] does not match the schema: {why}")
        return self

    @property
    def schema_dict(self) -> dict[str, Any]:
        """The JSON schema answers must match (intents compiled to one)."""
        if self.intents is not None:
            return intents_schema(self.intents)
        return dict(self.json_schema or {})


class GenerateRouteOptions(_Strict):
    """Per-route options of ``generate``."""

    system: str | None = Field(
        default=None, max_length=4000, description="System prompt of this route."
    )
    max_tokens: int | None = Field(
        default=None, ge=1, le=4096, description="Default `max_tokens` of this route."
    )
    temperature: float = Field(
        default=0.0, ge=0.0, le=2.0, description="Default temperature (0: greedy, reproducible)."
    )
    stream: bool = Field(default=True, description="Publish partial results while generating.")
    structured: StructuredOptions | None = Field(
        default=None, description="Answer with a JSON object matching a schema (or intents)."
    )


class GenerateSettings(_Strict):
    """The manifest's ``[pipeline]`` table of a generate family."""

    context_tokens: dict[str, int] = Field(
        description="Variant id -> the engine's `max_num_tokens` (KV cache length) it runs with."
    )
    stop: list[str] = Field(
        default_factory=list,
        description="Texts that end an answer besides the model's stop tokens (chat markup).",
    )
