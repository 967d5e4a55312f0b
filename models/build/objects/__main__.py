"""``python -m models.build.objects``: build the objects family (see models/objects/README.md)."""

from __future__ import annotations

import os

if __name__ == "__main__":
    # Set before TensorFlow and numpy are imported: TensorFlow's C++ INFO lines are noise,
    # and OpenBLAS threads spinning against TensorFlow's pool slow a 2-core box down.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    from models.build.objects.build import main

    raise SystemExit(main())
