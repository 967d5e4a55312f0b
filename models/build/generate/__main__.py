"""``python -m models.build.generate``: build the generate family (see models/generate/README.md)."""

from __future__ import annotations

from models.build.generate.build import main

if __name__ == "__main__":
    raise SystemExit(main())
