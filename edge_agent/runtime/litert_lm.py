"""LiteRT-LM backend: a generative model in a ``.litertlm`` bundle (the ``generate`` extra).

One :class:`LiteRtLmModel` wraps one ``litert_lm.Engine`` (CPU, N threads, a KV
cache of ``max_num_tokens``), loaded from a sha256-verified file. XNNPACK packs
the int8 weights into a cache file in ``cache_dir`` on the first load (137 MB for
SmolLM2-135M): later loads map it (file-backed memory the kernel can reclaim)
instead of repacking into anonymous memory.

Generation streams text pieces. Free text runs on a *session* fed the exact
prompt text (the caller renders the chat markup, so it knows the prompt's token
count before prefill); structured output runs on a *conversation* with
llguidance constrained decoding, which LiteRT-LM 0.18.1 supports for JSON
schemas. Either way the caller may stop a generation between two pieces
(:meth:`Generation.stop`): the runtime is told to cancel and the stream is
drained, so no native thread is left writing into a dropped queue.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from edge_agent.errors import ModelError
from edge_agent.runtime.backend import import_runtime
from edge_agent.runtime.interpreter import verify_file
from edge_agent.runtime.page_cache import drop_page_cache

__all__ = ["Generation", "LiteRtLmModel", "Sampling", "runtime_module", "weight_cache_path"]

_TOP_K = 40
_TOP_P = 0.95


def runtime_module(family: str | None = None) -> ModuleType:
    """Import ``litert_lm`` (quietly: its native INFO/WARNING lines go nowhere).

    Raises:
        MissingExtraError: The ``generate`` extra is not installed.
    """
    lm = import_runtime("litert_lm", extra="generate", family=family)
    lm.set_min_log_severity(lm.LogSeverity.ERROR)
    return lm


@dataclass(frozen=True, slots=True)
class Sampling:
    """How the next token is chosen.

    Attributes:
        temperature: 0 picks the most likely token (greedy, reproducible);
            above 0 samples from the top 40 tokens (nucleus 0.95) at that temperature.
        seed: Seed of the sampler (same seed, same prompt: same text).
    """

    temperature: float = 0.0
    seed: int = 0

    def config(self, lm: ModuleType) -> Any:
        """The runtime's ``SamplerConfig``."""
        if self.temperature <= 0.0:
            return lm.SamplerConfig(top_k=1, temperature=1.0, seed=self.seed)
        return lm.SamplerConfig(
            top_k=_TOP_K, top_p=_TOP_P, temperature=self.temperature, seed=self.seed
        )


class Generation:
    """One running generation: iterate for text pieces; ``stop`` ends it early.

    Attributes:
        prompt_tokens: Tokens prefilled (known once the first piece arrived).
        decode_tokens: Tokens the model generated (stop token included), from the
            runtime's own counters once the stream ended.
    """

    def __init__(self, owner: Any, pieces: Iterator[str]) -> None:
        self._owner = owner  # a Session or Conversation: cancel_process, close, benchmark info
        self._pieces = pieces
        self._stopped = False
        self.prompt_tokens = 0
        self.decode_tokens = 0

    def __iter__(self) -> Iterator[str]:
        return self._pieces

    def stop(self) -> None:
        """Cancel in the runtime and drain what it still sends (called between pieces)."""
        if self._stopped:
            return
        self._stopped = True
        self._owner.cancel_process()
        for _ in self._pieces:
            pass

    def close(self) -> None:
        """Read the runtime's token counters and release the session."""
        try:
            info = self._owner.get_benchmark_info()
            self.prompt_tokens = int(info.last_prefill_token_count)
            self.decode_tokens = int(info.last_decode_token_count)
        except RuntimeError:
            pass  # counters are a nicety; a failed read must not fail the answer
        self._owner.close()


