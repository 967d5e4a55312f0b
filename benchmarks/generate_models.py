"""Generate-family variants: load, memory, time to first token and decode speed, side by side.

Usage::

    python benchmarks/generate_models.py [--variant ID ...] [--threads 2] [--rounds 3]
        [--tokens 128] [--cli] [--write-manifest]

Per variant, in a fresh subprocess each (nothing loaded earlier is counted):

1. **load**: ``GeneratePipeline.load`` (sha256 check, engine, one warm-up token) under
   :func:`edge_agent.runtime.memory.measure_load` — anonymous and file-backed growth
   (the mapped model plus XNNPACK's weight cache file) and the peak during the load,
   once with no weight cache (first load ever: XNNPACK packs and writes it) and once
   with it (every later load);
2. **steady**: RSS growth from before the cached load to after the timed generations;
3. **speed**, interleaved ``--rounds`` times on the same prompt and output length:
   ``pipeline`` (the daemon's path: ``process()`` with a partial sink that serialises
   every partial as the daemon would), ``runtime`` (a bare ``litert_lm`` session, same
   prompt text) and, with ``--cli``, ``litert-lm benchmark`` (``litert-lm==0.18.1``'s
   CLI on the same file, ``--prefill-tokens`` = the prompt's token count, ``--cache memory``
   so it writes no weight cache beside the model; it runs its own warm-up first).

``--write-manifest`` writes into models/generate/manifest.toml: ``hard_bytes`` = anonymous
growth of the cached load + the peak a generation adds (session, KV cache), ``soft_bytes`` =
file-backed growth of the cached load, ``peak_bytes`` = the larger load peak (first load),
``latency_ms`` = ms per decoded token on the pipeline path.
Noisy on a shared 2-core box: compare the three paths within one run.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FAMILY = REPO / "models" / "generate"
PROMPT = "Write a long story about a lighthouse keeper who finds a message in a bottle."


def _rss() -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    return 0


def _load(variant: str, threads: int, cache: Path) -> tuple[Any, dict[str, Any]]:
    from edge_agent.pipelines.generate.options import GenerateOptions
    from edge_agent.pipelines.generate.pipeline import GeneratePipeline
    from edge_agent.runtime.manifest import load_package
    from edge_agent.runtime.memory import measure_load

    package = load_package(FAMILY)
    opts = GenerateOptions(max_output_tokens=1024, timeout_s=50)
    pipe = GeneratePipeline("bench", package, opts, num_threads=threads, cache_dir=cache)
    started = time.perf_counter()
    with measure_load() as mem:
        pipe.load(variant)
    seconds = time.perf_counter() - started
    return pipe, {
        "load_s": round(seconds, 3),
        "anonymous": mem.anonymous,
        "file": mem.file,
        "peak": mem.peak,
    }


def _pipeline_run(pipe: Any, tokens: int) -> dict[str, float]:
    from edge_agent.pipelines.base import RequestContext, TextSample
    from edge_agent.pipelines.generate.options import GenerateRouteOptions
    from edge_agent.pipelines.outputs import SideOutputs

    sent: list[bytes] = []
    ctx = RequestContext(
        topic="sensors/b/prompt",
        sensor="b",
        route="bench",
        request_id="b",
        route_options=GenerateRouteOptions(),
        outputs=SideOutputs(
            lambda seq, data: sent.append(json.dumps({"seq": seq, **data}).encode())
        ),
    )
    sample = TextSample(PROMPT, MappingProxyType({"max_tokens": tokens}), "application/json")
    started = time.perf_counter()
    [result] = pipe.process(sample, ctx)
    total = time.perf_counter() - started
    return {
        "ttft_s": result["ttft_ms"] / 1000,
        "decode_tps": result["tokens_per_s"],
        "tokens": result["completion_tokens"],
        "prompt_tokens": result["prompt_tokens"],
        "total_s": total,
        "partials": len(sent),
    }


def _runtime_run(pipe: Any, tokens: int) -> dict[str, float]:
    """The same prompt text on a bare session of the same engine (no pipeline code)."""
    import litert_lm as lm

    from edge_agent.pipelines.generate.prompt import render_chatml

    prompt = render_chatml(None, [], PROMPT)
    engine = pipe.model.engine
    started = time.perf_counter()
    session = engine.create_session(
        apply_prompt_template=False,
        sampler_config=lm.SamplerConfig(top_k=1, temperature=1.0, seed=0),
        max_output_tokens=tokens,
    )
    session.run_prefill([prompt])
    first = None
    for _ in session.run_decode_async():
        first = first or time.perf_counter()
    last = time.perf_counter()
    info = session.get_benchmark_info()
    session.close()
    n = info.last_decode_token_count
    return {
        "ttft_s": (first or last) - started,
        "decode_tps": (n - 1) / (last - first) if first and n > 1 else 0.0,
        "tokens": n,
        "runtime_decode_tps": info.last_decode_tokens_per_second,
        "total_s": last - started,
    }


def _cli() -> str | None:
    """The ``litert-lm`` CLI (``pip install litert-lm==0.18.1``), or None."""
    beside = Path(sys.executable).parent / "litert-lm"
    return str(beside) if beside.is_file() else shutil.which("litert-lm")


def _cli_run(path: Path, threads: int, prefill: int, tokens: int, cache: Path) -> dict[str, float]:
    exe = _cli()
    assert exe is not None
    cmd = [
        exe, "benchmark", str(path), "--backend", "cpu", "--cpu-thread-count", str(threads),
        "--prefill-tokens", str(prefill), "--decode-tokens", str(tokens), "--cache", "memory",
    ]  # fmt: skip
    env = {**os.environ, "XDG_CACHE_HOME": str(cache)}
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, env=env).stdout
    found = {
        key: float(m.group(1))
        for key, pat in (
            ("prefill_tps", r"Prefill speed:\s+([\d.]+)"),
            ("decode_tps", r"Decode speed:\s+([\d.]+)"),
            ("ttft_s", r"Time to first token:\s+([\d.]+)"),
            ("init_s", r"Init time:\s+([\d.]+)"),
        )
        if (m := re.search(pat, out))
    }
    if "decode_tps" not in found:
        raise RuntimeError(f"litert-lm benchmark printed no figures:\n{out[-2000:]}")
    return found


class _FakeGeneration:
    """Pieces without a model: what the pipeline's decode loop costs on its own."""

    def __init__(self, n: int) -> None:
        self.pieces = [" lamp"] * n
        self.prompt_tokens = 0
        self.decode_tokens = n

    def __iter__(self) -> Any:
        return iter(self.pieces)

    def stop(self) -> None:
        pass

    def close(self) -> None:
        pass


