"""The control API on MQTT: request/response verbs in the style of Zigbee2MQTT's bridge."""
