"""Build of the ``text`` family: a nested (MatFormer) MiniLM-L6 with an external embedding table.

Run ``python -m models.build.text`` from the repository root (needs the ``[build]`` extra).
"""
