"""Variants whose weights are not committed: build artifacts and installed distributions."""

from __future__ import annotations

from pathlib import Path

import pytest

from edge_agent.errors import ModelError
from edge_agent.runtime.manifest import load_package

_HEAD = """
schema = "edge-agent/model/1"
family = "demo"
task = "demo"
modality = "text"
runtime = "{runtime}"
licence = "MIT"

[source]
package = "x"
version = "1"
build_command = "make models"

[preferred]
quality_first = "{qf}"
performance_first = "{qf}"
"""

_VARIANT = """
[[variants]]
id = "{id}"
sha256 = "00"
parameters = 1
hard_bytes = 1
soft_bytes = 1
latency_ms = 1.0
quality = {quality}
{body}
"""


def _write(root: Path, variants: list[tuple[str, float, str]], runtime: str = "litert") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    text = _HEAD.format(runtime=runtime, qf=variants[0][0])
    for vid, quality, body in variants:
        text += _VARIANT.format(id=vid, quality=quality, body=body)
    (root / "manifest.toml").write_text(text)
    return root


def test_missing_build_artifact_makes_only_that_variant_unavailable(tmp_path: Path) -> None:
    (tmp_path / "fam").mkdir()
    (tmp_path / "fam" / "small.bin").write_bytes(b"x")
    pkg = load_package(
        _write(
            tmp_path / "fam",
            [
                ("big", 0.9, 'file = "big.bin"\nbuild_command = "make models-demo"'),
                ("small", 0.5, 'file = "small.bin"'),
            ],
        )
    )
    assert pkg.unavailable_reason("big") == "not built: run `make models-demo`"
    assert pkg.unavailable_reason("small") is None
    assert [v.id for v in pkg.available_variants()] == ["small"]


def test_missing_committed_file_is_still_an_error(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="variant file missing"):
        load_package(_write(tmp_path / "fam", [("a", 0.5, 'file = "a.bin"')]))


def test_installed_variant_names_the_extra_when_its_distribution_is_absent(
    tmp_path: Path,
) -> None:
    body = (
        'installed = { distribution = "no-such-dist-edge-agent", version = "1.0", '
        'extra = "speech", files = [ { path = "m/model.bin", sha256 = "00" } ] }'
    )
    pkg = load_package(_write(tmp_path / "fam", [("a", 0.5, body)], runtime="ctranslate2"))
    assert pkg.manifest.runtime == "ctranslate2"
    reason = pkg.unavailable_reason("a")
    assert reason is not None
    assert "pip install 'edge-agent[speech]'" in reason


def test_installed_variant_checks_the_version(tmp_path: Path) -> None:
    body = (
        'installed = { distribution = "numpy", version = "0.0.1", extra = "x", '
        'files = [ { path = "numpy/__init__.py", sha256 = "00" } ] }'
    )
    pkg = load_package(_write(tmp_path / "fam", [("a", 0.5, body)]))
    reason = pkg.unavailable_reason("a")
    assert reason is not None
    assert "the manifest needs 0.0.1" in reason


def test_installed_variant_resolves_inside_the_distribution(tmp_path: Path) -> None:
    from importlib import metadata

    version = metadata.version("numpy")
    body = (
        f'installed = {{ distribution = "numpy", version = "{version}", extra = "x", '
        'files = [ { path = "numpy/__init__.py", sha256 = "00" } ] }'
    )
    pkg = load_package(_write(tmp_path / "fam", [("a", 0.5, body)]))
    assert pkg.unavailable_reason("a") is None
    assert pkg.variant_path("a").name == "__init__.py"
    assert pkg.variant_path("a").is_file()


def test_a_variant_needs_exactly_one_source(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match="exactly one"):
        load_package(_write(tmp_path / "fam", [("a", 0.5, "")]))
