"""Shared test support: a real mosquitto broker, a real daemon, an MQTT test client."""
