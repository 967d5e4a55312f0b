"""Operator views over the broker: `edge-agent status` and `edge-agent tail`."""
