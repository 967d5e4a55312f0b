"""``make bench``: every benchmark whose figures the README quotes, in one run.

Each command's output is printed under its own heading and also written to
``benchmarks/results/<name>.txt`` so the README can quote it with its command.
Slow, and noisy on a shared machine: compare ratios within one run, not runs.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
PY = sys.executable
ALL_FAMILIES = ["faces", "text", "wakeword", "objects", "speech", "generate"]

BENCHMARKS: list[tuple[str, list[str]]] = [
    (
        "e2e_vs_peer",
        [
            PY,
            "benchmarks/e2e_throughput.py",
            "--pipelines",
            "faces",
            "text",
            "--repeats",
            "3",
            "--compare-malloc",
        ],
    ),
    (
        "e2e_objects",
        [PY, "benchmarks/e2e_throughput.py", "--pipelines", "objects", "--messages", "200"],
    ),
    (
        "wakeword_e2e_25",
        [PY, "benchmarks/wakeword_e2e.py", "--streams", "25", "--seconds", "20"],
    ),
    (
        "wakeword_e2e_60",
        [PY, "benchmarks/wakeword_e2e.py", "--streams", "60", "--seconds", "60"],
    ),
    (
        "wakeword_e2e_60_100ms",
        [
            PY,
            "benchmarks/wakeword_e2e.py",
            "--streams",
            "60",
            "--seconds",
            "60",
            "--chunk-ms",
            "100",
        ],
    ),
    ("startup", [PY, "benchmarks/startup.py", "--rounds", "6"]),
    (
        "startup_all",
        [PY, "benchmarks/startup.py", "--rounds", "6", "--families", *ALL_FAMILIES],
    ),
    ("overload_x5", [PY, "benchmarks/overload.py", "--factor", "5"]),
    ("overload_x10", [PY, "benchmarks/overload.py", "--factor", "10"]),
    ("soak_10min", [PY, "benchmarks/soak.py", "--minutes", "10"]),
    ("decode_scale_quality", [PY, "benchmarks/decode_scale_quality.py"]),
    *(
        (
            f"plan_{board}",
            [
                PY,
                "-m",
                "edge_agent",
                "plan",
                "-c",
                "deploy/config/every-family.toml",
                "--profile",
                board,
            ],
        )
        for board in ("pi-zero-2w", "pi4-2gb", "pi5-8gb")
    ),
    ("faces_models", [PY, "benchmarks/faces_models.py", "--runs", "200"]),
    ("objects_models", [PY, "benchmarks/objects_models.py", "--runs", "50"]),
    ("text_table", [PY, "benchmarks/text_models.py", "--table", "models/text"]),
    (
        "wakeword_streams_50",
        [PY, "benchmarks/wakeword_streams.py", "--streams", "50", "--seconds", "20"],
    ),
    ("wakeword_vad", [PY, "benchmarks/wakeword_vad.py", "--minutes", "5"]),
    # speech needs the `speech` extra (make test installs it); figures for models/speech
    ("speech_models", [PY, "benchmarks/speech_models.py"]),
    ("speech_wer_tiny-en", [PY, "benchmarks/speech_wer.py", "--variant", "tiny-en"]),
    ("speech_wer_base", [PY, "benchmarks/speech_wer.py", "--variant", "base"]),
    ("generate_models", [PY, "benchmarks/generate_models.py", "--rounds", "3", "--cli"]),
    ("generate_eval", [PY, "benchmarks/generate_eval.py"]),
    *(
        [("family_sets", [PY, "benchmarks/family_sets.py", "--repeats", "3"])]
        if os.geteuid() == 0
        else []
    ),
    (
        "elastic_memory",
        [PY, "benchmarks/elastic_memory.py"] + ([] if os.geteuid() == 0 else ["--skip-cgroup"]),
    ),
]


def main() -> int:
    out_dir = REPO / "benchmarks" / "results"
    out_dir.mkdir(exist_ok=True)
    only = set(sys.argv[1:])
    failed = 0
    for name, cmd in BENCHMARKS:
        if only and name not in only:
            continue
        print(f"\n## {name}: {' '.join(c if c != PY else 'python' for c in cmd)}\n", flush=True)
        start = time.monotonic()
        proc = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, check=False)
        lines = [
            ln
            for ln in proc.stdout.splitlines()
            if not ln.startswith(("INFO:", "WARNING:", "ERROR:"))
        ]
        text = "\n".join(lines)
        print(text)
        if proc.returncode != 0:
            failed += 1
            print(proc.stderr[-3000:], file=sys.stderr)
        (out_dir / f"{name}.txt").write_text(
            f"$ {' '.join(c if c != PY else 'python' for c in cmd)}\n"
            f"# {time.strftime('%Y-%m-%d %H:%M')} UTC, {time.monotonic() - start:.0f} s, "
            f"exit {proc.returncode}\n{text}\n"
        )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
