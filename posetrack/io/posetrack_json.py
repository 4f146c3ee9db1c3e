"""PoseTrack 2018 JSON files, in the form the official evaluator (poseval) reads unchanged.

One file per sequence with ``images``, ``annotations`` and ``categories``. Keypoints are written in
PoseTrack-17 order as flat x, y, v triples; an absent keypoint is exactly (0, 0, 0) — poseval counts
every other triple, whatever its flag. Frames are named ``images/<split>/<digits>_mpii_<split>/NNNNNN.jpg``,
since poseval accepts only such names; image ids follow PoseTrack 2018 (``1`` + sequence digits + frame).
"""

from __future__ import annotations

import json
import re
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from posetrack.errors import PosetrackError
from posetrack.io.files import atomic_path, read_json
from posetrack.skeleton import COCO17, POSETRACK17, coco_to_posetrack
from posetrack.types import TrackedPoses

SEQUENCE_NAME = re.compile(r"^(\d+)_(mpii|bonn|mpiinew)\w*$")  # the only sequence names poseval accepts
MAX_FRAMES = 10_000  # poseval parses the frame number from a 4-digit field of the image id
MAX_TRACK_ID = 10_000  # poseval offsets track ids by sequence index x 10 000
# Keypoints scoring below this are left out of the files (poseval counts every keypoint written) and not drawn: the
# default of --keypoint-threshold, and of every sink.


@dataclass
class PoseTrackFrame:
    """The people of one frame. Arrays read from a file are float64, exactly as the JSON holds them.

    Attributes:
        track_ids: (N,) int64.
        keypoints: (N, 17, 2) float image pixels, PoseTrack-17 order.
        flags: (N, 17) int8; 0 = absent (written as 0, 0, 0), otherwise the visibility flag to write.
        boxes: (N, 4) float x1, y1, x2, y2.
        scores: (N, 17) float keypoint scores (predictions), NaN for a person written without scores;
            None when no person of the frame has scores (ground truth).
        box_scores: (N,) float person scores, or None.
        head_boxes: (N, 4) float x1, y1, x2, y2 (ground truth), or None.
        ignore_regions: polygons [(P, 2) float arrays] of the frame (ground truth only).
        is_labeled: whether the frame carries annotations.
    """

    track_ids: np.ndarray
    keypoints: np.ndarray
    flags: np.ndarray
    boxes: np.ndarray
    scores: np.ndarray | None = None
    box_scores: np.ndarray | None = None
    head_boxes: np.ndarray | None = None
    ignore_regions: list[np.ndarray] = field(default_factory=list)
    is_labeled: bool = True

    def __len__(self) -> int:
        return len(self.track_ids)

    @classmethod
    def empty(cls, is_labeled: bool = True) -> PoseTrackFrame:
        return cls(np.zeros(0, np.int64), np.zeros((0, 17, 2), np.float32), np.zeros((0, 17), np.int8),
                   np.zeros((0, 4), np.float32), is_labeled=is_labeled)


@dataclass
class PoseTrackSequence:
    """A sequence: its name (``<digits>_mpii_<split>``), frame size and frames in order."""

    name: str
    width: int
    height: int
    frames: list[PoseTrackFrame]
    split: str = "val"

    def __post_init__(self) -> None:
        if not SEQUENCE_NAME.match(self.name):
            raise PosetrackError(f"sequence name {self.name!r}: poseval needs digits followed by _mpii, _bonn or _mpiinew")

    def image_id(self, index: int) -> int:
        return image_id(self.name, index)


def sequence_name_for(stem: str) -> str:
    """The PoseTrack sequence name for a video: its stem when poseval accepts it (e.g. a synthetic clip's
    ``200003_mpii_test``), else ``<6 digits>_mpii_<stem>`` with other characters replaced by ``_``. poseval accepts
    only names that start with digits and ``_mpii`` (or ``_bonn``, ``_mpiinew``) and the image ids come from those
    digits, so they are the stem's CRC-32 modulo 10**6: videos of one folder get different image ids (unless two
    of their stems share the digits) and a video is named the same in every run."""
    if SEQUENCE_NAME.match(stem):
        return stem
    return f"{zlib.crc32(stem.encode()) % 10**6:06d}_mpii_" + re.sub(r"\W", "_", stem)


def poses_to_frame(poses: TrackedPoses, keep_score: float) -> PoseTrackFrame:
    """Tracked poses → a PoseTrack prediction frame. COCO-17 poses are converted to PoseTrack-17; keypoints scoring
    below ``keep_score`` are left out (poseval counts every keypoint written)."""
    keypoints, scores = poses.keypoints, poses.scores
    if poses.skeleton is COCO17:
        keypoints, scores = coco_to_posetrack(keypoints, scores)
    flags = ((scores >= keep_score) & np.isfinite(keypoints).all(-1)).astype(np.int8)  # NaN is never written
    return PoseTrackFrame(poses.track_ids % MAX_TRACK_ID, keypoints, flags, poses.boxes, scores=scores,
                          box_scores=poses.box_scores)


