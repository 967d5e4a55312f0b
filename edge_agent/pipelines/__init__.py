"""Task pipelines, one module per task."""
