"""Optional integrations that describe or export edge-agent's own topics and stats."""
