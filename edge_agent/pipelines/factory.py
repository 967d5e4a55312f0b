"""Build a pipeline from settings: its model package, its kind and its validated options."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import BaseModel, ValidationError

from edge_agent.config.models import AgentSettings, PipelineSettings
from edge_agent.errors import ConfigError
from edge_agent.pipelines.base import Pipeline
from edge_agent.pipelines.registry import pipeline_class
from edge_agent.runtime.manifest import load_package

__all__ = ["build_pipeline", "validate_options"]


def validate_options(model: type[BaseModel], raw: Mapping[str, Any], key: str) -> BaseModel:
    """Validate a pipeline's or route's ``options`` table.

    Raises:
        ConfigError: Naming the full key of the bad or unknown option.
    """
    try:
        return model.model_validate(dict(raw))
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        reason = "unknown key" if err["type"] == "extra_forbidden" else err["msg"]
        raise ConfigError(reason, key=f"{key}.{loc}" if loc else key) from None


def build_pipeline(name: str, settings: AgentSettings, spec: PipelineSettings) -> Pipeline:
    """Load a pipeline's model package and construct it (no variant loaded yet).

    Raises:
        ConfigError: Bad options or unknown kind.
        ModelError: Missing or invalid model package.
    """
    cls = pipeline_class(spec.kind)
    package = load_package(settings.models_dir / spec.family_name)
    if package.manifest.modality != cls.modality:
        raise ConfigError(
            f"family {package.family!r} is {package.manifest.modality}, pipeline kind "
            f"{spec.kind!r} needs {cls.modality}",
            key=f"pipelines.{name}.family",
        )
    options = validate_options(cls.options_model, spec.options, f"pipelines.{name}.options")
    cache = settings.cache_dir / package.family
    return cls(
        name,
        package,
        options,
        num_threads=spec.threads,
        cache_dir=cache,
        models_dir=settings.models_dir,
    )
