"""Per-sensor speech streams: endpointing, the wake-word listening window, the table of them.

A :class:`SpeechStream` is everything one (route, sensor) stream needs between
chunks: its :class:`~edge_agent.pipelines.speech.endpointer.Endpointer` and, on
a route with ``after_wake_word``, a wake-word
:class:`~edge_agent.pipelines.wakeword.stream.StreamState` over the same audio.
Nothing in it depends on the loaded Whisper variant, so a variant swap (or an
unload and reload) between two chunks never loses an utterance in progress.

The voice chain: both see every sample, on one clock (samples since the
stream's start). A wake-word detection splits the chunk at the sample it fired
on: audio before it is the wake phrase, so the endpointer drops it and listens
from there; a listening window opens for ``listen_s`` of stream time. The next
utterance that ends is the command (``Heard.wake`` is set) and the window
closes. If its transcript is empty (the wake phrase's own tail, a cough), the
pipeline reopens the window with :meth:`SpeechStream.keep_listening`. A window
in which no utterance started times out (``Heard.timed_out``). Utterances
outside a window are dropped without being transcribed.

The pipeline keeps them in a :class:`~edge_agent.pipelines.stream_rules.StreamTable`
(at most ``max_streams``, idle ones dropped): both bound memory.
"""

from __future__ import annotations

from dataclasses import dataclass

from edge_agent.pipelines.speech.endpointer import SAMPLE_RATE, Endpointer, Utterance
from edge_agent.pipelines.wakeword.stream import Detection, StreamState

__all__ = ["Heard", "SpeechStream"]


@dataclass(frozen=True, slots=True)
class Heard:
    """Something a stream produced that the pipeline acts on.

    Attributes:
        utterance: The utterance to transcribe (None for a timed-out window).
        wake: The wake word it follows (chain routes), else None.
        timed_out: A listening window closed without an utterance.
    """

    utterance: Utterance | None
    wake: Detection | None = None
    timed_out: bool = False


@dataclass(slots=True)
class _Window:
    wake: Detection
    deadline_s: float


class SpeechStream:
    """One sensor's stream state.

    Args:
        endpointer: Its endpointer (owned).
        wake: Its wake-word state (owned) on chain routes, else None.
        listen_s: Chain routes: how long a window waits for the command to start.
        stream_id: The sensor's ``stream`` id, if it sends one.
    """

    __slots__ = ("_window", "endpointer", "last_seen", "last_seq", "listen_s", "stream_id", "wake")

    def __init__(
        self,
        endpointer: Endpointer,
        *,
        wake: StreamState | None = None,
        listen_s: float = 8.0,
        stream_id: str | None = None,
    ) -> None:
        self.endpointer = endpointer
        self.wake = wake
        self.listen_s = listen_s
        self.stream_id = stream_id
        self.last_seq: int | None = None
        self.last_seen = 0.0
        self._window: _Window | None = None

    @property
    def busy(self) -> bool:
        """Whether an utterance or a listening window is in progress."""
        return self.endpointer.in_utterance or self._window is not None

    @property
    def listening(self) -> bool:
        """Whether a wake word opened a window that is still waiting."""
        return self._window is not None

    def reset(self, stream_id: str | None) -> None:
        """Start over (new stream, lost chunk, idle): forget everything heard."""
        self.endpointer.reset()
        if self.wake is not None:
            self.wake.reset(stream_id)
        self._window = None
        self.stream_id = stream_id
        self.last_seq = None

    def close(self) -> None:
        """Release the wake-word interpreters."""
        if self.wake is not None:
            self.wake.close()

    def keep_listening(self, wake: Detection) -> None:
        """Reopen the window of ``wake`` (its command came out empty) until its deadline."""
        deadline = wake.offset_s + self.listen_s
        if self.endpointer.offset_s < deadline:
            self._window = _Window(wake, deadline)

    def _listened(self, utterances: list[Utterance], out: list[Heard]) -> None:
        for utt in utterances:
            if self.wake is None:
                out.append(Heard(utt))
            elif self._window is not None:
                out.append(Heard(utt, wake=self._window.wake))
                self._window = None

    def feed(self, pcm: bytes) -> list[Heard]:
        """Process a chunk (16 kHz int16 little-endian mono, any length).

        Returns:
            What to transcribe or report, in stream order.
        """
        out: list[Heard] = []
        if self.wake is None:
            self._listened(self.endpointer.feed(pcm), out)
            return out
        cursor = 0
        first = self.endpointer.consumed_samples
        for det in self.wake.feed(pcm):
            at = round(det.offset_s * SAMPLE_RATE) - first
            cut = 2 * min(max(at, cursor // 2), len(pcm) // 2)
            self._listened(self.endpointer.feed(pcm[cursor:cut]), out)
            cursor = cut
            self.endpointer.restart()
            self._window = _Window(det, det.offset_s + self.listen_s)
        self._listened(self.endpointer.feed(pcm[cursor:]), out)
        window = self._window
        if (
            window is not None
            and not self.endpointer.in_utterance
            and self.endpointer.offset_s > window.deadline_s
        ):
            self._window = None
            out.append(Heard(None, wake=window.wake, timed_out=True))
        return out

    def flush(self) -> list[Heard]:
        """The stream ended (``end`` property): the utterance in progress, if any."""
        utt = self.endpointer.flush()
        out: list[Heard] = []
        if utt is not None:
            self._listened([utt], out)
        return out
