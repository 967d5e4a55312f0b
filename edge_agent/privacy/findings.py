"""Privacy findings: what was found, how bad it is, where, and what to do."""

from __future__ import annotations

import enum
from dataclasses import dataclass

__all__ = ["Finding", "Severity"]


class Severity(enum.StrEnum):
    """How much a finding risks data leaving the device (or reaching the disk)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"
    INFO = "info"

    @property
    def rank(self) -> int:
        """Sort key: 0 for high, 3 for info."""
        return _RANKS[self]


_RANKS = {Severity.HIGH: 0, Severity.MEDIUM: 1, Severity.LOW: 2, Severity.INFO: 3}


@dataclass(frozen=True, slots=True)
class Finding:
    """One result of the privacy check.

    Attributes:
        code: Stable identifier (kebab-case), e.g. ``broker-bridge``.
        severity: How serious it is.
        message: What was found.
        where: Config key (``config: broker.url``) or ``file:line``.
        advice: How to fix it.
    """

    code: str
    severity: Severity
    message: str
    where: str
    advice: str = ""