def loop_overhead_us(n: int = 20000) -> float:
    """Microseconds per token the pipeline's decode loop adds (stop scan, partial JSON)."""
    from edge_agent.pipelines.generate.decode import run_generation

    sent: list[bytes] = []
    started = time.perf_counter()
    run_generation(
        _FakeGeneration(n),  # type: ignore[arg-type]
        started=time.monotonic(),
        stops=["<|im_start|>", "<|im_end|>"],
        max_tokens=n,
        deadline=time.monotonic() + 600,
        cancelled=lambda: False,
        on_text=lambda text, k: sent.append(json.dumps({"text": text, "tokens": k}).encode()),
    )
    return (time.perf_counter() - started) / n * 1e6


def child(args: argparse.Namespace) -> dict[str, Any]:
    """Measure one variant (runs in its own process)."""
    variant = args.variant[0]
    out: dict[str, Any] = {"variant": variant, "threads": args.threads}
    with tempfile.TemporaryDirectory(prefix="gen-bench-") as tmp:
        cache = Path(tmp)
        from edge_agent.elastic.swapper import release_memory

        pipe, out["first_load"] = _load(variant, args.threads, cache)
        pipe.unload()
        release_memory()
        out["weight_cache_bytes"] = sum(p.stat().st_size for p in cache.glob("*xnnpack*"))
        before = _rss()
        pipe, out["load"] = _load(variant, args.threads, cache)
        from edge_agent.runtime.memory import measure_load

        paths: dict[str, list[dict[str, float]]] = {"pipeline": [], "runtime": [], "cli": []}
        # The first generation under measure_load: what a request adds on top of the load
        # (session, KV cache, activations) at its peak.
        with measure_load() as gen:
            paths["pipeline"].append(_pipeline_run(pipe, args.tokens))
        out["generation_peak_bytes"] = gen.peak
        for i in range(args.rounds):
            if i:
                paths["pipeline"].append(_pipeline_run(pipe, args.tokens))
            paths["runtime"].append(_runtime_run(pipe, args.tokens))
            if args.cli:
                prefill = paths["pipeline"][-1]["prompt_tokens"]
                path = pipe.package.variant_path(variant)
                paths["cli"].append(_cli_run(path, args.threads, int(prefill), args.tokens, cache))
        out["steady_rss_bytes"] = _rss() - before
        pipe.unload()
    for name, runs in paths.items():
        if runs:
            out[name] = {
                k: round(statistics.median(r[k] for r in runs), 4)
                for k in runs[0]
                if all(isinstance(r.get(k), int | float) for r in runs)
            }
    return out


