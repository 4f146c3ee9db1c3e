"""What a user's ONNX detector says about itself beside the file: a posetrack sidecar ``<file>.json``, or the
``pipeline.json`` an MMDeploy SDK export (such as the zips rtmlib downloads) keeps next to ``end2end.onnx``.

The sidecar::

    {"preprocess": "rtmdet" | "yolox" | "ultralytics" | "imagenet" | {"channels": "bgr", "mean": [...],
                   "std": [...], "placement": "top-left", "fill": 114},
     "layout": "auto" | "ultralytics" | "yolov5" | "yolox-raw" | "post-nms" | "mmdeploy",
     "input_size": "320x320" (height x width), "conf": 0.3, "class": 0}

every key optional (what is missing is read from the file itself, ``models.user_files``). An unknown key, layout
or preprocessing is one line naming the file and the closest known word. ``pipeline.json``'s Preprocess task is
read for the resize (keep-ratio to a size), the pad (value; MMDetection pads right and bottom) and the
normalisation (mean, std, ``to_rgb``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from posetrack.errors import PosetrackError, did_you_mean
from posetrack.models.layouts import LAYOUTS
from posetrack.models.preprocess import parse_preprocess
from posetrack.transforms import Preprocess
from posetrack.types import Size, parse_hxw

SIDECAR_KEYS = ("preprocess", "layout", "input_size", "conf", "class")


@dataclass(frozen=True)
class Sidecar:
    """What was found beside an ONNX file (None: not said), and which file said it (``source``: a phrase)."""

    preprocess: Preprocess | None = None
    layout: str | None = None
    input_size: Size | None = None
    conf: float | None = None
    person_class: int | None = None
    source: str = ""


def read_sidecar(onnx_path: Path) -> Sidecar:
    """The sidecar ``<file>.json`` of ``onnx_path``, else the ``pipeline.json`` beside it, else nothing.

    Raises:
        PosetrackError: a sidecar that exists but cannot be read, naming the file and the problem.
    """
    own = onnx_path.with_suffix(".json")
    if own.is_file():
        return _posetrack_sidecar(own, _load(own))
    pipeline = onnx_path.parent / "pipeline.json"
    if pipeline.is_file():
        return mmdeploy_pipeline(pipeline, _load(pipeline))
    return Sidecar()


def _load(path: Path) -> Any:
    try:
        return json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PosetrackError(f"{path}: not a readable JSON file ({exc})") from None


def _posetrack_sidecar(path: Path, doc: Any) -> Sidecar:
    if not isinstance(doc, dict):
        raise PosetrackError(f"{path}: expected a JSON object ({', '.join(SIDECAR_KEYS)})")
    for key in doc:
        if key not in SIDECAR_KEYS:
            raise PosetrackError(f"{path}: unknown key {key!r}{did_you_mean(key, SIDECAR_KEYS)}; known: "
                                 f"{', '.join(SIDECAR_KEYS)}")
    layout = doc.get("layout")
    if layout is not None and layout not in LAYOUTS:
        raise PosetrackError(f"{path}: layout {layout!r}{did_you_mean(str(layout), LAYOUTS)}; use one of "
                             f"{', '.join(LAYOUTS)}")
    size = None
    if "input_size" in doc:
        size = parse_hxw(str(doc["input_size"]))
        if size is None:
            raise PosetrackError(f"{path}: input_size {doc['input_size']!r} is not HEIGHTxWIDTH (such as 416x416)")
    conf = doc.get("conf")
    if conf is not None and not (isinstance(conf, (int, float)) and 0 <= conf <= 1):
        raise PosetrackError(f"{path}: conf {conf!r} is not a score between 0 and 1")
    person = doc.get("class")
    if person is not None and not (isinstance(person, int) and person >= 0):
        raise PosetrackError(f"{path}: class {person!r} is not a class index (0 or more)")
    return Sidecar(parse_preprocess(doc["preprocess"], str(path)) if "preprocess" in doc else None,
                   layout, size, conf, person, f"its sidecar {path.name}")


def mmdeploy_pipeline(path: Path, doc: Any) -> Sidecar:
    """The preprocessing and input size an MMDeploy SDK ``pipeline.json`` describes."""
    try:
        tasks = doc["pipeline"]["tasks"]
        transforms = next(t["transforms"] for t in tasks if t.get("module") == "Transform")
    except (KeyError, TypeError, StopIteration):
        raise PosetrackError(f"{path}: no Preprocess transforms in this MMDeploy pipeline") from None
    size: Size | None = None
    fill, mean, std, channels = 114, (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "bgr"
    for t in transforms:
        kind = t.get("type")
        if kind == "Resize" and t.get("size"):
            w, h = (int(v) for v in t["size"][:2])  # MMCV scales are (width, height)
            size = Size(w, h)
        elif kind == "Pad":
            value = t.get("pad_val", fill)
            value = value.get("img", fill) if isinstance(value, dict) else value
            fill = int(value[0] if isinstance(value, (list, tuple)) else value)
            if t.get("size") and size is None:
                w, h = (int(v) for v in t["size"][:2])
                size = Size(w, h)
        elif kind == "Normalize":
            mean = tuple(float(v) for v in t["mean"])  # type: ignore[assignment]
            std = tuple(float(v) for v in t["std"])  # type: ignore[assignment]
            channels = "rgb" if t.get("to_rgb") else "bgr"  # MMCV's statistics are in the network's channel order
    return Sidecar(Preprocess(channels, mean, std, "top-left", fill), "mmdeploy", size,  # type: ignore[arg-type]
                   source=f"its MMDeploy {path.name}")
