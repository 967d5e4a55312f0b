"""Structured-output routes: the schema, the instructions and examples the model sees."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from edge_agent.pipelines.generate.history import Exchange
from edge_agent.pipelines.generate.options import StructuredOptions

__all__ = ["StructuredTask", "retry_prompt"]


def _intent_lines(options: StructuredOptions) -> str:
    lines = []
    for name, slots in (options.intents or {}).items():
        described = ", ".join(
            f"{slot} ({'one of ' + '/'.join(t) if isinstance(t, list) else t})"
            for slot, t in slots.items()
        )
        lines.append(f"- {name}: {described or 'no slots'}")
    return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class StructuredTask:
    """What a structured route asks of the model.

    Attributes:
        schema: The JSON schema answers must match.
        system: The system prompt.
        examples: Few-shot exchanges shown before the request.
        constrain: Whether to constrain decoding to the schema.
    """

    schema: dict[str, Any]
    system: str
    examples: tuple[Exchange, ...]
    constrain: bool

    @classmethod
    def from_options(cls, options: StructuredOptions) -> StructuredTask:
        """Compile a route's options (validated already: schema subset, examples match)."""
        schema = options.schema_dict
        if options.intents is not None:
            default = (
                "You turn a spoken command into JSON. Reply with one JSON object "
                '{"intent": ..., "slots": {...}} and nothing else. Intents and their slots:\n'
                + _intent_lines(options)
                + "\nLeave out slots the command does not mention."
            )
        else:
            default = (
                "Reply with one JSON object that matches this JSON schema, and nothing else:\n"
                + json.dumps(schema, separators=(",", ":"))
            )
        examples = [
            Exchange(text, json.dumps(answer, separators=(", ", ": ")))
            for text, answer in options.examples
        ]
        return cls(
            schema=schema,
            system=options.instructions or default,
            examples=tuple(examples),
            constrain=options.constrain == "auto",
        )


def retry_prompt(why: str) -> str:
    """The follow-up message of the one retry after an answer that did not match."""
    return (
        f"That answer is not valid ({why}). Reply again with only the JSON object, "
        "exactly as the instructions say."
    )
