"""Model runtime: interpreter wrapper and model packages."""
