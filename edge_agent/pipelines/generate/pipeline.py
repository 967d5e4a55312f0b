"""The ``generate`` pipeline: an instruction-following language model through LiteRT-LM.

Input: UTF-8 text (the prompt), or a JSON envelope ``{"text": <prompt>, "system",
"max_tokens", "temperature", "seed", "stop", "conversation"}``. Result (one per
message)::

    {"text": "...", "finish_reason": "stop" | "length", "prompt_tokens": 41,
     "completion_tokens": 12, "ttft_ms": 310.5, "tokens_per_s": 31.2,
     "conversation": "kitchen", "json": {...}}   # json: structured routes only

While it decodes, partials ``{"text": <new text>, "tokens": <pieces so far>}``
are published (``<prefix>/<device>/results/<pipeline>/<sensor>/partial``, and on
the v5 response topic); they concatenate to the final ``text``.

One generation runs at a time (the worker owns the engine); requests wait in
the pipeline's inbox meanwhile. At shutdown :meth:`cancel` makes the running
decode loop stop at the next piece and raise ``CancelledError``: the message is
not acknowledged and the broker redelivers it to the next session. Prompts,
answers and history are never logged (sizes, token counts and ids only).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, ClassVar, Literal

import structlog
from pydantic import BaseModel

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import Modality, Pipeline, RequestContext, Sample, TextSample
from edge_agent.pipelines.generate.decode import Outcome, PartialSink, run_generation
from edge_agent.pipelines.generate.history import ConversationStore, Exchange
from edge_agent.pipelines.generate.options import (
    GenerateOptions,
    GenerateRouteOptions,
    GenerateSettings,
)
from edge_agent.pipelines.generate.prompt import render_chatml
from edge_agent.pipelines.generate.request import GenerateRequest, parse_request
from edge_agent.pipelines.generate.schema import extract_json, validate
from edge_agent.pipelines.generate.structured import StructuredTask, retry_prompt
from edge_agent.runtime.litert_lm import LiteRtLmModel, Sampling, weight_cache_path

__all__ = ["GeneratePipeline"]

log = structlog.get_logger(__name__)

_WARM_PROMPT = "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n"


class GeneratePipeline(Pipeline):
    """Text generation, streaming, history and structured output (see module docstring)."""

    kind: ClassVar[str] = "generate"
    modality: ClassVar[Modality] = "text"
    options_model: ClassVar[type[BaseModel]] = GenerateOptions
    route_options_model: ClassVar[type[BaseModel]] = GenerateRouteOptions
    # The heaviest family (~270 MiB with its mapped weights): last in the budget, loaded
    # when a prompt comes, gone after five idle minutes.
    text_keys: ClassVar[tuple[str, ...]] = ("prompt", "text")
    default_priority: ClassVar[int] = 30
    default_load: ClassVar[Literal["at_start", "on_demand"]] = "on_demand"
    default_idle_unload_s: ClassVar[float | None] = 300.0
    default_inbox_size: ClassVar[int] = 16
    max_busy_s: ClassVar[float] = 120.0
    # A first load packs the weights (~1 s here, several on a Pi 4).
    load_wait_s: ClassVar[float] = 30.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = self.family_settings(GenerateSettings)
        opts: GenerateOptions = self.options  # type: ignore[assignment]
        self.opts = opts
        self.history = ConversationStore(
            opts.history_turns, opts.history_age_s, opts.max_conversations
        )
        self._model: LiteRtLmModel | None = None
        self._variant: str | None = None
        self._cancelled = threading.Event()
        self._tasks: dict[str, tuple[GenerateRouteOptions, StructuredTask]] = {}
        self._started = 0.0

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._variant

    @property
    def model(self) -> LiteRtLmModel:
        """The loaded model.

        Raises:
            ModelError: No variant is loaded.
        """
        if self._model is None:
            raise ModelError("no variant loaded", family=self.package.family)
        return self._model

    def _engine(self, variant_id: str) -> LiteRtLmModel:
        spec = self.package.variant(variant_id)
        context = self.settings.context_tokens.get(variant_id)
        if context is None:
            raise ModelError(
                "no context_tokens for this variant in [pipeline]",
                family=self.package.family,
                variant=variant_id,
            )
        cache = self.cache_dir or Path("/tmp/edge-agent-generate")  # noqa: S108 - fallback only
        return LiteRtLmModel(
            self.package.variant_path(variant_id),
            sha256=spec.sha256,
            num_threads=self.num_threads,
            max_num_tokens=context,
            cache_dir=cache,
            family=self.package.family,
            variant=variant_id,
        )

    def prepare(self, variant_ids: Sequence[str]) -> None:
        """Build each variant's XNNPACK weight cache file now, while memory is plentiful.

        A first load packs the weights (peak ~380 MB for SmolLM2 here); later loads map
        the cache file (peak ~210 MB), so a swap under memory pressure stays small.
        """
        cache = self.cache_dir or Path("/tmp/edge-agent-generate")  # noqa: S108 - fallback only
        for variant_id in variant_ids:
            if variant_id == self._variant or self.package.unavailable_reason(variant_id):
                continue
            if weight_cache_path(self.package.variant_path(variant_id), cache).exists():
                continue  # built by an earlier start: a load (and its sha256 check) for nothing
            model = self._engine(variant_id)
            model.close()
        log.info("generate_variants_prepared", pipeline=self.name, variants=list(variant_ids))

    def load(self, variant_id: str) -> None:
        """Load ``variant_id`` (sha256 verified), warm it with one token, then switch to it.

        Raises:
            ModelError: Unknown variant, missing or corrupt file, or a rejected model.
        """
        model = self._engine(variant_id)
        warm = model.generate(_WARM_PROMPT, max_tokens=1, sampling=Sampling())
        for _ in warm:
            pass
        warm.close()
        previous, self._model, self._variant = self._model, model, variant_id
        if previous is not None:
            previous.close()
        log.info(
            "generate_variant_loaded",
            pipeline=self.name,
            variant=variant_id,
            context_tokens=model.max_num_tokens,
            load_s=round(model.load_s, 3),
        )

    def unload(self) -> None:
        """Delete the engine (weights, KV cache) and drop its files' cached pages."""
        if self._model is not None:
            self._model.close()
            log.info("generate_variant_unloaded", pipeline=self.name, variant=self._variant)
        self._model, self._variant = None, None

    def cancel(self) -> None:
        """Shutdown: the running decode loop stops at its next piece (another thread calls this)."""
        self._cancelled.set()

    # -- one request ---------------------------------------------------------------------------

    def _fit(
        self, req: GenerateRequest, system: str | None, history: list[Exchange]
    ) -> tuple[str, list[Exchange], int]:
        """Render the prompt, dropping the oldest history until it fits the limits.

        Returns:
            The prompt text, the history it kept, and the tokens left for the answer
            (``max_tokens``, or less where the context ends first).

        Raises:
            PayloadError: PROMPT_TOO_LONG when even the prompt alone does not fit.
        """
        model = self.model
        limit = min(self.opts.max_prompt_tokens, model.max_num_tokens - 1)
        while True:
            text = render_chatml(system, history, req.prompt)
            count = len(model.tokenize(text))
            if count <= limit:
                return text, history, min(req.max_tokens, model.max_num_tokens - count)
            if not history:
                raise PayloadError(
                    Reason.PROMPT_TOO_LONG, f"prompt has {count} tokens > limit {limit}"
                )
            history = history[1:]

    def _sink(self, ctx: RequestContext, route: GenerateRouteOptions) -> PartialSink | None:
        if not route.stream:
            return None
        return lambda text, pieces: ctx.outputs.partial({"text": text, "tokens": pieces})

    def _decode(
        self,
        req: GenerateRequest,
        ctx: RequestContext,
        route: GenerateRouteOptions,
        gen: Any,
        max_tokens: int,
    ) -> Outcome:
        return run_generation(
            gen,
            started=self._started,
            stops=[*self.settings.stop, *req.stop],
            max_tokens=max_tokens,
            deadline=self._started + self.opts.timeout_s,
            cancelled=self._cancelled.is_set,
            on_text=self._sink(ctx, route),
            partial_every=self.opts.partial_every_tokens,
        )

    def _free(
        self, req: GenerateRequest, ctx: RequestContext, route: GenerateRouteOptions
    ) -> tuple[Outcome, dict[str, Any]]:
        history = self.history.history(req.conversation) if req.conversation else []
        with ctx.timer.stage("prepare"):
            prompt, _, max_tokens = self._fit(req, req.system, history)
        with ctx.timer.stage("infer"):
            gen = self.model.generate(
                prompt, max_tokens=max_tokens, sampling=Sampling(req.temperature, req.seed)
            )
            outcome = self._decode(req, ctx, route, gen, max_tokens)
        if req.conversation:
            self.history.add(req.conversation, Exchange(req.prompt, outcome.text))
        return outcome, {}

    def _task(self, ctx: RequestContext, route: GenerateRouteOptions) -> StructuredTask:
        cached = self._tasks.get(ctx.route)
        if cached is None or cached[0] is not route:
            assert route.structured is not None  # noqa: S101 - only called for structured routes
            cached = (route, StructuredTask.from_options(route.structured))
            self._tasks[ctx.route] = cached
        return cached[1]

    def _structured(
        self, req: GenerateRequest, ctx: RequestContext, route: GenerateRouteOptions
    ) -> tuple[Outcome, dict[str, Any]]:
        task = self._task(ctx, route)
        shots = list(task.examples)
        sampling = Sampling(req.temperature, req.seed)
        why = "no attempt"
        for attempt in (1, 2):
            with ctx.timer.stage("prepare"):
                prompt, kept, max_tokens = self._fit(req, task.system, shots)
            with ctx.timer.stage("infer"):
                if task.constrain:
                    messages = [{"role": "system", "content": task.system}]
                    for shot in kept:
                        messages.append({"role": "user", "content": shot.user})
                        messages.append({"role": "assistant", "content": shot.assistant})
                    gen = self.model.generate_json(
                        messages,
                        req.prompt,
                        schema=task.schema,
                        max_tokens=max_tokens,
                        sampling=sampling,
                    )
                else:
                    gen = self.model.generate(prompt, max_tokens=max_tokens, sampling=sampling)
                outcome = self._decode(req, ctx, route, gen, max_tokens)
            with ctx.timer.stage("interpret"):
                try:
                    value = extract_json(outcome.text)
                except ValueError as exc:
                    value, why = None, str(exc)
                else:
                    why = validate(value, task.schema) or ""
                if not why:
                    extra = {"json": value, "attempts": attempt, "constrained": task.constrain}
                    return outcome, extra
            log.info("generate_structured_retry", pipeline=self.name, request_id=ctx.request_id)
            shots = [*shots, Exchange(req.prompt, outcome.text)]
            req = replace(req, prompt=retry_prompt(why))
        raise PayloadError(Reason.STRUCTURED_OUTPUT_INVALID, f"after 2 attempts: {why[:200]}")

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Generate one answer (see module docstring).

        Raises:
            PayloadError: BAD_ENVELOPE, PROMPT_TOO_LONG, MAX_TOKENS_TOO_LARGE,
                GENERATION_TIMEOUT or STRUCTURED_OUTPUT_INVALID.
            CancelledError: Shutdown cut the generation short.
            ModelError: No variant is loaded.
        """
        if not isinstance(sample, TextSample):
            raise PayloadError(Reason.WRONG_MODALITY, "generate takes text")
        route: GenerateRouteOptions = ctx.route_options  # type: ignore[assignment]
        req = parse_request(sample, self.opts, route)
        self._started = time.monotonic()
        if route.structured is not None:
            outcome, extra = self._structured(req, ctx, route)
        else:
            outcome, extra = self._free(req, ctx, route)
        log.info(
            "generate_answered",
            pipeline=self.name,
            request_id=ctx.request_id,
            prompt_tokens=outcome.prompt_tokens,
            completion_tokens=outcome.completion_tokens,
            finish_reason=outcome.finish_reason,
            answer_chars=len(outcome.text),
        )
        result: dict[str, Any] = {
            "text": outcome.text,
            "finish_reason": outcome.finish_reason,
            "prompt_tokens": outcome.prompt_tokens,
            "completion_tokens": outcome.completion_tokens,
            "ttft_ms": _round(None if outcome.ttft_s is None else outcome.ttft_s * 1000, 1),
            "tokens_per_s": None
            if outcome.tokens_per_s is None
            else round(outcome.tokens_per_s, 1),
        }
        if req.conversation:
            result["conversation"] = req.conversation
        result.update(extra)
        return [result]


def _round(value: float | None, digits: int) -> float | None:
    return None if value is None else round(value, digits)
