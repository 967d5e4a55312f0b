"""ChatML prompts (SmolLM2's format) and stop texts found in a stream of pieces.

The prompt is rendered here rather than by the runtime's template so its exact
token count is known before prefill (the limits need it, and history is trimmed
to fit). ``models/build/generate/chat_template.jinja`` (the template inside the
``.litertlm``, used by the runtime's conversation API and the ``litert-lm``
CLI) renders the same text; a test checks they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from edge_agent.pipelines.generate.history import Exchange

__all__ = ["DEFAULT_SYSTEM", "StopScanner", "render_chatml"]

DEFAULT_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
"""SmolLM2's own default system prompt (what its chat template inserts)."""


def _turn(role: str, content: str) -> str:
    return f"<|im_start|>{role}\n{content}<|im_end|>\n"


def render_chatml(system: str | None, history: Sequence[Exchange], prompt: str) -> str:
    """The prompt text for one request, ending where the assistant's answer begins."""
    parts = [_turn("system", system if system is not None else DEFAULT_SYSTEM)]
    for exchange in history:
        parts.append(_turn("user", exchange.user))
        parts.append(_turn("assistant", exchange.assistant))
    parts.append(_turn("user", prompt))
    parts.append("<|im_start|>assistant\n")
    return "".join(parts)


@dataclass(slots=True)
class StopScanner:
    """Finds the first stop text in streamed pieces and holds back what might start one.

    Text is released only once it cannot be the beginning of a stop text, so the
    released pieces concatenate to exactly the final answer (the stop text and
    whatever follows it are never released).

    Attributes:
        stops: Texts that end the answer.
        stopped: True once a stop text was seen.
    """

    stops: tuple[str, ...]
    stopped: bool = False
    _pending: str = ""

    def feed(self, piece: str) -> str:
        """Add a piece; return the text that is now safe to release."""
        if self.stopped:
            return ""
        text = self._pending + piece
        cut = min((i for i in (text.find(s) for s in self.stops) if i >= 0), default=-1)
        if cut >= 0:
            self.stopped = True
            self._pending = ""
            return text[:cut]
        keep = 0
        for stop in self.stops:
            for n in range(min(len(stop) - 1, len(text)), 0, -1):
                if text.endswith(stop[:n]):
                    keep = max(keep, n)
                    break
        self._pending = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """The held-back text at the end of the stream (no stop text followed it)."""
        text, self._pending = self._pending, ""
        return "" if self.stopped else text
