"""Reference detections from MediaPipe's own face detector, for the faces tests.

MediaPipe 0.10.14 needs numpy<2, so it cannot share the runtime venv. Create its
own venv once (outside the repository)::

    python3.11 -m venv /work/venvs/mediapipe
    /work/venvs/mediapipe/bin/pip install mediapipe==0.10.14 "numpy<2" pillow

then, from the repository root::

    /work/venvs/mediapipe/bin/python models/build/faces_reference.py [tests/fixtures/faces]

For every ``*.jpg`` in the folder it runs ``mediapipe.solutions.face_detection``
with ``model_selection=0`` (short range) and ``1`` (full range), default
``min_detection_confidence=0.5``, and writes ``<image>.reference.json`` beside
the image: ``{"mediapipe": version, "short": result, "full": result}`` where each
result has the ``faces`` pipeline's shape (``count``, ``faces`` with ``box``
``[x_min, y_min, x_max, y_max]`` normalised, ``score``, ``keypoints``, and
``image``). Images are decoded with Pillow, as the daemon does.

This script imports nothing from edge-agent, so it runs in that venv alone.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth_center", "right_ear_tragion",
             "left_ear_tragion")
MODELS = {"short": 0, "full": 1}


def _result(detections: Any, width: int, height: int) -> dict[str, Any]:
    faces = []
    for det in detections or []:
        box = det.location_data.relative_bounding_box
        kps = det.location_data.relative_keypoints
        faces.append({
            "box": [round(box.xmin, 6), round(box.ymin, 6),
                    round(box.xmin + box.width, 6), round(box.ymin + box.height, 6)],
            "score": round(float(det.score[0]), 6),
            "keypoints": {name: [round(kp.x, 6), round(kp.y, 6)]
                          for name, kp in zip(KEYPOINTS, kps, strict=False)},
        })
    return {"count": len(faces), "faces": faces, "image": {"width": width, "height": height}}


def main(argv: list[str]) -> int:
    """Write the reference JSON for every image of the folder in ``argv[0]``."""
    import mediapipe as mp
    import numpy as np
    from PIL import Image

    folder = Path(argv[0]) if argv else Path("tests/fixtures/faces")
    images = sorted(folder.glob("*.jpg"))
    detectors = {
        name: mp.solutions.face_detection.FaceDetection(model_selection=sel,
                                                        min_detection_confidence=0.5)
        for name, sel in MODELS.items()
    }
    for path in images:
        with Image.open(path) as img:
            rgb = np.ascontiguousarray(np.asarray(img.convert("RGB"), dtype=np.uint8))
        out: dict[str, Any] = {"mediapipe": mp.__version__}
        for name, detector in detectors.items():
            res = detector.process(rgb)
            out[name] = _result(res.detections, rgb.shape[1], rgb.shape[0])
        target = path.with_suffix(".reference.json")
        target.write_text(json.dumps(out, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        print(f"{path.name}: short={out['short']['count']} full={out['full']['count']}")
    for detector in detectors.values():
        detector.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
