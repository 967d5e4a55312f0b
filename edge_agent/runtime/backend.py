"""The seam between pipelines and inference runtimes.

LiteRT (``interpreter.py``) is the default runtime; CTranslate2 (Whisper) and
LiteRT-LM (generation) are optional extras with a backend module each beside
it. Every backend is owned by one thread, loads from a verified file, reports
the memory its load took the same way (:mod:`edge_agent.runtime.memory`), and
closes so that its memory and file pages go back. A missing extra is a
:class:`~edge_agent.errors.MissingExtraError` naming the extra, never an
ImportError trace.
"""

from __future__ import annotations

import importlib
from types import ModuleType
from typing import Protocol, runtime_checkable

from edge_agent.errors import MissingExtraError

__all__ = ["ModelBackend", "import_runtime"]


@runtime_checkable
class ModelBackend(Protocol):
    """A loaded model of some runtime, owned by one thread.

    Attributes:
        runtime: Runtime name (``ai-edge-litert``, ``ctranslate2``, ``litert-lm``).
    """

    runtime: str

    def close(self) -> None:
        """Release the model; drop its file pages from the page cache."""


def import_runtime(module: str, *, extra: str, family: str | None = None) -> ModuleType:
    """Import an optional runtime module.

    Args:
        module: Module to import (``ctranslate2``, ``litert_lm``).
        extra: The edge-agent extra that installs it.
        family: Family name, for the error.

    Returns:
        The module.

    Raises:
        MissingExtraError: It is not installed.
    """
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtraError(extra, module, family=family) from None
