"""``python -m models.build.text``: build the text family end to end (see models/text/README.md)."""

from __future__ import annotations

import os

if __name__ == "__main__":
    # OpenBLAS worker threads spin against TensorFlow's pool on a busy 2-core box:
    # the numpy reference ran 60x slower with them. Set before numpy is imported.
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from models.build.text.build import main

    raise SystemExit(main())
