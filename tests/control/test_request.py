"""Control request parsing: limits first, then JSON; never anything but ControlError."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge_agent.codecs.limits import TextLimits
from edge_agent.control.reload import changed_keys
from edge_agent.control.request import ControlError, parse_request, response_document

LIMITS = TextLimits(max_bytes=512, max_json_depth=4)


REASONS = {"too_large", "invalid_utf8", "json_too_deep", "malformed_json", "bad_envelope"}


def _outcome(payload: bytes) -> str:
    try:
        request = parse_request("health", payload, LIMITS)
    except ControlError as exc:
        return exc.reason
    return "ok" if isinstance(request.body, dict) else "not a dict"


@given(st.binary(max_size=600))
def test_any_bytes_parse_or_raise_a_reason_coded_error(payload: bytes) -> None:
    assert _outcome(payload) in {"ok", *REASONS}


def test_empty_payload_is_an_empty_request_and_transaction_is_echoed() -> None:
    assert parse_request("stats", b"", LIMITS).body == {}
    request = parse_request("stats", b'{"transaction": [1, "a"]}', LIMITS)
    doc = response_document(transaction=request.transaction, data={"x": 1})
    assert doc == {
        "schema": "edge-agent/response/1",
        "status": "ok",
        "data": {"x": 1},
        "transaction": [1, "a"],
    }


def test_error_responses_carry_the_reason_and_no_data() -> None:
    with pytest.raises(ControlError) as caught:
        parse_request("pin", b"[" * 5 + b"]" * 5, LIMITS)
    doc = response_document(transaction=None, error=caught.value)
    assert (doc["status"], doc["reason"], doc["data"]) == ("error", "json_too_deep", {})
    assert "transaction" not in doc


def test_changed_keys_are_dotted_and_include_removals() -> None:
    old = {"elastic": {"mode": "quality-first", "pinned": {"text": "s"}}, "log": {"level": "info"}}
    new = {"elastic": {"mode": "quality-first", "pinned": {}}, "log": {"level": "debug"}}
    assert changed_keys(old, new) == ["elastic.pinned", "elastic.pinned.text", "log.level"]
