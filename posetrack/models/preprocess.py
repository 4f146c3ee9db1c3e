"""Detector preprocessing by name: how the common export families want a frame (channel order, normalisation,
letterbox placement and fill), as ``--detector-preprocess`` and sidecars name them.

Sources: Ultralytics' ``LetterBox`` (RGB / 255, centred, fill 114, for YOLOv5/v7/v8/11 exports alike); YOLOX's
``preproc`` (BGR as decoded, 0..255 unnormalised, pasted at the top left of a 114 fill) and rtmlib's ``yolox.py``,
which does the same; RTMDet's MMDetection config (BGR, mean 103.53 / 116.28 / 123.675, std 57.375 / 57.12 / 58.395,
MMDetection's Pad at the right and bottom).
"""

from __future__ import annotations

from typing import Any

from posetrack.errors import PosetrackError, did_you_mean
from posetrack.transforms import IMAGENET, Preprocess

ULTRALYTICS = Preprocess("rgb", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0), "centre", 114)
YOLOX = Preprocess("bgr", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "top-left", 114)
RTMDET = Preprocess("bgr", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395), "top-left", 114)
DETECTOR_PREPROCESS = {"ultralytics": ULTRALYTICS, "yolox": YOLOX, "rtmdet": RTMDET, "imagenet": IMAGENET}
PREPROCESS_FIELDS = ("channels", "mean", "std", "placement", "fill")


def preprocess_name(p: Preprocess) -> str | None:
    """The name of a named preprocessing (``DETECTOR_PREPROCESS``), else None."""
    return next((name for name, known in DETECTOR_PREPROCESS.items() if known == p), None)


def describe_preprocess(p: Preprocess) -> str:
    """One phrase for people: ``yolox [BGR 0-255, top-left letterbox, fill 114]``."""
    if p.std == (1.0, 1.0, 1.0) and p.mean == (0.0, 0.0, 0.0):
        pixels = f"{p.channels.upper()} 0-255"
    elif p.std == (255.0, 255.0, 255.0) and p.mean == (0.0, 0.0, 0.0):
        pixels = f"{p.channels.upper()} / 255"
    else:
        pixels = f"{p.channels.upper()} mean/std"
    details = f"{pixels}, {p.placement} letterbox, fill {p.fill}"
    name = preprocess_name(p)
    return f"{name} [{details}]" if name else f"[{details}]"


def parse_preprocess(value: Any, where: str) -> Preprocess:
    """A preprocessing given by name (``DETECTOR_PREPROCESS``) or as an object of its fields.

    Raises:
        PosetrackError: an unknown name or key, or a bad value, naming ``where`` (one line).
    """
    if isinstance(value, str):
        if value not in DETECTOR_PREPROCESS:
            raise PosetrackError(f"{where}: preprocessing {value!r}{did_you_mean(value, DETECTOR_PREPROCESS)}; use "
                                 f"{', '.join(DETECTOR_PREPROCESS)} or a JSON object with {', '.join(PREPROCESS_FIELDS)}")
        return DETECTOR_PREPROCESS[value]
    if not isinstance(value, dict):
        raise PosetrackError(f"{where}: preprocessing must be a name or an object, got {type(value).__name__}")
    for key in value:
        if key not in PREPROCESS_FIELDS:
            raise PosetrackError(f"{where}: unknown preprocessing key {key!r}{did_you_mean(key, PREPROCESS_FIELDS)}; "
                                 f"known: {', '.join(PREPROCESS_FIELDS)}")
    try:
        fields: dict[str, Any] = {k: tuple(float(x) for x in v) if k in ("mean", "std") else v for k, v in value.items()}
        return Preprocess(**fields)
    except (TypeError, ValueError) as exc:
        raise PosetrackError(f"{where}: {exc}") from None
