"""Home Assistant MQTT discovery for edge-agent's existing topics."""