class LiteRtLmModel:
    """A loaded ``.litertlm`` model, owned by one thread.

    Args:
        path: The ``.litertlm`` file.
        sha256: Expected hex digest; the file is verified before loading.
        num_threads: CPU threads.
        max_num_tokens: KV cache length (prompt + answer) the engine runs with.
        cache_dir: Folder for XNNPACK's weight cache file.
        family: Family name, for errors.
        variant: Variant id, for errors.

    Raises:
        ModelError: Missing file, wrong checksum, or a file the runtime rejects.
        MissingExtraError: ``litert_lm`` is not installed.
    """

    runtime = "litert-lm"

    def __init__(
        self,
        path: Path,
        *,
        sha256: str,
        num_threads: int,
        max_num_tokens: int,
        cache_dir: Path,
        family: str | None = None,
        variant: str | None = None,
    ) -> None:
        self.path = path
        self.family = family
        self.variant = variant
        self.max_num_tokens = max_num_tokens
        self.cache_dir = cache_dir
        verify_file(path, sha256, family=family, variant=variant)
        self._lm = runtime_module(family)
        cache_dir.mkdir(parents=True, exist_ok=True)
        started = time.perf_counter()
        try:
            self._engine: Any = self._lm.Engine(
                str(path),
                backend=self._lm.Backend.CPU(thread_count=num_threads),
                max_num_tokens=max_num_tokens,
                cache_dir=str(cache_dir),
                enable_benchmark=True,  # exact prefill/decode token counts per generation
            )
        except RuntimeError as exc:
            raise ModelError(
                f"runtime rejected the model: {exc}", family=family, variant=variant, path=str(path)
            ) from exc
        self.load_s = time.perf_counter() - started
        self._drop_stale_weight_caches()

    @property
    def engine(self) -> Any:
        """The ``litert_lm.Engine`` (for callers that need its full API)."""
        if self._engine is None:
            raise ModelError("model is closed", family=self.family, variant=self.variant)
        return self._engine

    def tokenize(self, text: str) -> list[int]:
        """Token ids of ``text`` (chat markers such as ``<|im_start|>`` are single tokens)."""
        return list(self.engine.tokenize(text))

    def detokenize(self, ids: Sequence[int]) -> str:
        """Text of token ids."""
        return str(self.engine.detokenize(list(ids)))

    def generate(self, prompt: str, *, max_tokens: int, sampling: Sampling) -> Generation:
        """Prefill ``prompt`` (exact text, chat markup included) and stream the answer.

        Prefill runs here, before the first piece (it cannot be interrupted; the
        caller bounds it by bounding the prompt).

        Raises:
            ModelError: The runtime failed to prefill.
        """
        session = self.engine.create_session(
            apply_prompt_template=False,
            sampler_config=sampling.config(self._lm),
            max_output_tokens=max_tokens,
        )
        try:
            session.run_prefill([prompt])
        except RuntimeError as exc:
            session.close()
            raise ModelError(f"prefill failed: {exc}", family=self.family) from exc
        pieces = (r.texts[0] for r in session.run_decode_async() if r.texts)
        return Generation(session, pieces)

    def generate_json(
        self,
        messages: Sequence[Mapping[str, str]],
        prompt: str,
        *,
        schema: Mapping[str, Any],
        max_tokens: int,
        sampling: Sampling,
    ) -> Generation:
        """Stream an answer constrained to a JSON schema (llguidance).

        Args:
            messages: Earlier messages (``role``/``content``), the system prompt first.
            prompt: The user's message.
            schema: JSON schema the answer must match.
            max_tokens: Tokens to generate at most.
            sampling: Sampler settings.
        """
        lm = self._lm
        conversation = self.engine.create_conversation(
            messages=[dict(m) for m in messages],
            sampler_config=sampling.config(lm),
            constrained_decoding_config=lm.ConstrainedDecodingConfig(
                enable=True, provider=lm.LiteRtLmConstraintProviderType.LL_GUIDANCE
            ),
            max_output_tokens=max_tokens,
        )
        stream = conversation.send_message_async(
            prompt, response_format=lm.ResponseFormat.json(dict(schema))
        )
        return Generation(conversation, (str(m) for m in stream))

    def weight_cache_files(self) -> list[Path]:
        """XNNPACK weight cache files of this model in ``cache_dir``."""
        return sorted(self.cache_dir.glob(f"{self.path.name}_*.xnnpack_cache"))

    def current_weight_cache(self) -> Path:
        """The weight cache file of this model file as it is now (see ``weight_cache_path``)."""
        return weight_cache_path(self.path, self.cache_dir)

    def _drop_stale_weight_caches(self) -> None:
        current = self.current_weight_cache()
        for stale in self.weight_cache_files():
            if stale != current:
                stale.unlink(missing_ok=True)

    def close(self) -> None:
        """Delete the engine now (not at garbage collection) and drop the files' cached pages."""
        if self._engine is not None:
            self._engine.close()
            self._engine = None
        drop_page_cache([self.path, *self.weight_cache_files()])


def weight_cache_path(model: Path, cache_dir: Path) -> Path:
    """Where LiteRT-LM keeps the XNNPACK weight cache of ``model`` as the file is now.

    It names it ``<file name>_<mtime>_<size>.xnnpack_cache``: a rebuilt model gets a
    new cache, and the old one (137 MB) would stay behind.
    """
    st = model.stat()
    return cache_dir / f"{model.name}_{int(st.st_mtime)}_{st.st_size}.xnnpack_cache"
