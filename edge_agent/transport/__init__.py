"""MQTT transport: broker address, client, routing and inboxes."""
