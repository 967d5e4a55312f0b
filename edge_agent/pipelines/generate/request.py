"""One generation request: the text codec's sample plus the envelope's fields, validated."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from edge_agent.errors import PayloadError, Reason
from edge_agent.pipelines.base import TextSample
from edge_agent.pipelines.generate.options import GenerateOptions, GenerateRouteOptions

__all__ = ["GenerateRequest", "RequestFields", "parse_request"]


class RequestFields(BaseModel):
    """The JSON envelope's fields besides ``text`` (the prompt)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    system: str | None = Field(default=None, max_length=4000, description="System prompt.")
    max_tokens: int | None = Field(default=None, ge=1, description="Tokens to generate at most.")
    temperature: float | None = Field(
        default=None, ge=0.0, le=2.0, description="Sampling temperature (0: greedy)."
    )
    seed: int | None = Field(default=None, ge=0, lt=2**31, description="Sampling seed.")
    stop: list[str] = Field(
        default_factory=list, max_length=4, description="Texts that end the answer (not included)."
    )
    conversation: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9_.:-]{1,64}$",
        description="Conversation id: earlier exchanges with it are part of the prompt.",
    )


@dataclass(frozen=True, slots=True)
class GenerateRequest:
    """Everything one generation needs, after defaults were applied.

    Attributes:
        prompt: The user's message (never logged).
        system: System prompt, or None for the model's default.
        max_tokens: Tokens to generate at most.
        temperature: Sampling temperature (0: greedy).
        seed: Sampling seed.
        stop: Texts that end the answer.
        conversation: Conversation id, or None.
    """

    prompt: str
    system: str | None
    max_tokens: int
    temperature: float
    seed: int
    stop: tuple[str, ...]
    conversation: str | None


def _fields(raw: Mapping[str, Any]) -> RequestFields:
    try:
        return RequestFields.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"]) or "envelope"
        why = "unknown field" if err["type"] == "extra_forbidden" else err["msg"]
        raise PayloadError(Reason.BAD_ENVELOPE, f"{where}: {why}") from None


def parse_request(
    sample: TextSample, options: GenerateOptions, route: GenerateRouteOptions
) -> GenerateRequest:
    """Validate a text sample as a generation request.

    Raises:
        PayloadError: BAD_ENVELOPE for an empty prompt or a bad field,
            MAX_TOKENS_TOO_LARGE for a ``max_tokens`` over ``max_output_tokens``.
    """
    fields = _fields(sample.fields)
    if not sample.text.strip():
        raise PayloadError(Reason.BAD_ENVELOPE, "the prompt is empty")
    if any(not s for s in fields.stop) or any(len(s) > 64 for s in fields.stop):
        raise PayloadError(Reason.BAD_ENVELOPE, "stop: each stop text has 1 to 64 characters")
    max_tokens = fields.max_tokens or route.max_tokens or options.default_max_tokens
    if max_tokens > options.max_output_tokens:
        raise PayloadError(
            Reason.MAX_TOKENS_TOO_LARGE,
            f"max_tokens {max_tokens} > max_output_tokens {options.max_output_tokens}",
        )
    return GenerateRequest(
        prompt=sample.text,
        system=fields.system if fields.system is not None else route.system or options.system,
        max_tokens=max_tokens,
        temperature=fields.temperature if fields.temperature is not None else route.temperature,
        seed=fields.seed if fields.seed is not None else 0,
        stop=tuple(fields.stop),
        conversation=fields.conversation,
    )
