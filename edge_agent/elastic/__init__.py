"""Elastic sizing: memory probe, sizing policy, check loop and plan explanation."""

from edge_agent.elastic.controller import ApplyFn, SizingController, pressure_of
from edge_agent.elastic.decision import (
    Decision,
    FamilyInput,
    FamilyState,
    PolicyInputs,
    PolicyResult,
    PolicyState,
    PressureSignal,
    SizingReason,
)
from edge_agent.elastic.plan import format_plan, plan, plan_decisions
from edge_agent.elastic.policy import SizingPolicy, ladder
from edge_agent.elastic.probe import MemoryProbe, MemoryReader, MemorySnapshot, ProbeError
from edge_agent.elastic.profile import FamilyProfile, VariantOption, estimate_need
from edge_agent.elastic.settings import ElasticSettings, SizingMode
from edge_agent.elastic.sizes import format_size, parse_size

__all__ = [
    "ApplyFn",
    "Decision",
    "ElasticSettings",
    "FamilyInput",
    "FamilyProfile",
    "FamilyState",
    "MemoryProbe",
    "MemoryReader",
    "MemorySnapshot",
    "PolicyInputs",
    "PolicyResult",
    "PolicyState",
    "PressureSignal",
    "ProbeError",
    "SizingController",
    "SizingMode",
    "SizingPolicy",
    "SizingReason",
    "VariantOption",
    "estimate_need",
    "format_plan",
    "format_size",
    "ladder",
    "parse_size",
    "plan",
    "plan_decisions",
    "pressure_of",
]
