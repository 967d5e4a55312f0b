"""The decode loop: pieces from the runtime -> stop texts, partials, limits, cancellation."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from edge_agent.errors import CancelledError, PayloadError, Reason
from edge_agent.pipelines.generate.prompt import StopScanner
from edge_agent.runtime.litert_lm import Generation

__all__ = ["Outcome", "PartialSink", "run_generation"]

PartialSink = Callable[[str, int], None]
"""Called with ``(text released since the last call, pieces so far)``."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """How a generation ended.

    Attributes:
        text: The answer (stop text and what followed it cut off).
        finish_reason: ``stop`` (the model ended, or a stop text) or ``length``
            (``max_tokens`` or the end of the context).
        prompt_tokens: Tokens prefilled (the runtime's count).
        completion_tokens: Tokens generated (the runtime's count, stop token included).
        ttft_s: Seconds from the start (prefill included) to the first piece.
        decode_s: Seconds from the first piece to the last.
    """

    text: str
    finish_reason: str
    prompt_tokens: int
    completion_tokens: int
    ttft_s: float | None
    decode_s: float

    @property
    def tokens_per_s(self) -> float | None:
        """Decode speed after the first token (None for answers of one token)."""
        if self.decode_s <= 0 or self.completion_tokens < 2:
            return None
        return (self.completion_tokens - 1) / self.decode_s


def run_generation(
    generation: Generation,
    *,
    started: float,
    stops: Sequence[str],
    max_tokens: int,
    deadline: float,
    cancelled: Callable[[], bool],
    on_text: PartialSink | None = None,
    partial_every: int = 1,
) -> Outcome:
    """Drive one generation to its end and release it.

    Args:
        generation: A started generation (prefill done).
        started: ``time.monotonic()`` when the request's work began (before prefill).
        stops: Texts that end the answer.
        max_tokens: The output limit the generation was started with.
        deadline: ``time.monotonic()`` past which the request fails.
        cancelled: True once shutdown asked this work to stop.
        on_text: Receives released text every ``partial_every`` pieces (and at the end).
        partial_every: Pieces per partial.

    Raises:
        CancelledError: ``cancelled()`` became true (the message is not acknowledged).
        PayloadError: GENERATION_TIMEOUT past ``deadline``.
    """
    scanner = StopScanner(tuple(stops))
    parts: list[str] = []
    unsent: list[str] = []
    pieces = 0
    first: float | None = None
    last = started
    try:
        for piece in generation:
            now = time.monotonic()
            first = now if first is None else first
            last = now
            pieces += 1
            released = scanner.feed(piece)
            parts.append(released)
            unsent.append(released)
            if cancelled():
                generation.stop()
                raise CancelledError("shutdown")
            if now > deadline:
                generation.stop()
                raise PayloadError(
                    Reason.GENERATION_TIMEOUT,
                    f"generation passed the time limit after {pieces} pieces",
                )
            if scanner.stopped:
                generation.stop()
                break
            if on_text is not None and pieces % partial_every == 0 and "".join(unsent):
                on_text("".join(unsent), pieces)
                unsent.clear()
        tail = scanner.flush()
        parts.append(tail)
        unsent.append(tail)
        if on_text is not None and "".join(unsent):
            on_text("".join(unsent), pieces)
    finally:
        generation.close()
    completion = generation.decode_tokens or pieces
    hit_limit = not scanner.stopped and completion >= max_tokens
    return Outcome(
        text="".join(parts),
        finish_reason="length" if hit_limit else "stop",
        prompt_tokens=generation.prompt_tokens,
        completion_tokens=completion,
        ttft_s=None if first is None else first - started,
        decode_s=last - first if first is not None else 0.0,
    )
