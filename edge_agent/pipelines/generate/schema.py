"""Structured output: a JSON-schema subset, intents compiled to it, and answers checked against it.

The subset is what a device needs and what LiteRT-LM's constrained decoding
(llguidance) also accepts: ``type``, ``properties``, ``required``,
``additionalProperties`` (bool), ``enum``, ``const``, ``items``, ``anyOf``,
``minimum``/``maximum``, ``minLength``/``maxLength``, ``minItems``/``maxItems``
(plus ``description``/``title``, ignored). A schema using anything else is a
configuration error, so a route never silently accepts answers it cannot check.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Literal

__all__ = ["SlotType", "check_schema", "extract_json", "intents_schema", "validate"]

SlotType = Literal["string", "number", "integer", "boolean"] | list[str]
"""A slot's JSON type, or the list of values it may take."""

_KEYWORDS = frozenset(
    {
        "type", "properties", "required", "additionalProperties", "enum", "const", "items",
        "anyOf", "minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems",
        "description", "title",
    }
)  # fmt: skip
_TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "boolean": bool,
    "null": type(None),
}


def check_schema(schema: Mapping[str, Any], where: str = "schema") -> None:
    """Reject schemas outside the supported subset.

    Raises:
        ValueError: Naming the path of the first unsupported keyword or bad value.
    """
    unknown = set(schema) - _KEYWORDS
    if unknown:
        raise ValueError(f"{where}: unsupported keyword(s) {sorted(unknown)}")
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    for k in kinds:
        if k not in _TYPES and k not in ("number", "integer"):
            raise ValueError(f"{where}.type: unknown type {k!r}")
    for name, sub in dict(schema.get("properties", {})).items():
        check_schema(sub, f"{where}.properties.{name}")
    if isinstance(schema.get("items"), Mapping):
        check_schema(schema["items"], f"{where}.items")
    for i, sub in enumerate(schema.get("anyOf", [])):
        check_schema(sub, f"{where}.anyOf[{i}]")
    if not isinstance(schema.get("additionalProperties", True), bool):
        # ValueError, not TypeError: pydantic reports it as a configuration error.
        raise ValueError(f"{where}.additionalProperties: only true or false is supported")  # noqa: TRY004


def _slot_schema(slot: SlotType) -> dict[str, Any]:
    if isinstance(slot, list):
        return {"enum": list(slot)}
    return {"type": slot}


def intents_schema(intents: Mapping[str, Mapping[str, SlotType]]) -> dict[str, Any]:
    """The schema of ``{"intent": <name>, "slots": {...}}`` answers: one branch per intent."""
    branches = []
    for name, slots in intents.items():
        branches.append(
            {
                "type": "object",
                "properties": {
                    "intent": {"const": name},
                    "slots": {
                        "type": "object",
                        "properties": {s: _slot_schema(t) for s, t in slots.items()},
                        "additionalProperties": False,
                    },
                },
                "required": ["intent", "slots"],
                "additionalProperties": False,
            }
        )
    return branches[0] if len(branches) == 1 else {"anyOf": branches}


def _type_ok(value: Any, kind: str) -> bool:
    if kind == "integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "number":
        return isinstance(value, int | float) and not isinstance(value, bool)
    if kind in ("object", "array", "string", "null"):
        return isinstance(value, _TYPES[kind])
    return isinstance(value, bool)


def _bounds(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        if "minimum" in schema and value < schema["minimum"]:
            return f"{where}: {value} < minimum {schema['minimum']}"
        if "maximum" in schema and value > schema["maximum"]:
            return f"{where}: {value} > maximum {schema['maximum']}"
    if isinstance(value, str | list):
        lo, hi = ("minLength", "maxLength") if isinstance(value, str) else ("minItems", "maxItems")
        if lo in schema and len(value) < schema[lo]:
            return f"{where}: shorter than {lo} {schema[lo]}"
        if hi in schema and len(value) > schema[hi]:
            return f"{where}: longer than {hi} {schema[hi]}"
    return None


def _object(value: dict[str, Any], schema: Mapping[str, Any], where: str) -> str | None:
    props: Mapping[str, Any] = schema.get("properties", {})
    for name in schema.get("required", []):
        if name not in value:
            return f"{where}: missing required {name!r}"
    for name, item in value.items():
        if name in props:
            why = validate(item, props[name], f"{where}.{name}")
            if why:
                return why
        elif schema.get("additionalProperties", True) is False:
            return f"{where}: unexpected property {name!r}"
    return None


def _scalar(value: Any, schema: Mapping[str, Any], where: str) -> str | None:
    if "anyOf" in schema:
        reasons = [validate(value, sub, where) for sub in schema["anyOf"]]
        if all(reasons):
            return min((r for r in reasons if r), key=len)
    if "const" in schema and value != schema["const"]:
        return f"{where}: not {schema['const']!r}"
    if "enum" in schema and value not in schema["enum"]:
        return f"{where}: not one of {schema['enum']}"
    kind = schema.get("type")
    kinds = kind if isinstance(kind, list) else [kind] if kind is not None else []
    if kinds and not any(_type_ok(value, k) for k in kinds):
        return f"{where}: not {' or '.join(kinds)}"
    return _bounds(value, schema, where)


def validate(value: Any, schema: Mapping[str, Any], where: str = "$") -> str | None:
    """Check a parsed JSON value against a schema of the supported subset.

    Returns:
        None when it matches, else why not (a path and a reason).
    """
    why = _scalar(value, schema, where)
    if why:
        return why
    if isinstance(value, dict):
        return _object(value, schema, where)
    if isinstance(value, list) and isinstance(schema.get("items"), Mapping):
        for i, item in enumerate(value):
            why = validate(item, schema["items"], f"{where}[{i}]")
            if why:
                return why
    return None


def extract_json(text: str) -> Any:
    """The first JSON value in a model's answer (code fences and chatter around it ignored).

    Raises:
        ValueError: No JSON object or array was found.
    """
    decoder = json.JSONDecoder()
    for i, ch in enumerate(text):
        if ch in "{[":
            try:
                value, _ = decoder.raw_decode(text, i)
            except ValueError:
                continue
            return value
    raise ValueError("no JSON object in the answer")
