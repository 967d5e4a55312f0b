"""Configuration: settings models, fleet resolution and layered loading."""