def _r(x: float) -> float:
    return round(float(x), 2)


def image_id(name: str, index: int) -> int:
    """PoseTrack 2018's image id of frame ``index`` of sequence ``name``: ``1`` + the name's digits + 4 digits."""
    return int(f"1{name.split('_', 1)[0]}{index:04d}")


def frame_entries(name: str, split: str, index: int, frame: PoseTrackFrame, width: int, height: int,
                  nframes: int | None = None, file: str | None = None) -> tuple[dict, list[dict]]:
    """The ``images`` entry and the ``annotations`` of frame ``index`` (``nframes`` may be filled in later).
    ``file``: the image file the frame was read from (an image folder's), written as ``source_file``: PoseTrack's
    ``file_name`` must stay ``images/<split>/<sequence>/<6 digits>.jpg``, which poseval parses."""
    iid = image_id(name, index)
    image = {"file_name": f"images/{split}/{name}/{index:06d}.jpg", "id": iid, "frame_id": iid,
             "vid_id": name.split("_", 1)[0], "nframes": nframes, "is_labeled": bool(frame.is_labeled),
             "has_no_densepose": True, "width": int(width), "height": int(height)}
    if file is not None:
        image["source_file"] = file
    if frame.ignore_regions:
        image["ignore_regions_x"] = [[_r(v) for v in poly[:, 0]] for poly in frame.ignore_regions]
        image["ignore_regions_y"] = [[_r(v) for v in poly[:, 1]] for poly in frame.ignore_regions]
    return image, [_annotation(frame, k, iid) for k in range(len(frame))]


def _entries(seq: PoseTrackSequence) -> Iterator[tuple[dict, list[dict]]]:
    for i, frame in enumerate(seq.frames):
        yield frame_entries(seq.name, seq.split, i, frame, seq.width, seq.height)


def _check_length(name: str, nframes: int) -> None:
    if nframes > MAX_FRAMES:
        raise PosetrackError(f"{name}: {nframes} frames; PoseTrack files hold at most {MAX_FRAMES}")


def to_json(seq: PoseTrackSequence) -> dict:
    """The PoseTrack 2018 dict of a sequence (deterministic: same input, same bytes once dumped)."""
    _check_length(seq.name, len(seq.frames))
    images, annotations = [], []
    for image, anns in _entries(seq):
        image["nframes"] = len(seq.frames)
        images.append(image)
        annotations += anns
    return {"images": images, "annotations": annotations, "categories": [_CATEGORY]}


def _annotation(frame: PoseTrackFrame, k: int, image_id: int) -> dict:
    flat = []
    for (x, y), flag in zip(frame.keypoints[k], frame.flags[k]):
        flat += [_r(x), _r(y), int(flag)] if flag else [0.0, 0.0, 0]
    x1, y1, x2, y2 = (float(v) for v in frame.boxes[k])
    ann = {"track_id": int(frame.track_ids[k]), "image_id": image_id, "id": image_id * 100 + k, "category_id": 1,
           "bbox": [_r(x1), _r(y1), _r(x2 - x1), _r(y2 - y1)], "keypoints": flat,
           "scores": [] if frame.scores is None else [_r4(s) for s in frame.scores[k]]}
    if frame.head_boxes is not None:
        hx1, hy1, hx2, hy2 = (float(v) for v in frame.head_boxes[k])
        ann["bbox_head"] = [_r(hx1), _r(hy1), _r(hx2 - hx1), _r(hy2 - hy1)]
    if frame.box_scores is not None:
        ann["score"] = _r4(frame.box_scores[k])
    return ann


def _r4(x: float) -> float:
    return round(float(x), 4)


_CATEGORY = {
    "supercategory": "person", "id": 1, "name": "person", "keypoints": list(POSETRACK17.joints),
    "skeleton": [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13], [6, 12], [7, 13], [6, 7], [6, 8], [7, 9],
                 [8, 10], [9, 11], [2, 3], [1, 2], [1, 3], [2, 4], [3, 5], [4, 6], [5, 7]],
}


def write_sequence(seq: PoseTrackSequence, path: str | Path) -> Path:
    """Write ``seq`` as PoseTrack 2018 JSON (written to a temporary file, then renamed into place)."""
    _check_length(seq.name, len(seq.frames))
    return write_entries(path, lambda: _entries(seq), len(seq.frames))


