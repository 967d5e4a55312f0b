"""The ``text`` pipeline: zero-shot classification with a nested MiniLM sentence encoder.

Per message: tokenise (``tokenizers``), gather token embeddings from the
memory-mapped int8 table (:mod:`edge_agent.runtime.embedding_table`), run the
loaded variant (a Mix'n'Match slice of the nested checkpoint, see
:mod:`edge_agent.runtime.slicing`), mean-pool (in the graph), L2-normalise, and
score against the route's label descriptions (cosine; a label's score is the best
of its descriptions). Label embeddings are computed once per (variant, route).

Result (one per message)::

    {"label": "lighting", "score": 0.61, "top": [{"label": ..., "score": ...}, ...],
     "tokens": 9, "truncated": false, "embedding": [...]}   # embedding only on request

``label`` is ``"unknown"`` when the best score is below the route's threshold.
A JSON envelope may carry ``labels`` (a list of the route's label names) to
restrict one message to a subset. The text itself is never logged.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import numpy.typing as npt
import structlog
from pydantic import BaseModel, ConfigDict, Field

from edge_agent.errors import ModelError, PayloadError, Reason
from edge_agent.pipelines.base import Modality, Pipeline, RequestContext, Sample, TextSample
from edge_agent.runtime.embedding_table import EmbeddingTable
from edge_agent.runtime.interpreter import TFLiteModel, file_sha256
from edge_agent.runtime.page_cache import drop_page_cache
from edge_agent.runtime.slicing import materialise

__all__ = ["TextOptions", "TextPipeline", "TextRouteOptions", "TextSettings"]

log = structlog.get_logger(__name__)
UNKNOWN = "unknown"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TextOptions(_Strict):
    """Pipeline options of ``text``."""

    max_tokens: int = Field(
        default=128,
        ge=4,
        le=512,
        description="Longest token sequence (with [CLS]/[SEP]); longer texts are truncated "
        "and flagged `truncated: true`.",
    )
    xnnpack_weight_cache: bool = Field(
        default=True,
        description="Run with LiteRT's CompiledModel and keep XNNPACK's packed weights in a "
        "file in the cache folder (file-backed, reclaimable) instead of anonymous "
        "memory; falls back to the Interpreter when CompiledModel is unavailable.",
    )


class TextRouteOptions(_Strict):
    """Per-route options of ``text``."""

    labels: dict[str, list[str]] = Field(
        min_length=1,
        description="Label name -> one or more natural-language descriptions of it; "
        "a label scores the best cosine of its descriptions.",
    )
    top_k: int = Field(default=3, ge=1, le=100, description="Number of labels listed in `top`.")
    threshold: float = Field(
        default=0.0, ge=-1.0, le=1.0, description="Cosine below which the answer is `unknown`."
    )
    embedding: bool = Field(
        default=False, description="Also return the L2-normalised sentence embedding."
    )


class TextSettings(_Strict):
    """The manifest's ``[pipeline]`` table for the text family."""

    tokenizer: str = Field(description="tokenizer.json, relative to the family folder.")
    word_embeddings: str = Field(description="int8 [vocab, dim] .npy word table (memory-mapped).")
    word_scales: str = Field(description="float32 [vocab] .npy per-row scales.")
    position_embeddings: str = Field(description="[positions, dim] .npy position rows.")
    trained_widths: list[int] = Field(
        min_length=1, description="FFN widths the checkpoint was trained at."
    )


class _Runner(Protocol):
    """Runs the encoder graph: ``(embeddings [T, d], mask [T]) -> pooled [d]``."""

    def run(
        self, x: npt.NDArray[np.float32], mask: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]: ...

    def close(self) -> None: ...


