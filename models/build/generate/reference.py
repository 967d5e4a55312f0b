"""Record ``models/generate/reference.json``: what the tests compare the runtime with.

- ``token_ids``: ids of probe strings by the **GGUF's own tokenizer** (transformers reads
  the vocabulary and merges from the GGUF during the build; written into the build
  cache slot as ``reference.json``);
- ``greedy``: greedy answers of the built model to fixed prompts through the pipeline
  (so a test can check that decoding is deterministic and unchanged).

Run after ``python -m models.build.generate``, in the daemon's venv with the generate
extra: ``python -m models.build.generate.reference``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from types import MappingProxyType

from models.build.fetch import sha256_file
from models.build.generate.build import FAMILY, RECIPES, cache_root, input_key

VARIANT = "smollm2-135m-kv1024"
GREEDY = [
    ("What is the capital of France?", 24),
    ("Give one tip for saving energy at home.", 32),
    ("Translate to French: good morning", 16),
]


def main() -> int:
    """Write the reference file."""
    from edge_agent.pipelines.base import RequestContext, TextSample
    from edge_agent.pipelines.generate.options import GenerateOptions, GenerateRouteOptions
    from edge_agent.pipelines.generate.pipeline import GeneratePipeline
    from edge_agent.runtime.manifest import load_package

    package = load_package(FAMILY)
    gguf_sha = package.manifest.source.files[0].sha256
    slot = cache_root() / input_key(gguf_sha, RECIPES[VARIANT])
    built = json.loads((slot / "reference.json").read_text())
    pipe = GeneratePipeline("generate", package, GenerateOptions(), num_threads=2,
                            cache_dir=Path("/tmp/edge-agent-generate-reference"))  # noqa: S108
    pipe.load(VARIANT)
    greedy = []
    for prompt, max_tokens in GREEDY:
        ctx = RequestContext(topic="t", sensor="s", route="r", request_id="ref",
                             route_options=GenerateRouteOptions())
        sample = TextSample(prompt, MappingProxyType({"max_tokens": max_tokens}), "text/plain")
        [result] = pipe.process(sample, ctx)
        greedy.append({"prompt": prompt, "max_tokens": max_tokens, "text": result["text"],
                       "prompt_tokens": result["prompt_tokens"]})
    pipe.unload()
    out = {
        "variant": VARIANT,
        "model_sha256": sha256_file(package.variant_path(VARIANT)),
        "token_ids": built["token_ids"],
        "greedy": greedy,
    }
    (FAMILY / "reference.json").write_text(json.dumps(out, indent=1, ensure_ascii=False) + "\n")
    print(json.dumps(greedy, indent=1), file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
