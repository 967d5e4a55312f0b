"""Fixtures of the generate family: the built ``.litertlm`` (built once when missing) and a
loaded pipeline shared by a module's tests (loading takes about a second)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from edge_agent.elastic.swapper import release_memory
from edge_agent.pipelines.generate.options import GenerateOptions
from edge_agent.pipelines.generate.pipeline import GeneratePipeline
from edge_agent.runtime.manifest import ModelPackage, load_package

REPO = Path(__file__).resolve().parents[3]
FAMILY = REPO / "models" / "generate"
VARIANT = "smollm2-135m-kv1024"


_BUILD_ERRORS: list[str] = []


def _build_if_missing(package: ModelPackage) -> None:
    """Run the build command once (cached by input sha256 outside the clone)."""
    if package.unavailable_reason(VARIANT) is None or _BUILD_ERRORS:
        return
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "models.build.generate", "--variant", VARIANT],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    if proc.returncode != 0:
        _BUILD_ERRORS.append(f"building {VARIANT} failed:\n{proc.stderr[-6000:]}")
        return
    sys.stderr.write(f"\nbuilt {VARIANT} in {time.monotonic() - started:.0f} s\n")


def pytest_collection_finish(session: pytest.Session) -> None:
    """Build the artifact before the first test when a selected test needs it.

    A first build takes minutes (once per machine: it is cached by input sha256), longer
    than the per-test timeout; here, between collection and the first test, no timeout runs.
    """
    if importlib.util.find_spec("litert_lm") is None:
        return
    if any("generate_package" in getattr(item, "fixturenames", ()) for item in session.items):
        _build_if_missing(load_package(FAMILY))


@pytest.fixture(scope="session")
def generate_package() -> ModelPackage:
    """The generate family with its default variant built."""
    pytest.importorskip("litert_lm", reason="the generate extra (make test installs it)")
    package = load_package(FAMILY)
    _build_if_missing(package)
    if _BUILD_ERRORS:
        pytest.fail(_BUILD_ERRORS[0])
    assert package.unavailable_reason(VARIANT) is None
    return package


@pytest.fixture(scope="session")
def reference() -> dict[str, Any]:
    """Token ids from the GGUF's tokenizer and greedy answers recorded at build time."""
    data: dict[str, Any] = json.loads((FAMILY / "reference.json").read_text("utf-8"))
    return data


@pytest.fixture(scope="module")
def generate_pipeline(
    generate_package: ModelPackage, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[GeneratePipeline]:
    """A generate pipeline with the default variant loaded (2 threads)."""
    pipe = GeneratePipeline(
        "generate",
        generate_package,
        GenerateOptions(),
        num_threads=2,
        cache_dir=tmp_path_factory.mktemp("generate-cache"),
    )
    pipe.load(VARIANT)
    yield pipe
    pipe.unload()
    release_memory()


@pytest.fixture(autouse=True)
def _hand_back_freed_memory() -> Iterator[None]:
    """After each test, return freed heap to the OS (as the daemon's swapper does after an
    unload): an engine frees ~120 MB, and later tests that measure memory growth in this
    process would otherwise be served from those still-resident pages."""
    yield
    release_memory()
