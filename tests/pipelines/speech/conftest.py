"""Fixtures of the speech family's tests: the real package, a loaded tiny-en, speech."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from support.speech import ROOT, make_pipeline, synth_module

from edge_agent.pipelines.speech import SpeechPipeline
from edge_agent.runtime.manifest import ModelPackage, load_package


@pytest.fixture(scope="session")
def speech_package() -> ModelPackage:
    package = load_package(ROOT / "models" / "speech")
    why = package.unavailable_reason("tiny-en")
    if why is not None:
        pytest.skip(f"speech weights unavailable: {why} (make test installs the extra)")
    return package


@pytest.fixture(scope="session")
def synth_ok() -> None:
    missing = synth_module().missing_tools()
    if missing:
        pytest.skip(f"speech synthesisers missing: {', '.join(missing)} (scripts/system-deps.sh)")


@pytest.fixture(scope="session")
def speech_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("speech-cache")


@pytest.fixture(scope="session")
def tiny(speech_package: ModelPackage, speech_cache: Path) -> Iterator[SpeechPipeline]:
    """tiny-en loaded once (a real clock): each test streams on sensors of its own."""
    pipe = make_pipeline(speech_package, speech_cache)
    pipe.load("tiny-en")
    yield pipe
    pipe.unload()