def write_entries(path: str | Path, entries: Callable[[], Iterable[tuple[dict, list[dict]]]], nframes: int) -> Path:
    """Write a PoseTrack 2018 file from per-frame ``(image, annotations)`` entries (``frame_entries``), streamed:
    ``entries()`` is called twice (images first, then annotations), so frames need not be in memory. The bytes
    are those of ``json.dumps(to_json(...))``. Written through ``io.files.atomic_path``: a file under ``path`` is
    always complete."""
    path = Path(path)
    with atomic_path(path) as draft, draft.open("w", encoding="utf-8") as f:
        f.write('{"images":[')
        for i, (image, _) in enumerate(entries()):
            image["nframes"] = nframes
            f.write(("," if i else "") + _dumps(image))
        f.write('],"annotations":[')
        first = True
        for _, anns in entries():
            for ann in anns:
                f.write(("" if first else ",") + _dumps(ann))
                first = False
        f.write('],"categories":[' + _dumps(_CATEGORY) + "]}")
    return path


def _dumps(obj: dict) -> str:
    return json.dumps(obj, separators=(",", ":"), allow_nan=False)  # NaN is not JSON: fail loudly, never write it


def read_sequence(path: str | Path) -> PoseTrackSequence:
    """Read a PoseTrack 2018 JSON file (ground truth or predictions).

    Keypoints are mapped by the names in ``categories[0].keypoints`` to PoseTrack-17 order. Raises
    ``PosetrackError`` naming the file for anything unreadable.
    """
    path = Path(path)
    data = read_json(path)
    try:
        return _parse(data, path)
    except (KeyError, TypeError, ValueError, IndexError) as exc:
        raise PosetrackError(f"{path}: not a PoseTrack 2018 file ({type(exc).__name__}: {exc})") from None


def _parse(data: dict, path: Path) -> PoseTrackSequence:
    names = data["categories"][0]["keypoints"]
    unknown = [n for n in names if n not in POSETRACK17.joints]
    if unknown:
        raise PosetrackError(f"{path}: keypoint names {unknown} are not PoseTrack 2018 names")
    order = np.array([names.index(n) if n in names else -1 for n in POSETRACK17.joints])
    images = data["images"]
    by_image: dict[int, list[dict]] = {img["id"]: [] for img in images}
    for ann in data.get("annotations", []):
        if ann["image_id"] in by_image:
            by_image[ann["image_id"]].append(ann)
    folder = Path(images[0]["file_name"]).parent if images else Path(path.stem)
    frames = [_frame(img, by_image[img["id"]], order) for img in images]
    width = int(images[0].get("width", 0)) if images else 0
    height = int(images[0].get("height", 0)) if images else 0
    split = folder.parent.name if folder.parent.name else "val"
    return PoseTrackSequence(folder.name, width, height, frames, split)


def _frame(image: dict, anns: list[dict], order: np.ndarray) -> PoseTrackFrame:
    regions = [np.stack([np.asarray(xs, float), np.asarray(ys, float)], 1)
               for xs, ys in zip(image.get("ignore_regions_x", []), image.get("ignore_regions_y", []))]
    frame = PoseTrackFrame.empty(bool(image.get("is_labeled", True)))
    frame.ignore_regions = regions
    if not anns:
        return frame
    n = len(anns)
    raw = np.zeros((n, len(order) + 1, 3))
    for k, ann in enumerate(anns):
        kp = np.asarray(ann.get("keypoints") or [], np.float64).reshape(-1, 3)
        raw[k, : len(kp)] = kp
    triples = raw[:, np.where(order >= 0, order, len(order))]  # missing names → the zero column
    absent = (triples == 0).all(-1)
    if not np.isfinite(triples).all():
        raise ValueError("a keypoint is not a finite number")
    frame.track_ids = np.array([int(a.get("track_id", -1)) for a in anns], np.int64)
    frame.keypoints = triples[..., :2]
    frame.flags = np.where(absent, 0, np.maximum(triples[..., 2], 1)).astype(np.int8)
    boxes = np.array([a.get("bbox") or [0, 0, 0, 0] for a in anns], np.float64).reshape(n, 4)
    if not np.isfinite(boxes).all():
        raise ValueError("a bbox is not finite numbers")
    frame.boxes = np.concatenate([boxes[:, :2], boxes[:, :2] + boxes[:, 2:]], 1)
    if any(a.get("scores") for a in anns):
        scores = np.array([a.get("scores") or [np.nan] * len(order) for a in anns], np.float64)
        frame.scores = np.where(order >= 0, scores[:, np.maximum(order, 0)], np.nan)
    if any("score" in a for a in anns):
        frame.box_scores = np.array([a.get("score", 1.0) for a in anns], np.float64)
    if all("bbox_head" in a for a in anns):
        head = np.array([a["bbox_head"] for a in anns], np.float64).reshape(n, 4)
        frame.head_boxes = np.concatenate([head[:, :2], head[:, :2] + head[:, 2:]], 1)
    return frame
