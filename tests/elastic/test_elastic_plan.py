"""`edge-agent plan` text and the elastic settings model."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from edge_agent.elastic.plan import plan, plan_decisions
from edge_agent.elastic.probe import MemorySnapshot
from edge_agent.elastic.profile import FamilyProfile, VariantOption, estimate_need
from edge_agent.elastic.settings import ElasticSettings

MiB = 1024**2


def faces() -> FamilyProfile:
    return FamilyProfile(
        "faces",
        (
            VariantOption("small", 10 * MiB, 1.0, 0.7),
            VariantOption("mid", 30 * MiB, 3.0, 0.85),
            VariantOption("big", 80 * MiB, 9.0, 0.95),
        ),
        quality_first="big",
    )


def test_plan_names_the_variant_and_the_reason_at_a_given_budget() -> None:
    out = plan([faces()], ElasticSettings(), budget="50MiB")
    first, family = out.splitlines()[:2]
    assert "budget 50.0 MiB (--budget 50MiB)" in first
    assert family.startswith("faces (priority 0): mid - fits")


def test_plan_marks_the_choice_and_shortfalls() -> None:
    out = plan([faces()], ElasticSettings(), budget="50MiB")
    assert "* mid" in out
    assert "short by 30.0 MiB" in out  # big needs 80 of 50


def test_plan_says_when_nothing_fits() -> None:
    out = plan([faces()], ElasticSettings(), budget="5M")
    assert "faces (priority 0): not loaded - over_budget" in out


def test_plan_from_a_snapshot_explains_the_budget() -> None:
    snap = MemorySnapshot(
        mem_total=4096 * MiB,
        mem_available=1024 * MiB,
        cgroup_version=2,
        cgroup_limit=200 * MiB,
        cgroup_usage=150 * MiB,
    )
    settings = ElasticSettings(reserve_bytes="64MiB", cgroup_reserve_bytes=0)
    out = plan([faces()], settings, snapshot=snap)
    assert "cgroup v2 limit 200.0 MiB" in out
    assert "no PSI" in out
    assert out.splitlines()[1].startswith("faces (priority 0): mid")  # 50 MiB headroom


def test_plan_under_pressure_still_loads_from_nothing_only_when_calm() -> None:
    snap = MemorySnapshot(mem_total=4096 * MiB, mem_available=1024 * MiB, psi_some_avg10=50.0)
    (d,) = plan_decisions([faces()], ElasticSettings(), snapshot=snap)
    assert (d.to_variant, d.reason.value) == (None, "pressure")


def test_plan_needs_a_budget_or_a_snapshot() -> None:
    with pytest.raises(ValueError, match="budget or a memory snapshot"):
        plan([faces()], ElasticSettings())


def test_settings_accept_size_strings() -> None:
    s = ElasticSettings(reserve_bytes="1.5GiB", step_up_margin_bytes="512M")
    assert (s.reserve_bytes, s.step_up_margin_bytes) == (1_610_612_736, 512 * MiB)


def test_settings_reject_unknown_keys() -> None:
    with pytest.raises(ValidationError):
        ElasticSettings(mode="quality-first", hold=3)  # type: ignore[call-arg]


def test_settings_reject_unknown_modes() -> None:
    with pytest.raises(ValidationError):
        ElasticSettings(mode="fastest")


def test_every_settings_field_has_a_description() -> None:
    assert all(f.description for f in ElasticSettings.model_fields.values())


def test_need_counts_a_share_of_soft_bytes() -> None:
    assert estimate_need(1000, 400, 0.5) == 1200
    assert estimate_need(1000, 3, 0.5) == 1002  # rounded up


def test_plan_keeps_the_cgroup_reserve_free() -> None:
    snap = MemorySnapshot(
        mem_total=4096 * MiB,
        mem_available=1024 * MiB,
        cgroup_version=2,
        cgroup_limit=200 * MiB,
        cgroup_usage=150 * MiB,
    )
    settings = ElasticSettings(reserve_bytes="64MiB", cgroup_reserve_bytes="24MiB")
    out = plan([faces()], settings, snapshot=snap)
    # 50 - 24 = 26 MiB < mid's 30
    assert out.splitlines()[1].startswith("faces (priority 0): small")


def test_plan_for_a_board_uses_its_assumed_budget() -> None:
    from edge_agent.config.models import AgentSettings
    from edge_agent.planning import BOARDS, plan_text

    out = plan_text(AgentSettings(), profile="pi-zero-2w")
    first = out.splitlines()[0]
    assert "224.0 MiB" in first
    assert "Raspberry Pi Zero 2 W" in first
    assert (
        BOARDS["pi5-8gb"].budget_bytes
        > BOARDS["pi4-2gb"].budget_bytes
        > (BOARDS["pi-zero-2w"].budget_bytes)
    )


def test_plan_says_what_would_come_back_first() -> None:
    from edge_agent.elastic.decision import FamilyConfig

    # 45 MiB: faces (higher) runs mid; text (lower) gets the 15 MiB left: nothing.
    fams = {"faces": FamilyConfig(priority=80), "text": FamilyConfig(priority=70)}
    text = FamilyProfile(
        "text", (VariantOption("t-small", 20 * MiB, 2.0, 0.6),), quality_first="t-small"
    )
    profiles = [faces(), text]
    out = plan(profiles, ElasticSettings(), budget="45MiB", families=fams)
    assert "faces (priority 80): mid" in out
    assert "text (priority 70): not loaded" in out
    # text needs 5 MiB more, faces' big 35 MiB more: text comes back first.
    assert out.rstrip().splitlines()[-1] == (
        "if memory grew: text t-small comes first (5.0 MiB more)"
    )
    # And it would: at 50 MiB, text loads while faces still runs mid.
    wider = plan(profiles, ElasticSettings(), budget="50MiB", families=fams)
    assert "text (priority 70): t-small" in wider
    assert "faces (priority 80): mid" in wider