def _write_manifest(rows: list[dict[str, Any]]) -> None:
    from generate_manifest import write_figures

    for row in rows:
        load = row["load"]
        write_figures(
            row["variant"],
            {
                "hard_bytes": max(0, load["anonymous"]) + row["generation_peak_bytes"],
                "soft_bytes": max(0, load["file"]),
                "peak_bytes": max(row["first_load"]["peak"], load["peak"]),
                "latency_ms": round(1000 / row["pipeline"]["decode_tps"], 2),
            },
        )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--tokens", type=int, default=128)
    ap.add_argument("--cli", action="store_true", help="also run `litert-lm benchmark`")
    ap.add_argument("--write-manifest", action="store_true")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.cli and _cli() is None:
        print("litert-lm CLI not installed (pip install litert-lm==0.18.1): --cli skipped")
        args.cli = False
    if args.child:
        from edge_agent.logs import configure_logging

        configure_logging("warning", "console")
        print(json.dumps(child(args)))
        return 0
    sys.path.insert(0, str(REPO))
    from edge_agent.runtime.manifest import load_package

    package = load_package(FAMILY)
    ids = args.variant or [v.id for v in package.available_variants()]
    rows = []
    for vid in ids:
        cmd = [sys.executable, __file__, "--child", "--variant", vid,
               "--threads", str(args.threads), "--rounds", str(args.rounds),
               "--tokens", str(args.tokens)]  # fmt: skip
        if args.cli:
            cmd.append("--cli")
        proc = subprocess.run(cmd, capture_output=True, text=True, check=False, cwd=REPO)
        if proc.returncode != 0:
            print(proc.stderr[-4000:], file=sys.stderr)
            return 1
        rows.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    mib = 1 << 20
    print(
        f"threads {args.threads}, {args.tokens} tokens, median of {args.rounds} interleaved rounds"
    )
    print(
        "| variant | load s (first / cached) | anon MiB | file MiB | peak MiB (first / cached) "
        "| weight cache MiB | generation +MiB | steady RSS MiB | path | TTFT ms | decode tok/s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        first, load = r["first_load"], r["load"]
        head = (
            f"| {r['variant']} | {first['load_s']:.2f} / {load['load_s']:.2f} | "
            f"{load['anonymous'] / mib:.0f} | {load['file'] / mib:.0f} | "
            f"{first['peak'] / mib:.0f} / {load['peak'] / mib:.0f} | "
            f"{r['weight_cache_bytes'] / mib:.0f} | {r['generation_peak_bytes'] / mib:.0f} | "
            f"{r['steady_rss_bytes'] / mib:.0f}"
        )
        for name in ("pipeline", "runtime", "cli"):
            if name in r:
                p = r[name]
                print(f"{head} | {name} | {p['ttft_s'] * 1000:.0f} | {p['decode_tps']:.1f} |")
                head = "| | | | | | | |"
        pipe_tps, bare_tps = r["pipeline"]["decode_tps"], r["runtime"]["decode_tps"]
        print(
            f"\n{r['variant']}: pipeline decode = {pipe_tps / bare_tps:.3f} x bare runtime"
            + (f", {pipe_tps / r['cli']['decode_tps']:.3f} x litert-lm CLI" if "cli" in r else "")
        )
    overhead = loop_overhead_us()
    slowest = min(r["runtime"]["decode_tps"] for r in rows)
    print(
        f"\npipeline decode loop without a model: {overhead:.1f} us per token "
        f"({overhead * slowest / 1e4:.3f} % of a token at {slowest:.0f} tok/s)"
    )
    print("\n" + json.dumps(rows))
    if args.write_manifest:
        _write_manifest(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
