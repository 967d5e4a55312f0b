"""Logging setup: JSON under a service, readable on a terminal.

Log events are snake_case names with key-value fields; no payload bytes or text
ever go into a log call (sizes, hashes and ids only).

The native runtimes (LiteRT's C++ core, LiteRT-LM, absl) write their own
unformatted lines straight to file descriptor 2 (``INFO: Created TensorFlow Lite
XNNPACK delegate for CPU.``). :func:`configure_logging` with ``capture_native``
moves the real stderr to a duplicate descriptor for edge-agent's own output and
points descriptor 2 at a pipe; a thread reads the pipe and re-emits each line as
a ``native_log`` event (debug for information, warning for warnings, error for
errors), so the journal stays JSON and a terminal shows only edge-agent's lines.
"""

from __future__ import annotations

import faulthandler
import logging
import os
import re
import sys
import threading
from typing import IO, Literal, TextIO, cast

import structlog

__all__ = ["NativeStderr", "configure_logging", "set_log_level"]

_MAX_LINE = 500  # a native line longer than this is cut (never payload: runtime messages)

# "INFO: ...", "WARNING: ...", "ERROR: ..." (TFLite's logger); glog/absl style
# "I0101 12:00:00.000000 123 file.cc:45] ..." (LiteRT-LM, absl); "[libprotobuf WARNING ...]".
_TFLITE = re.compile(r"^(?P<level>INFO|WARNING|ERROR|FATAL|VERBOSE|DEBUG): ?(?P<text>.*)$")
_GLOG = re.compile(r"^(?P<level>[IWEF])\d{4} [\d:.]+\s+\d+\s+(?P<where>[^\]]+)\] ?(?P<text>.*)$")
_LEVELS = {
    "I": "debug",
    "INFO": "debug",
    "VERBOSE": "debug",
    "DEBUG": "debug",
    "W": "warning",
    "WARNING": "warning",
    "E": "error",
    "ERROR": "error",
    "F": "error",
    "FATAL": "error",
}


def classify_native_line(line: str) -> tuple[str, dict[str, str]]:
    """The log level and fields for one line a native library wrote to stderr.

    Args:
        line: The line without its newline.

    Returns:
        ``(level, fields)``: ``debug`` for information, ``warning``/``error`` as the
        line says, ``debug`` for anything unrecognised (continuation lines).
    """
    text = line[:_MAX_LINE]
    if m := _TFLITE.match(text):
        return _LEVELS[m["level"]], {"native_level": m["level"].lower(), "line": m["text"]}
    if m := _GLOG.match(text):
        fields = {"native_level": m["level"], "where": m["where"], "line": m["text"]}
        return _LEVELS[m["level"]], fields
    return "debug", {"line": text}


class NativeStderr:
    """File descriptor 2 redirected into a pipe, read by a thread, lines re-emitted as events.

    Args:
        real: A stream on a duplicate of the original stderr (edge-agent's own output).
    """

    def __init__(self, real: IO[str]) -> None:
        self.real = real
        self.lines = 0
        self._thread: threading.Thread | None = None

    @classmethod
    def install(cls) -> NativeStderr:
        """Duplicate the real stderr, then point descriptor 2 at a pipe read by a thread."""
        sys.stderr.flush()
        real_fd = os.dup(2)
        real = os.fdopen(real_fd, "w", buffering=1, encoding="utf-8", errors="replace")
        reader, writer = os.pipe()
        os.dup2(writer, 2)
        os.close(writer)
        # Python's own stderr writers (tracebacks, warnings) and a fatal-error dump
        # go to the real stderr: when the process is dying no thread reads the pipe.
        sys.stderr = real
        faulthandler.enable(file=real)
        capture = cls(real)
        capture._thread = threading.Thread(
            target=capture._pump, args=(reader,), name="native-stderr", daemon=True
        )
        capture._thread.start()
        return capture

    def _pump(self, fd: int) -> None:
        log = structlog.get_logger("edge_agent.native")
        with os.fdopen(fd, "rb", buffering=0) as pipe:
            pending = b""
            while chunk := pipe.read(4096):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for raw in lines:
                    self._emit(log, raw)
            if pending:
                self._emit(log, pending)

    def _emit(self, log: structlog.typing.FilteringBoundLogger, raw: bytes) -> None:
        line = raw.decode("utf-8", "replace").rstrip("\r")
        if not line.strip():
            return
        self.lines += 1
        level, fields = classify_native_line(line)
        try:
            getattr(log, level)("native_log", **fields)
        except Exception:  # the pump must outlive any logging failure, or fd 2 would block
            self.real.write(line + "\n")


_state: dict[str, object] = {}


def _json_wanted(fmt: str, stream: IO[str]) -> bool:
    if fmt != "auto":
        return fmt == "json"
    under_service = bool(os.environ.get("INVOCATION_ID") or os.environ.get("JOURNAL_STREAM"))
    return under_service or not stream.isatty()


def configure_logging(
    level: str = "info",
    fmt: Literal["auto", "json", "console"] = "auto",
    *,
    capture_native: bool = False,
) -> None:
    """Configure structlog to write to stderr.

    Args:
        level: Minimum level name.
        fmt: ``json``, ``console`` or ``auto``.
        capture_native: Redirect file descriptor 2 so native libraries' lines become
            ``native_log`` events (once per process; later calls keep the capture).
    """
    stream: IO[str] = sys.stderr
    if capture_native and "native" not in _state:
        _state["native"] = NativeStderr.install()
    native = _state.get("native")
    if isinstance(native, NativeStderr):
        stream = native.real
    _state["stream"], _state["fmt"] = stream, fmt
    numeric = logging.getLevelNamesMapping()[level.upper()]
    renderer: structlog.typing.Processor
    if _json_wanted(fmt, stream):
        renderer = structlog.processors.JSONRenderer()
    else:
        renderer = structlog.dev.ConsoleRenderer(colors=stream.isatty())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(cast(TextIO, stream)),
        cache_logger_on_first_use=False,
    )
    # paho and others log through stdlib logging: keep them quiet unless debugging.
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(level=max(numeric, logging.WARNING), stream=stream)
    root.setLevel(max(numeric, logging.WARNING))
    for handler in root.handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)


def set_log_level(level: str) -> None:
    """Change the minimum level at run time (``reload``), keeping format and stream."""
    fmt = _state.get("fmt", "auto")
    configure_logging(level, fmt if fmt in ("auto", "json", "console") else "auto")
