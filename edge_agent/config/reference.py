"""The config reference table in the README, generated from the settings models."""

from __future__ import annotations

import json
import types
import typing
from typing import Any

from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from edge_agent.config.models import AgentSettings, PipelineSettings, RouteSettings
from edge_agent.errors import ConfigError
from edge_agent.pipelines.registry import KINDS, pipeline_class

__all__ = ["reference_markdown"]


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    if origin is typing.Literal:
        return " \\| ".join(json.dumps(a) for a in typing.get_args(annotation))
    if origin in (typing.Union, types.UnionType):
        return " \\| ".join(_type_name(a) for a in typing.get_args(annotation))
    if origin is typing.Annotated:
        return _type_name(typing.get_args(annotation)[0])
    if origin is not None:
        args = ", ".join(_type_name(a) for a in typing.get_args(annotation))
        return f"{getattr(origin, '__name__', str(origin))}[{args}]"
    if annotation is type(None):
        return "null"
    return getattr(annotation, "__name__", str(annotation))


def _default(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return "(computed)" if info.default is PydanticUndefined else repr(info.default)
    if info.default is PydanticUndefined:
        return "required"
    value = info.default
    if isinstance(value, BaseModel):
        return ""
    return "`" + json.dumps(value, default=str) + "`"


def _model_of(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _rows(model: type[BaseModel], prefix: str) -> list[str]:
    rows: list[str] = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        nested = _model_of(info.annotation)
        if nested is not None and name not in ("pipelines", "routes"):
            rows.extend(_rows(nested, f"{key}."))
            continue
        if name in ("pipelines", "routes"):
            continue
        desc = (info.description or "").replace("|", "\\|").replace("\n", " ")
        rows.append(f"| `{key}` | {_type_name(info.annotation)} | {_default(info)} | {desc} |")
    return rows


def reference_markdown() -> str:
    """Markdown tables of every config key: type, default and description."""
    head = "| key | type | default | description |\n|---|---|---|---|\n"
    parts = [
        "#### Top level and sections\n\n" + head + "\n".join(_rows(AgentSettings, "")),
        "#### `pipelines.<name>`\n\n"
        + head
        + "\n".join(_rows(PipelineSettings, "pipelines.<name>.")),
        "#### `routes.<name>`\n\n" + head + "\n".join(_rows(RouteSettings, "routes.<name>.")),
    ]
    for kind in KINDS:
        try:
            cls = pipeline_class(kind)
        except ConfigError:
            continue
        for label, model, where in (
            ("pipeline options", cls.options_model, "pipelines.<name>.options."),
            ("route options", cls.route_options_model, "routes.<name>.options."),
        ):
            rows = _rows(model, where)
            if rows:
                parts.append(f"#### `{kind}` {label}\n\n" + head + "\n".join(rows))
    return "\n\n".join(parts) + "\n"
