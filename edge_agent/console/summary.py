"""One line per published document, for a person (the demo's printer and ``edge-agent tail``).

Lines carry what the daemon already published on the broker (labels, counts,
wake words, reason codes); transcripts and generated text are shown by length
only, so a terminal scroll-back holds no more than the results' shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["summary_line"]


def _result(doc: Mapping[str, Any]) -> str:
    result = doc.get("result", {})
    pipeline = doc.get("pipeline")
    if "faces" in result:
        scores = ", ".join(f"{f['score']:.2f}" for f in result.get("faces", []))
        what = f"{result.get('count', 0)} face(s) [{scores}]"
    elif "label" in result:
        what = f"label={result.get('label')} score={result.get('score', 0):.2f}"
    elif "detections" in result:
        what = ", ".join(d["wake_word"] for d in result["detections"]) or "no wake word"
    elif result.get("event") == "wake_word":
        what = f"{result.get('wake_word', '?')} p={result.get('probability', 0):.2f}"
    elif "objects" in result:
        labels = ", ".join(
            f"{o.get('label')} {float(o.get('score', 0)):.2f}" for o in result.get("objects", [])
        )
        what = f"{len(result.get('objects', []))} object(s) [{labels}]"
    elif isinstance(result.get("text"), str):
        what = f"text ({len(result['text'])} characters)"
    else:
        what = "keys " + ",".join(sorted(result))
    model = doc.get("model", {})
    total = sum(v for k, v in doc.get("timings_ms", {}).items() if k != "total")
    return f"{pipeline!s:9} {doc.get('sensor')}: {what}   ({model.get('variant')}, {total:.1f} ms)"


def summary_line(doc: Mapping[str, Any]) -> str:
    """``result``/``error``/``event`` and a short description of one document."""
    schema = str(doc.get("schema", ""))
    if schema.startswith("edge-agent/result"):
        return "result  " + _result(doc)
    if schema.startswith("edge-agent/error"):
        where = f"{doc.get('route') or '-'} {doc.get('sensor') or '-'}"
        return (
            f"error   {doc.get('reason')} ({where}, {doc.get('size')} bytes): {doc.get('detail')}"
        )
    if schema.startswith("edge-agent/event"):
        extra = f" label={doc['label']}" if "label" in doc else ""
        return (
            f"event   {doc.get('pipeline')!s:9} {doc.get('sensor')}: {doc.get('event_type')}{extra}"
        )
    return f"other   {schema or 'unknown document'}"