class _InterpreterRunner:
    """The LiteRT Interpreter (weights packed by XNNPACK into anonymous memory)."""

    def __init__(self, model: TFLiteModel) -> None:
        self.model = model
        self.length = int(model.inputs[0].shape[0])

    def run(
        self, x: npt.NDArray[np.float32], mask: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        model = self.model
        if len(mask) != self.length:
            model.interpreter.resize_tensor_input(model.inputs[0].index, list(x.shape))
            model.interpreter.resize_tensor_input(model.inputs[1].index, [len(mask)])
            model.interpreter.allocate_tensors()
            self.length = len(mask)
        model.set_raw_input(0, x)
        model.set_raw_input(1, mask)
        model.invoke()
        return model.output(0).reshape(-1)

    def close(self) -> None:
        self.model.close()


class _CompiledRunner:
    """LiteRT CompiledModel with XNNPACK's packed weights in a cache file (file-backed)."""

    def __init__(self, path: Path, threads: int, weight_cache: Path, dim: int) -> None:
        from ai_edge_litert.compiled_model import CompiledModel

        self.files = (path, weight_cache)
        from ai_edge_litert.cpu_options import CpuOptions
        from ai_edge_litert.options import Options

        options = Options(
            cpu_options=CpuOptions(num_threads=threads, xnnpack_weight_cache_path=str(weight_cache))
        )
        self.model = CompiledModel.from_file(str(path), options=options)
        signature = next(iter(self.model.get_signature_list().values()))
        if signature["inputs"] != ["embeddings", "mask"]:
            raise ValueError(f"inputs {signature['inputs']} are not [embeddings, mask]")
        self.dim = dim
        self.length = -1
        self.buffers: tuple[Any, Any] = ([], [])

    def run(
        self, x: npt.NDArray[np.float32], mask: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if len(mask) != self.length:
            self.model.resize_input_tensor(0, list(x.shape))
            self.model.resize_input_tensor(1, [len(mask)])
            self.buffers = (self.model.create_input_buffers(0), self.model.create_output_buffers(0))
            self.length = len(mask)
        ins, outs = self.buffers
        ins[0].write(np.ascontiguousarray(x))
        ins[1].write(mask)
        self.model.run_by_index(0, ins, outs)
        return np.asarray(outs[0].read(self.dim, np.float32), np.float32).reshape(-1)

    def close(self) -> None:
        self.buffers = ([], [])
        self.model = None
        # sync: LiteRT may have written the weight cache moments ago (prepare), and
        # dirty pages cannot be dropped; on a clean file it costs nothing.
        drop_page_cache(self.files, sync=True)


_LabelCache = tuple[TextRouteOptions, list[str], npt.NDArray[np.float32], npt.NDArray[np.int64]]


@dataclass(slots=True)
class _Loaded:
    """The active variant, its current input length and label embeddings by route."""

    variant: str
    runner: _Runner
    labels: dict[str, _LabelCache]


class TextPipeline(Pipeline):
    """Zero-shot text classification on a nested MiniLM (see module docstring)."""

    kind: ClassVar[str] = "text"
    modality: ClassVar[Modality] = "text"
    default_priority: ClassVar[int] = 70
    options_model: ClassVar[type[BaseModel]] = TextOptions
    route_options_model: ClassVar[type[BaseModel]] = TextRouteOptions

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.settings = self.family_settings(TextSettings)
        self._loaded: _Loaded | None = None
        self._table: EmbeddingTable | None = None
        self._tokenizer: Any = None

    @property
    def active_variant(self) -> str | None:
        """Id of the loaded variant, or None."""
        return self._loaded.variant if self._loaded else None

    @property
    def table(self) -> EmbeddingTable | None:
        """The mapped embedding table (None before the first load)."""
        return self._table

    def _shared(self) -> tuple[Any, EmbeddingTable]:
        if self._tokenizer is None or self._table is None:
            from tokenizers import Tokenizer

            root = self.package.root
            try:
                tok = Tokenizer.from_file(str(root / self.settings.tokenizer))
            except Exception as exc:  # tokenizers raises a plain Exception
                raise ModelError(
                    f"cannot load tokenizer: {exc}",
                    family=self.package.family,
                    path=str(root / self.settings.tokenizer),
                ) from exc
            tok.no_padding()
            table = EmbeddingTable(
                root / self.settings.word_embeddings,
                root / self.settings.word_scales,
                root / self.settings.position_embeddings,
            )
            max_tokens = self.options.max_tokens  # type: ignore[attr-defined]
            if max_tokens > table.max_positions:
                raise ModelError(
                    f"max_tokens {max_tokens} > {table.max_positions} positions",
                    family=self.package.family,
                )
            tok.enable_truncation(max_tokens)
            self._tokenizer, self._table = tok, table
        return self._tokenizer, self._table

    def _cache(self) -> Path:
        return self.cache_dir or Path(tempfile.gettempdir()) / "edge-agent-text"

    def _model_path(self, variant_id: str) -> tuple[Path, str]:
        """The variant's model file (materialised when sliced) and a key naming its content."""
        spec = self.package.variant(variant_id)
        if spec.slice is None:
            path = self.package.variant_path(variant_id)
            if not path.is_file() or file_sha256(path) != spec.sha256.lower():
                raise ModelError(
                    "missing file or sha256 mismatch",
                    family=self.package.family,
                    variant=variant_id,
                    path=str(path),
                )
            return path, spec.sha256[:16]
        path = materialise(
            self.package.root / spec.slice.base,
            spec.slice.widths,
            self._cache(),
            base_sha256=spec.sha256,
            allowed=self.settings.trained_widths,
        )
        return path, f"{spec.sha256[:16]}-{'-'.join(map(str, spec.slice.widths))}"

    def _runner(self, variant_id: str, path: Path, key: str, dim: int) -> tuple[_Runner, str]:
        if self.options.xnnpack_weight_cache:  # type: ignore[attr-defined]
            weight_cache = self._cache() / f"{key}.xnnpack"
            try:
                return _CompiledRunner(path, self.num_threads, weight_cache, dim), "compiled"
            except ImportError:
                log.warning("text_compiled_model_unavailable", pipeline=self.name)
            except (RuntimeError, ValueError) as exc:
                raise ModelError(
                    f"CompiledModel rejected the model: {exc}",
                    family=self.package.family,
                    variant=variant_id,
                    path=str(path),
                ) from exc
        model = TFLiteModel(
            path, num_threads=self.num_threads, family=self.package.family, variant=variant_id
        )
        shape = model.inputs[0].shape
        if len(model.inputs) != 2 or len(shape) != 2 or shape[1] != dim:
            raise ModelError(
                "model inputs are not (embeddings [T, dim], mask [T])",
                family=self.package.family,
                variant=variant_id,
                path=str(path),
            )
        return _InterpreterRunner(model), "interpreter"

    def load(self, variant_id: str) -> None:
        """Load and warm ``variant_id`` (slicing it when needed), then make it active.

        Raises:
            ModelError: Unknown variant, bad checksum, bad widths or a rejected model.
        """
        _, table = self._shared()
        path, key = self._model_path(variant_id)
        runner, backend = self._runner(variant_id, path, key, table.dim)
        loaded = _Loaded(variant_id, runner, {})
        self._run(loaded, [101, 102])  # warm: allocates and packs weights now
        previous, self._loaded = self._loaded, loaded
        if previous is not None:
            previous.runner.close()
        log.info(
            "text_variant_loaded",
            pipeline=self.name,
            variant=variant_id,
            backend=backend,
            path=str(path),
        )

    def prepare(self, variant_ids: Sequence[str]) -> None:
        """Slice each variant and build its XNNPACK weight cache on disk, one at a time.

        A later swap then only maps files: building a variant needs transient memory
        (flatbuffer unpack, weight packing) that a nearly full cgroup does not have.
        """
        _, table = self._shared()
        built = []
        for variant_id in variant_ids:
            if self._loaded is not None and variant_id == self._loaded.variant:
                continue
            path, key = self._model_path(variant_id)
            done = self._cache() / f"{key}.prepared"
            cache = self._cache() / f"{key}.xnnpack"
            wanted = self.options.xnnpack_weight_cache  # type: ignore[attr-defined]
            if done.is_file() and (cache.is_file() or not wanted):
                continue  # sliced and packed by an earlier start: nothing to rebuild
            runner, _ = self._runner(variant_id, path, key, table.dim)
            try:
                self._run(_Loaded(variant_id, runner, {}), [101, 102])
            finally:
                runner.close()
            # The marker goes last: a crash while packing leaves none, and the next
            # start packs again (the key names the slice's content, so it cannot go stale).
            done.write_text(variant_id + "\n", encoding="utf-8")
            built.append(variant_id)
        log.info("text_variants_prepared", pipeline=self.name, built=built)

    def unload(self) -> None:
        """Drop the model, label cache, table mapping and tokenizer."""
        if self._loaded is not None:
            self._loaded.runner.close()
            log.info("text_variant_unloaded", pipeline=self.name, variant=self._loaded.variant)
        self._loaded = None
        if self._table is not None:
            self._table.close()
        self._table, self._tokenizer = None, None

    def _run(self, loaded: _Loaded, ids: Sequence[int]) -> npt.NDArray[np.float32]:
        _, table = self._shared()
        pooled = loaded.runner.run(table.gather(ids), np.ones(len(ids), np.float32))
        norm = float(np.linalg.norm(pooled))
        return pooled / norm if norm > 0 else pooled

    def embed(self, text: str) -> tuple[npt.NDArray[np.float32], int, bool]:
        """Embed one text with the active variant.

        Returns:
            ``(unit embedding, token count, truncated)``.

        Raises:
            ModelError: No variant is loaded.
        """
        if self._loaded is None:
            raise ModelError("no variant loaded", family=self.package.family)
        tok, _ = self._shared()
        enc = tok.encode(text)
        ids = list(enc.ids)
        return self._run(self._loaded, ids), len(ids), bool(enc.overflowing)

    def _label_matrix(
        self,
        ctx: RequestContext,
        opts: TextRouteOptions,
    ) -> tuple[list[str], npt.NDArray[np.float32], npt.NDArray[np.int64]]:
        if self._loaded is None:
            raise ModelError("no variant loaded", family=self.package.family)
        cached = self._loaded.labels.get(ctx.route)
        if cached is not None and cached[0] == opts:
            return cached[1], cached[2], cached[3]
        names = list(opts.labels)
        rows, owner = [], []
        for i, name in enumerate(names):
            for desc in opts.labels[name] or [name]:
                rows.append(self.embed(desc)[0])
                owner.append(i)
        matrix, owners = np.stack(rows), np.asarray(owner, np.int64)
        self._loaded.labels[ctx.route] = (opts, names, matrix, owners)
        log.info(
            "text_labels_embedded",
            pipeline=self.name,
            route=ctx.route,
            variant=self._loaded.variant,
            labels=len(names),
            descriptions=len(rows),
        )
        return names, matrix, owners

    def process(self, sample: Sample, ctx: RequestContext) -> list[dict[str, Any]]:
        """Classify one text.

        Raises:
            PayloadError: Not a text sample, or an envelope ``labels`` field naming
                labels the route does not have.
            ModelError: No variant is loaded.
        """
        if not isinstance(sample, TextSample):
            raise PayloadError(
                Reason.WRONG_MODALITY,
                "text pipeline needs text",
                topic=ctx.topic,
                sensor=ctx.sensor,
            )
        if self._loaded is None:
            raise ModelError("no variant loaded", family=self.package.family)
        opts = ctx.route_options
        if not isinstance(opts, TextRouteOptions):
            opts = TextRouteOptions.model_validate(opts.model_dump())
        with ctx.timer.stage("prepare"):
            names, matrix, owners = self._label_matrix(ctx, opts)
            subset = _subset(sample.fields, names, ctx)
        with ctx.timer.stage("infer"):
            emb, n_tokens, truncated = self.embed(sample.text)
        with ctx.timer.stage("interpret"):
            sims = matrix @ emb
            scores = np.full(len(names), -np.inf, np.float32)
            np.maximum.at(scores, owners, sims)
            if subset is not None:
                scores[~subset] = -np.inf
            order = [int(i) for i in np.argsort(-scores, kind="stable") if np.isfinite(scores[i])]
            best = order[0]
            top = [
                {"label": names[i], "score": round(float(scores[i]), 4)}
                for i in order[: opts.top_k]
            ]
            result: dict[str, Any] = {
                "label": names[best] if scores[best] >= opts.threshold else UNKNOWN,
                "score": round(float(scores[best]), 4),
                "top": top,
                "tokens": n_tokens,
                "truncated": truncated,
            }
            if opts.embedding:
                result["embedding"] = [round(float(v), 6) for v in emb]
        return [result]


def _subset(
    fields: Mapping[str, Any],
    names: list[str],
    ctx: RequestContext,
) -> npt.NDArray[np.bool_] | None:
    """Mask of the labels an envelope's ``labels`` field selects (None: all)."""
    wanted = fields.get("labels")
    if wanted is None:
        return None
    if not isinstance(wanted, list) or not wanted or not all(isinstance(w, str) for w in wanted):
        raise PayloadError(
            Reason.BAD_ENVELOPE,
            "`labels` must be a non-empty list of label names",
            topic=ctx.topic,
            sensor=ctx.sensor,
        )
    unknown = sorted(set(wanted) - set(names))
    if unknown:
        raise PayloadError(
            Reason.BAD_ENVELOPE,
            f"{len(unknown)} requested label(s) not in the route",
            topic=ctx.topic,
            sensor=ctx.sensor,
        )
    return np.isin(np.asarray(names), np.asarray(wanted))
