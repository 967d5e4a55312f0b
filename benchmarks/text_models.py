"""Measure text-family variants: memory after load + first invoke, latency at 16/64 tokens.

Usage::

    python benchmarks/text_models.py FILE [--threads 1] [--runs 50] [--tokens 16 64]
    python benchmarks/text_models.py --table models/text [--variant xl]

Model mode: a fresh subprocess imports the runtime, reads ``/proc/self/smaps_rollup``,
builds the interpreter from the (memory-mapped) file, resizes the inputs to the
largest ``--tokens``, allocates, fills seeded random embeddings and invokes once,
then reads ``smaps_rollup`` again: ``hard_bytes`` is the growth of anonymous memory,
``soft_bytes`` the growth of file-backed RSS (``Rss - Anonymous``). Then, per token
count, the inputs are resized, warmed up and timed (``p50_ms_<T>``). Prints JSON.

Table mode: a fresh subprocess loads the ``text`` pipeline, classifies every text of
``eval/labeled.tsv`` and prints the resident bytes of the memory-mapped word table
(``/proc/self/smaps``) against its file size.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

__all__ = ["measure_model", "measure_table"]

_DIM = 384


def _rollup() -> tuple[int, int]:
    fields: dict[str, int] = {}
    with open("/proc/self/smaps_rollup", encoding="ascii") as fh:
        for line in fh:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                fields[parts[0].rstrip(":")] = int(parts[1]) * 1024
    return fields["Anonymous"], fields["Rss"] - fields["Anonymous"]


class _Interp:
    def __init__(self, path: Path, threads: int) -> None:
        from ai_edge_litert.interpreter import Interpreter

        self.it = Interpreter(model_path=str(path), num_threads=threads)
        self.emb, self.mask = (d["index"] for d in self.it.get_input_details())

    def prepare(self, x: Any, mask: Any) -> None:
        self.it.resize_tensor_input(self.emb, list(x.shape))
        self.it.resize_tensor_input(self.mask, [len(mask)])
        self.it.allocate_tensors()
        self.it.set_tensor(self.emb, x)
        self.it.set_tensor(self.mask, mask)

    def invoke(self) -> None:
        self.it.invoke()


class _Compiled:
    def __init__(self, path: Path, threads: int, cache: str) -> None:
        from ai_edge_litert.compiled_model import CompiledModel
        from ai_edge_litert.cpu_options import CpuOptions
        from ai_edge_litert.options import Options

        opts = Options(cpu_options=CpuOptions(num_threads=threads, xnnpack_weight_cache_path=cache))
        self.m = CompiledModel.from_file(str(path), options=opts)
        self.io: tuple[Any, Any] = ([], [])

    def prepare(self, x: Any, mask: Any) -> None:
        self.m.resize_input_tensor(0, list(x.shape))
        self.m.resize_input_tensor(1, [len(mask)])
        self.io = (self.m.create_input_buffers(0), self.m.create_output_buffers(0))
        self.io[0][0].write(x)
        self.io[0][1].write(mask)

    def invoke(self) -> None:
        self.m.run_by_index(0, *self.io)


def _child_model(
    path: Path, threads: int, runs: int, tokens: list[int], weight_cache: str
) -> dict[str, Any]:
    import numpy as np

    rng = np.random.default_rng(0)
    if weight_cache:
        import ai_edge_litert.compiled_model
    else:
        import ai_edge_litert.interpreter  # noqa: F401
    anon0, file0 = _rollup()
    model: _Interp | _Compiled = (
        _Compiled(path, threads, weight_cache) if weight_cache else _Interp(path, threads)
    )

    def prepare(t: int) -> None:
        x = (rng.standard_normal((t, _DIM)) * 0.05).astype(np.float32)
        model.prepare(x, np.ones(t, np.float32))

    prepare(max(tokens))
    start = time.perf_counter()
    model.invoke()
    first_ms = (time.perf_counter() - start) * 1000
    anon1, file1 = _rollup()
    result: dict[str, Any] = {
        "file": str(path),
        "file_bytes": path.stat().st_size,
        "threads": threads,
        "runs": runs,
        "hard_bytes": anon1 - anon0,
        "soft_bytes": file1 - file0,
        "first_invoke_ms": round(first_ms, 2),
        "tokens_allocated": max(tokens),
        "backend": "compiled+weight-cache" if weight_cache else "interpreter",
    }
    for t in tokens:
        prepare(t)
        for _ in range(5):
            model.invoke()
        times = []
        for _ in range(runs):
            s = time.perf_counter()
            model.invoke()
            times.append((time.perf_counter() - s) * 1000)
        result[f"p50_ms_{t}"] = round(float(np.median(times)), 3)
    return result


def _child_table(root: Path, variant: str, cold: bool) -> dict[str, Any]:
    import tempfile

    from edge_agent.pipelines.base import RequestContext, TextSample
    from edge_agent.pipelines.text import TextOptions, TextPipeline, TextRouteOptions
    from edge_agent.runtime.manifest import load_package
    from edge_agent.runtime.page_cache import drop_page_cache

    pkg = load_package(root)
    word = root / pkg.manifest.pipeline["word_embeddings"]
    if cold:  # as after a reboot
        drop_page_cache([word], sync=True)
    labels = json.loads((root / "eval" / "labels.json").read_text(encoding="utf-8"))
    texts = [
        line.split("\t", 1)[1]
        for line in (root / "eval" / "labeled.tsv").read_text(encoding="utf-8").splitlines()
        if line
    ]
    cache = Path(tempfile.mkdtemp(prefix="text-variants-"))
    pipe = TextPipeline("text", pkg, TextOptions(), num_threads=1, cache_dir=cache)
    pipe.load(variant)
    table = pipe.table
    if table is None:
        raise RuntimeError("pipeline loaded without a table")
    after_load = table.resident_bytes()
    opts = TextRouteOptions(labels=labels)
    for text in texts:
        ctx = RequestContext(
            topic="t", sensor="s", route="eval", request_id="r", route_options=opts
        )
        pipe.process(TextSample(text=text, fields={}, source_format="text/plain"), ctx)
    return {
        "variant": variant,
        "cold_page_cache": cold,
        "texts": len(texts),
        "table_file_bytes": word.stat().st_size,
        "table_resident_after_load": after_load,
        "table_resident_after_eval": table.resident_bytes(),
    }


def _spawn(args: list[str]) -> dict[str, Any]:
    proc = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"measurement failed: {proc.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def measure_model(
    path: Path,
    *,
    threads: int = 1,
    runs: int = 50,
    tokens: tuple[int, ...] = (16, 64),
    weight_cache: bool = False,
) -> dict[str, Any]:
    """Measure one model file in a fresh subprocess (see module docstring).

    With ``weight_cache`` the model runs under CompiledModel with XNNPACK's weight
    cache in a temporary file; a first process fills the cache and a second one,
    which reuses it as a restarted daemon would, is measured.
    """
    args = [
        str(path),
        "--threads",
        str(threads),
        "--runs",
        str(runs),
        "--tokens",
        *[str(t) for t in tokens],
    ]
    if not weight_cache:
        return _spawn(args)
    with tempfile.TemporaryDirectory(prefix="xnnpack-") as tmp:
        cache = str(Path(tmp) / "weights.xnnpack")
        _spawn([*args, "--runs", "1", "--weight-cache", cache])
        result = _spawn([*args, "--weight-cache", cache])
        result["weight_cache_bytes"] = Path(cache).stat().st_size
        return result


def measure_table(root: Path, variant: str, *, cold: bool = True) -> dict[str, Any]:
    """Resident size of the mapped word table after classifying the eval set (subprocess).

    With ``cold`` the table file is first evicted from the page cache, as on a device
    after boot (otherwise pages cached in large folios are mapped whole).
    """
    return _spawn(["--table", str(root), "--variant", variant, *([] if cold else ["--warm"])])


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("file", type=Path, nargs="?", help="a .tflite file of the text family")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--runs", type=int, default=50)
    ap.add_argument("--tokens", type=int, nargs="+", default=[16, 64])
    ap.add_argument(
        "--weight-cache",
        default="",
        help="run under CompiledModel with this XNNPACK weight-cache file",
    )
    ap.add_argument("--table", type=Path, help="family folder: measure the embedding table")
    ap.add_argument("--variant", default="xl")
    ap.add_argument("--warm", action="store_true", help="table mode: keep the page cache as it is")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.table is not None:
        out = (
            _child_table(args.table, args.variant, not args.warm)
            if args.child
            else measure_table(args.table, args.variant, cold=not args.warm)
        )
    elif args.file is not None:
        if args.child:
            out = _child_model(args.file, args.threads, args.runs, args.tokens, args.weight_cache)
        else:
            out = measure_model(
                args.file,
                threads=args.threads,
                runs=args.runs,
                tokens=tuple(args.tokens),
                weight_cache=bool(args.weight_cache),
            )
    else:
        ap.error("give a model file or --table")
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
