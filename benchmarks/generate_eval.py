"""Quality of the generate family on 52 device prompts (models/generate/eval/), per variant.

Usage::

    python benchmarks/generate_eval.py [--variant ID ...] [--threads 2] [--write-manifest] [--show]

Two tasks, scored automatically:

- **intents** (36 voice-command transcripts, ``eval/intents.jsonl``): the structured route
  of ``eval/intents.json`` (8 intents with slots, 6 few-shot examples) answers with JSON;
  a transcript counts when intent *and* slots equal the expected ones exactly (strings
  compared lower-cased and trimmed, numbers by value). Run twice: with constrained
  decoding (llguidance, the default) and with ``constrain = "off"`` (free text, parsed,
  validated, one retry);
- **summaries** (16 lists of sensor events, ``eval/summaries.jsonl``): "summarise in one
  sentence"; a summary counts when every required fact appears (any of its spellings, at
  a word start), it is one sentence, not an event line echoed back ("- 12:00 ..."), and
  has at most ``max_words`` words.

``quality`` (written by ``--write-manifest``) = items passed / 52, constrained intents
plus summaries. Greedy decoding: the figures are reproducible on one machine.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import tempfile
import time
from pathlib import Path
from types import MappingProxyType
from typing import Any

REPO = Path(__file__).resolve().parents[1]
FAMILY = REPO / "models" / "generate"
EVAL = FAMILY / "eval"
SUMMARY_SYSTEM = "You summarise smart-home sensor events for the home owner, briefly and plainly."


def _norm(value: Any) -> Any:
    if isinstance(value, str):
        return value.strip().lower()
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, dict):
        return {str(k).strip().lower(): _norm(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_norm(v) for v in value]
    return value


def _jsonl(name: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (EVAL / name).read_text("utf-8").splitlines() if line]


def _ctx(route: Any) -> Any:
    from edge_agent.pipelines.base import RequestContext

    return RequestContext(topic="eval", sensor="eval", route="eval", request_id="eval",
                          route_options=route)  # fmt: skip


def _ask(pipe: Any, route: Any, text: str, **fields: Any) -> tuple[dict[str, Any] | None, str]:
    from edge_agent.errors import PayloadError
    from edge_agent.pipelines.base import TextSample

    sample = TextSample(text, MappingProxyType(fields), "application/json")
    try:
        [result] = pipe.process(sample, _ctx(route))
    except PayloadError as exc:
        return None, exc.reason.value
    return result, ""


def intents(pipe: Any, constrain: str, show: bool) -> tuple[int, int, float]:
    from edge_agent.pipelines.generate.options import GenerateRouteOptions

    spec = json.loads((EVAL / "intents.json").read_text("utf-8"))
    route = GenerateRouteOptions.model_validate(
        {"stream": False, "structured": {**spec, "constrain": constrain}}
    )
    passed, started, items = 0, time.monotonic(), _jsonl("intents.jsonl")
    for item in items:
        result, error = _ask(pipe, route, item["text"], max_tokens=48)
        got = result["json"] if result else {"error": error}
        ok = _norm(got) == _norm(item["expect"])
        passed += ok
        if show:
            print(f"  {'ok ' if ok else 'BAD'} {item['text']!r} -> {json.dumps(got)}")
    return passed, len(items), (time.monotonic() - started) / len(items)


def _summary_ok(text: str, item: dict[str, Any]) -> bool:
    """Every fact as a whole word (any spelling), one sentence, not an echoed event line."""
    low = text.lower()
    facts = all(
        any(re.search(rf"\b{re.escape(alt)}", low) for alt in alts) for alts in item["facts"]
    )
    sentences = [s for s in re.split(r"(?<=[.!?])\s+", text.strip()) if s]
    echo = text.lstrip().startswith("-") or "\n" in text.strip()
    return facts and not echo and len(sentences) == 1 and len(text.split()) <= item["max_words"]


def summaries(pipe: Any, show: bool) -> tuple[int, int, float]:
    from edge_agent.pipelines.generate.options import GenerateRouteOptions

    route = GenerateRouteOptions(system=SUMMARY_SYSTEM, stream=False)
    passed, started, items = 0, time.monotonic(), _jsonl("summaries.jsonl")
    for item in items:
        events = "\n".join(f"- {e}" for e in item["events"])
        prompt = f"Summarise these events in one short sentence:\n{events}"
        result, error = _ask(pipe, route, prompt, max_tokens=60)
        text = result["text"] if result else error
        ok = result is not None and _summary_ok(text, item)
        passed += ok
        if show:
            print(f"  {'ok ' if ok else 'BAD'} {text!r}")
    return passed, len(items), (time.monotonic() - started) / len(items)


def evaluate(variant: str, threads: int, show: bool) -> dict[str, Any]:
    from edge_agent.pipelines.generate.options import GenerateOptions
    from edge_agent.pipelines.generate.pipeline import GeneratePipeline
    from edge_agent.runtime.manifest import load_package

    with tempfile.TemporaryDirectory(prefix="gen-eval-") as tmp:
        pipe = GeneratePipeline("eval", load_package(FAMILY), GenerateOptions(),
                                num_threads=threads, cache_dir=Path(tmp))  # fmt: skip
        pipe.load(variant)
        row: dict[str, Any] = {"variant": variant}
        for name, run in (
            ("intents_constrained", lambda: intents(pipe, "auto", show)),
            ("intents_free", lambda: intents(pipe, "off", show)),
            ("summaries", lambda: summaries(pipe, show)),
        ):
            if show:
                print(f"{variant} {name}:")
            ok, n, per_item = run()
            row[name] = {"passed": ok, "items": n, "s_per_item": round(per_item, 2)}
        pipe.unload()
    graded = ("intents_constrained", "summaries")
    row["quality"] = round(
        sum(row[k]["passed"] for k in graded) / sum(row[k]["items"] for k in graded), 3
    )
    return row


def _write_manifest(rows: list[dict[str, Any]]) -> None:
    from generate_manifest import write_figures

    for row in rows:
        write_figures(row["variant"], {"quality": row["quality"]})


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--variant", action="append")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--show", action="store_true", help="print every answer")
    ap.add_argument("--write-manifest", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(REPO))
    from edge_agent.logs import configure_logging
    from edge_agent.runtime.manifest import load_package

    configure_logging("warning", "console")  # the table, not one log line per answer
    ids = args.variant or [v.id for v in load_package(FAMILY).available_variants()]
    rows = [evaluate(v, args.threads, args.show) for v in ids]
    print("| variant | intents, constrained | intents, free + retry | summaries | quality |")
    print("|---|---|---|---|---|")
    for r in rows:
        cells = [
            f"{r[k]['passed']}/{r[k]['items']} ({r[k]['s_per_item']:.1f} s each)"
            for k in ("intents_constrained", "intents_free", "summaries")
        ]
        print(f"| {r['variant']} | {' | '.join(cells)} | {r['quality']:.3f} |")
    print("\n" + json.dumps(rows))
    if args.write_manifest:
        _write_manifest(rows)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
