"""`edge-agent infer`: JSON Lines on stdout, logs on stderr, exit status 1 when an input failed."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
IMAGE = REPO / "tests/fixtures/images/face.jpg"


def _infer(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "edge_agent",
            "infer",
            "--pipeline",
            "faces",
            "--set",
            f"cache_dir={tmp}",
            *args,
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_every_stdout_line_is_one_document_and_a_failed_input_fails_the_run(
    tmp_path: Path,
) -> None:
    note = tmp_path / "note.txt"
    note.write_text("not an image")
    done = _infer(tmp_path, str(IMAGE), str(note), str(IMAGE))
    assert done.returncode == 1
    docs = [json.loads(line) for line in done.stdout.splitlines()]
    assert [d["schema"] for d in docs] == [
        "edge-agent/result/1",
        "edge-agent/error/1",
        "edge-agent/result/1",
    ]
    assert docs[1]["reason"] == "wrong_modality"
    assert docs[0]["result"]["count"] >= 1
    assert "faces_variant_loaded" in done.stderr  # the log went to stderr


def test_all_inputs_good_exits_zero(tmp_path: Path) -> None:
    done = _infer(tmp_path, str(IMAGE))
    assert done.returncode == 0, done.stderr
    (doc,) = [json.loads(line) for line in done.stdout.splitlines()]
    assert doc["pipeline"] == "faces"


def test_pretty_prints_indented_documents(tmp_path: Path) -> None:
    done = _infer(tmp_path, "--pretty", str(IMAGE), str(IMAGE))
    assert done.returncode == 0, done.stderr
    decoder, text, docs, at = json.JSONDecoder(), done.stdout, [], 0
    while at < len(text.rstrip()):
        doc, end = decoder.raw_decode(text, at)
        docs.append(doc)
        at = end + 1
    assert len(docs) == 2
    assert '\n  "schema": "edge-agent/result/1"' in text
