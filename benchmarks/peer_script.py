"""The script a competent user would write instead of edge-agent (the benchmark's peer).

paho + Pillow + ai-edge-litert, single-threaded in paho's callback, straightforward:
neither sabotaged nor tuned. Faces: decode the JPEG, letterbox with Pillow, run
BlazeFace, decode the SSD anchors, non-maximum suppression, publish JSON. Text:
tokenise, embed with the same int8 table, run the same MiniLM file, cosine against
the labels, publish JSON. It answers on ``peer/results/<sensor>`` with the
request's correlation data, so the benchmark times it exactly like the daemon.

    python benchmarks/peer_script.py faces --socket S --model m.tflite [--range short]
    python benchmarks/peer_script.py text --socket S --model xl.tflite --family models/text
"""

from __future__ import annotations

import argparse
import io
import json
from pathlib import Path
from typing import ClassVar

import numpy as np
import paho.mqtt.client as mqtt
from ai_edge_litert.interpreter import Interpreter
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from PIL import Image, ImageOps


def blazeface_anchors(size: int, strides: list[int], per_cell: list[int]) -> np.ndarray:
    """MediaPipe's SSD anchors for BlazeFace (fixed anchor size: centres only)."""
    rows = []
    for stride, count in zip(strides, per_cell, strict=True):
        cells = size // stride
        ys, xs = np.mgrid[0:cells, 0:cells]
        centres = np.stack([(xs + 0.5) / cells, (ys + 0.5) / cells], axis=-1).reshape(-1, 2)
        rows.append(np.repeat(centres, count, axis=0))
    return np.concatenate(rows).astype(np.float32)


RANGES = {  # input size, anchors, score threshold
    "short": (128, blazeface_anchors(128, [8, 16], [2, 6]), 0.5),
    "full": (192, blazeface_anchors(192, [4], [1]), 0.5),
}


def nms(boxes: np.ndarray, scores: np.ndarray, threshold: float = 0.3) -> list[int]:
    order, keep = np.argsort(-scores), []
    while order.size:
        i = order[0]
        keep.append(int(i))
        xx1 = np.maximum(boxes[i, 0], boxes[order, 0])
        yy1 = np.maximum(boxes[i, 1], boxes[order, 1])
        xx2 = np.minimum(boxes[i, 2], boxes[order, 2])
        yy2 = np.minimum(boxes[i, 3], boxes[order, 3])
        inter = np.clip(xx2 - xx1, 0, None) * np.clip(yy2 - yy1, 0, None)
        area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
        iou = inter / (area[i] + area[order] - inter + 1e-9)
        order = order[iou <= threshold]
    return keep


class Faces:
    def __init__(self, model: str, range_name: str) -> None:
        self.size, self.anchors, self.min_score = RANGES[range_name]
        self.interp = Interpreter(model_path=model)
        self.interp.allocate_tensors()
        self.inp = self.interp.get_input_details()[0]["index"]
        outs = sorted(self.interp.get_output_details(), key=lambda d: d["shape"][-1])
        self.scores_out, self.boxes_out = outs[0]["index"], outs[1]["index"]

    def __call__(self, payload: bytes) -> dict:
        image = Image.open(io.BytesIO(payload)).convert("RGB")
        padded = ImageOps.pad(image, (self.size, self.size), color=(0, 0, 0))
        x = np.asarray(padded, np.float32) / 127.5 - 1.0
        self.interp.set_tensor(self.inp, x[None])
        self.interp.invoke()
        raw = self.interp.get_tensor(self.boxes_out)[0]
        scores = 1 / (
            1 + np.exp(-np.clip(self.interp.get_tensor(self.scores_out)[0, :, 0], -100, 100))
        )
        keep = scores >= self.min_score
        cx = raw[keep, 0] / self.size + self.anchors[keep, 0]
        cy = raw[keep, 1] / self.size + self.anchors[keep, 1]
        w, h = raw[keep, 2] / self.size, raw[keep, 3] / self.size
        boxes = np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)
        faces = [
            {"box": [round(float(v), 4) for v in boxes[i]], "score": float(scores[keep][i])}
            for i in nms(boxes, scores[keep])
        ]
        return {"count": len(faces), "faces": faces}


