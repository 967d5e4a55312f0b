"""One hierarchy of typed errors; each carries its context as attributes."""

from __future__ import annotations

import enum

__all__ = [
    "CancelledError",
    "ConfigError",
    "EdgeAgentError",
    "MissingExtraError",
    "ModelError",
    "PayloadError",
    "Reason",
    "TransportError",
]


class EdgeAgentError(Exception):
    """Base class of every error edge-agent raises on purpose."""


class ConfigError(EdgeAgentError):
    """A configuration file, key or value is wrong.

    Attributes:
        file: The file the value came from, if any.
        key: Dotted key path of the offending value, if known.
        line: 1-based line in ``file``, if known.
        reason: Human-readable explanation.
    """

    def __init__(
        self,
        reason: str,
        *,
        file: str | None = None,
        key: str | None = None,
        line: int | None = None,
    ) -> None:
        self.reason = reason
        self.file = file
        self.key = key
        self.line = line
        where = ""
        if file is not None:
            where = file + (f":{line}" if line is not None else "")
        parts = [p for p in (where, f"key '{key}'" if key else "") if p]
        prefix = ": ".join(parts)
        super().__init__(f"{prefix}: {reason}" if prefix else reason)


class Reason(enum.StrEnum):
    """Reason codes published on the error topic (part of the public contract)."""

    EMPTY = "empty_payload"
    TOO_LARGE = "too_large"
    UNKNOWN_FORMAT = "unknown_format"
    UNSUPPORTED_FORMAT = "unsupported_format"
    BAD_CONTENT_TYPE = "bad_content_type"
    MALFORMED_IMAGE = "malformed_image"
    TOO_MANY_PIXELS = "too_many_pixels"
    MALFORMED_AUDIO = "malformed_audio"
    AUDIO_TOO_LONG = "audio_too_long"
    INVALID_UTF8 = "invalid_utf8"
    TEXT_TOO_LONG = "text_too_long"
    MALFORMED_JSON = "malformed_json"
    JSON_TOO_DEEP = "json_too_deep"
    BAD_ENVELOPE = "bad_envelope"
    WRONG_MODALITY = "wrong_modality"
    MODEL_UNAVAILABLE = "model_unavailable"
    INFERENCE_FAILED = "inference_failed"
    INBOX_FULL = "inbox_full"
    BAD_RESPONSE_TOPIC = "bad_response_topic"
    BAD_PROPERTY = "bad_property"
    TOPIC_TOO_LONG = "topic_too_long"
    PROMPT_TOO_LONG = "prompt_too_long"
    MAX_TOKENS_TOO_LARGE = "max_tokens_too_large"
    GENERATION_TIMEOUT = "generation_timeout"
    STRUCTURED_OUTPUT_INVALID = "structured_output_invalid"


class PayloadError(EdgeAgentError):
    """A payload was rejected; never carries the payload itself.

    Attributes:
        reason: The reason code.
        detail: Short explanation without payload contents.
        topic: Topic the payload arrived on, when known.
        sensor: Sensor id, when known.
        size: Payload size in bytes, when known.
        retry_after_s: For model_unavailable: seconds after which a retry may succeed.
    """

    def __init__(
        self,
        reason: Reason,
        detail: str,
        *,
        topic: str | None = None,
        sensor: str | None = None,
        size: int | None = None,
    ) -> None:
        self.reason = reason
        self.detail = detail
        self.topic = topic
        self.sensor = sensor
        self.size = size
        self.retry_after_s: float | None = None
        super().__init__(f"{reason.value}: {detail}")


class ModelError(EdgeAgentError):
    """A model package or model file cannot be used.

    Attributes:
        family: Model family name, when known.
        variant: Variant id, when known.
        path: File involved, when known.
        reason: Human-readable explanation.
    """

    def __init__(
        self,
        reason: str,
        *,
        family: str | None = None,
        variant: str | None = None,
        path: str | None = None,
    ) -> None:
        self.reason = reason
        self.family = family
        self.variant = variant
        self.path = path
        ctx = "/".join(p for p in (family, variant) if p)
        loc = f" ({path})" if path else ""
        super().__init__(f"{ctx}: {reason}{loc}" if ctx else f"{reason}{loc}")


class TransportError(EdgeAgentError):
    """The broker cannot be reached or refused us.

    Attributes:
        address: Broker address.
        reason: Human-readable explanation.
    """

    def __init__(self, reason: str, *, address: str | None = None) -> None:
        self.reason = reason
        self.address = address
        super().__init__(f"{address}: {reason}" if address else reason)


class MissingExtraError(ModelError):
    """A family's runtime is an optional extra that is not installed.

    Attributes:
        extra: The ``edge-agent`` extra that installs it (``speech``, ``generate``).
        module: The module that failed to import.
    """

    def __init__(self, extra: str, module: str, *, family: str | None = None) -> None:
        self.extra = extra
        self.module = module
        super().__init__(
            f"needs the optional runtime {module!r}: pip install 'edge-agent[{extra}]'",
            family=family,
        )


class CancelledError(EdgeAgentError):
    """Work on a message was cut short by shutdown; the message must not be acknowledged.

    Attributes:
        reason: Why (``shutdown``).
    """

    def __init__(self, reason: str = "shutdown") -> None:
        self.reason = reason
        super().__init__(f"cancelled: {reason}")
