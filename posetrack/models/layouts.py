"""Detector output layouts, recognised from the outputs themselves, and the preprocessing each family implies.

| layout        | outputs                           | what they hold                                                |
|---------------|-----------------------------------|---------------------------------------------------------------|
| `ultralytics` | one `[N, 4 + C, A]`               | cx, cy, w, h, then C class scores (YOLOv8/11)                 |
| `yolov5`      | one `[N, A, 5 + C]`               | cx, cy, w, h, objectness, C class scores (YOLOv5/v7)          |
| `yolox-raw`   | one `[N, A, 5 + C]`, A = grid cells | grid offsets, log sizes, objectness, classes (YOLOX, no decoder) |
| `post-nms`    | one `[N, K, 6]`, K ≤ 1000         | x1, y1, x2, y2, score, class (NMS done)                       |
| `mmdeploy`    | `dets [N, K, 5]`, `labels [N, K]` | x1, y1, x2, y2, score; class (NMS done: RTMDet, YOLOX end2end) |

YOLOv5's and raw YOLOX's outputs have one shape family. They differ in two ways that the outputs show: YOLOX has
one anchor per grid cell of strides 8, 16 and 32 (3549 rows at 416x416, 8400 at 640x640), YOLOv5 three (25200 at
640x640); and raw YOLOX rows hold offsets of a few cells, where decoded rows hold centres in input pixels, spread
over the whole input. ``recognise`` checks both, so a decoded head with one anchor per cell (YOLOv6) is not taken
for a raw one.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from posetrack.errors import PosetrackError

LAYOUTS = ("auto", "ultralytics", "yolov5", "yolox-raw", "post-nms", "mmdeploy")
COCO_CLASSES = 80
MAX_POST_NMS = 1000  # a [N, K, 6] output with more rows than this is YOLOv5's single-class layout, not post-NMS
YOLOX_STRIDES = (8, 16, 32)

# The preprocessing each layout's family is exported with (``models.preprocess`` names). An MMDeploy end2end file is
# RTMDet's or YOLOX's, which differ: its pipeline.json says which, and without it the user is asked.
LAYOUT_PREPROCESS = {"ultralytics": "ultralytics", "yolov5": "ultralytics", "post-nms": "ultralytics",
                     "yolox-raw": "yolox"}


def grid_cells(input_size: tuple[int, int]) -> int:
    """Cells of the stride 8, 16 and 32 grids over a (width, height) input: one YOLOX anchor each."""
    w, h = input_size
    return sum((h // s) * (w // s) for s in YOLOX_STRIDES)


def recognise(outputs: Sequence[np.ndarray], input_size: tuple[int, int] | None = None) -> tuple[str, str]:
    """The layout of a network's outputs (see the module table) and the evidence, in words.

    Args:
        outputs: the network's outputs for one input (values matter only to tell raw YOLOX from YOLOv5).
        input_size: (width, height) of the network input; without it a raw YOLOX head cannot be recognised.
    Raises:
        PosetrackError: shapes none of the layouts has, named in the message.
    """
    shapes = [tuple(int(d) for d in o.shape) for o in outputs]
    if len(outputs) == 2:
        ranks = sorted((o.ndim, i) for i, o in enumerate(outputs))
        if [r for r, _ in ranks] == [2, 3] and outputs[ranks[1][1]].shape[-1] == 5:
            return "mmdeploy", f"outputs {_shapes(shapes)}: boxes with scores and labels, NMS inside"
    if len(outputs) == 1 and outputs[0].ndim == 3:
        _, a, b = shapes[0]
        if 5 <= a < b:
            return "ultralytics", f"output {_shapes(shapes)}: 4 box + {a - 4} class rows, {b} anchors"
        if b == 6 and a <= MAX_POST_NMS:
            return "post-nms", f"output {_shapes(shapes)}: boxes, score and class, NMS done"
        if b == 4 + COCO_CLASSES:  # YOLOv5 has 5 + 80 columns; 4 + 80 is a YOLOv8 output the wrong way round
            raise PosetrackError(f"the detector's output {shapes[0]} looks transposed: YOLOv8/11 exports are "
                                 f"[N, 4+C, A] ([N, 84, A] for COCO); re-export it without transposing the output")
        if b >= 6:
            if input_size is not None and a == grid_cells(input_size) and _offsets(outputs[0], input_size):
                return "yolox-raw", (f"output {_shapes(shapes)}: raw YOLOX head, one anchor per cell of strides "
                                     f"8/16/32 at {input_size[1]}x{input_size[0]}")
            return "yolov5", f"output {_shapes(shapes)}: decoded boxes, objectness and {b - 5} classes"
    raise PosetrackError(f"cannot read the detector's outputs, shapes {shapes}: expected [N, 4+C, A] (YOLOv8/11), "
                         "[N, A, 5+C] (YOLOv5/v7, raw YOLOX), [N, K, 6] (post-NMS) or dets [N, K, 5] + labels [N, K] "
                         "(MMDeploy)")


def infer_layout(outputs: Sequence[np.ndarray], input_size: tuple[int, int] | None = None) -> str:
    """The layout name alone (``recognise``)."""
    return recognise(outputs, input_size)[0]


def _offsets(output: np.ndarray, input_size: tuple[int, int]) -> bool:
    """Whether the first two columns are grid offsets (a few cells) rather than box centres in input pixels (which
    reach across the input: the rows of the last cells sit near its far corner)."""
    xy = np.abs(output[0, :, :2])
    return bool(np.isfinite(xy).all() and xy.max() < max(input_size) / 4)


def _shapes(shapes: list[tuple[int, ...]]) -> str:
    return " + ".join(str(list(s)) for s in shapes)