class Text:
    LABELS: ClassVar[dict[str, str]] = {
        "alarm": "a smoke or fire alarm",
        "water": "a water leak",
        "light": "turn the lights on or off",
        "parcel": "a parcel was delivered",
    }

    def __init__(self, model: str, family: Path) -> None:
        from tokenizers import Tokenizer

        self.tok = Tokenizer.from_file(str(family / "tokenizer.json"))
        self.tok.enable_truncation(128)
        self.words = np.load(family / "word_embeddings.int8.npy", mmap_mode="r")
        self.scales = np.load(family / "word_embeddings.scales.npy")
        self.positions = np.load(family / "position_embeddings.npy")
        self.interp = Interpreter(model_path=model)
        self.x, self.mask = (d["index"] for d in self.interp.get_input_details())
        self.out = self.interp.get_output_details()[0]["index"]
        self.length = 0
        self.label_names = list(self.LABELS)
        self.label_vectors = np.stack([self.embed(t) for t in self.LABELS.values()])

    def embed(self, text: str) -> np.ndarray:
        ids = self.tok.encode(text).ids
        rows = self.words[ids].astype(np.float32) * self.scales[ids, None]
        x = (rows + self.positions[: len(ids)]).astype(np.float32)
        if len(ids) != self.length:
            self.interp.resize_tensor_input(self.x, list(x.shape))
            self.interp.resize_tensor_input(self.mask, [len(ids)])
            self.interp.allocate_tensors()
            self.length = len(ids)
        self.interp.set_tensor(self.x, x)
        self.interp.set_tensor(self.mask, np.ones(len(ids), np.float32))
        self.interp.invoke()
        v = self.interp.get_tensor(self.out).reshape(-1)
        return v / np.linalg.norm(v)

    def __call__(self, payload: bytes) -> dict:
        scores = self.label_vectors @ self.embed(payload.decode("utf-8"))
        best = int(np.argmax(scores))
        return {"label": self.label_names[best], "score": round(float(scores[best]), 4)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("task", choices=["faces", "text"])
    parser.add_argument("--socket", required=True)
    parser.add_argument("--model", required=True)
    parser.add_argument("--range", default="short", choices=sorted(RANGES))
    parser.add_argument("--family", type=Path, default=Path("models/text"))
    args = parser.parse_args()
    task = Faces(args.model, args.range) if args.task == "faces" else Text(args.model, args.family)
    modality = "image" if args.task == "faces" else "text"

    def on_message(client: mqtt.Client, userdata: object, msg: mqtt.MQTTMessage) -> None:
        try:
            result = task(msg.payload)
        except Exception as exc:  # a bad payload must not kill the script
            result = {"error": type(exc).__name__}
        props = Properties(PacketTypes.PUBLISH)
        corr = getattr(msg.properties, "CorrelationData", None)
        if corr is not None:
            props.CorrelationData = corr
        sensor = msg.topic.split("/")[1]
        body = {"request_id": corr.decode() if corr else "", "result": result}
        client.publish(f"peer/results/{sensor}", json.dumps(body), qos=1, properties=props)

    def on_connect(client: mqtt.Client, *_: object) -> None:
        client.subscribe(f"sensors/+/{modality}", qos=1)
        client.publish("peer/status", "online", qos=1, retain=True)

    client = mqtt.Client(
        CallbackAPIVersion.VERSION2,
        client_id=f"peer-{args.task}",
        protocol=mqtt.MQTTv5,
        transport="unix",
    )
    client.on_connect, client.on_message = on_connect, on_message
    client.connect(args.socket)
    client.loop_forever()


if __name__ == "__main__":
    main()
