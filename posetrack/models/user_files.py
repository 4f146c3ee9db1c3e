"""Records for a user's own files: an HRNet checkpoint (official or MMPose format) and an ONNX person detector.

An ONNX detector is read by what it is, never guessed. Each setting comes from the first of: the command line,
the file's sidecar (``models.sidecar``), the file itself (its input shape; its outputs, ``models.layouts``), and
the family its layout belongs to; what none of them says is asked for in one line. How each setting was chosen is
kept in the record (``DetectorRecord.why``) and said once at start-up (``choice_line``).
"""

from __future__ import annotations

import re
from pathlib import Path

from posetrack.errors import PosetrackError
from posetrack.models.checkpoints import read_state_dict
from posetrack.models.hrnet import CONFIGS
from posetrack.models.layouts import LAYOUT_PREPROCESS, recognise
from posetrack.models.onnx_files import OnnxSignature, read_signature, run_blank
from posetrack.models.preprocess import DETECTOR_PREPROCESS, describe_preprocess
from posetrack.models.records import DetectorRecord, PoseRecord
from posetrack.models.sidecar import read_sidecar
from posetrack.skeleton import COCO17, POSETRACK17, SKELETONS
from posetrack.transforms import Preprocess
from posetrack.types import Size

DEFAULT_CONF = 0.3  # a user's detector without a stated threshold (the real YOLOX-nano finds pedestrians well at it)
PERSON_CLASS = 0  # person in COCO's 80 classes, which almost every exported detector is trained on


# ------------------------------------------------------------------------------------------ checkpoints


def checkpoint_pose(path: Path, input_size: Size | None = None, skeleton: str | None = None,
                    config: str | None = None) -> PoseRecord:
    """The record of a user's HRNet checkpoint (official or MMPose format). The width (``w32`` / ``w48``) is read
    from the weights unless ``config`` says; the input defaults to the size in the file name (``..._384x288...``),
    else 256x192; the joints to COCO-17, or PoseTrack-17 when the name says ``posetrack``."""
    if not path.is_file():
        raise PosetrackError(f"{path}: pose weights not found")
    name = path.name.lower()
    if input_size is None:
        found = sizes_in_name(name)
        input_size = found[0] if found else Size(192, 256)
    layout = SKELETONS[skeleton] if skeleton else (POSETRACK17 if "posetrack" in name else COCO17)
    return PoseRecord(path.stem, config or _width_of(path), input_size, layout, path, page=str(path))


def sizes_in_name(name: str) -> list[Size]:
    """Input sizes written in a file name as checkpoint names write them (``..._384x288...``: height x width)."""
    return [Size(int(w), int(h)) for h, w in re.findall(r"(?<!\d)(\d{3})x(\d{3})(?!\d)", name)]


def _width_of(path: Path) -> str:
    """The HRNet config whose branch-0 width the checkpoint's first transition has."""
    state = read_state_dict(path)
    weight = state.get("transition1.0.0.weight")
    width = int(weight.shape[0]) if weight is not None else None
    for config, extra in CONFIGS.items():
        if extra["STAGE2"]["NUM_CHANNELS"][0] == width and "STEM_INPLANES" not in extra:
            return config
    raise PosetrackError(f"{path}: not an HRNet-W32/W48 checkpoint (first-branch width {width}); name its config "
                         "with --pose-config")


# ------------------------------------------------------------------------------------------ ONNX detectors


def onnx_detector(path: Path, preprocess: Preprocess | None = None, input_size: Size | None = None,
                  person_class: int | None = None) -> DetectorRecord:
    """The record of a user's ONNX detector, every setting read from what the file is (see the module docstring);
    ``preprocess``, ``input_size`` and ``person_class`` are the command line's (None: not given).

    Raises:
        PosetrackError: a missing or unreadable file or sidecar, an input size that contradicts the file, or
            preprocessing nothing states (an MMDeploy export without its pipeline.json), in one line.
    """
    if not path.is_file():
        raise PosetrackError(f"{path}: detector ONNX not found")
    side = read_sidecar(path)
    signature = read_signature(path)
    why: dict[str, str] = {}
    size = _input_size(path, signature, input_size, side.input_size, side.source, why)
    layout = side.layout if side.layout not in (None, "auto") else None
    if layout is not None:
        why["layout"] = side.source
    else:
        layout, why["layout"] = _layout(path, signature, size)
    prep = _preprocess(path, layout, preprocess, side.preprocess, side.source, why)
    person = person_class if person_class is not None else side.person_class
    why["person_class"] = ("--detector-class" if person_class is not None else side.source if person is not None
                           else "default: person in COCO's classes")
    conf = side.conf if side.conf is not None else DEFAULT_CONF
    why["conf_threshold"] = side.source if side.conf is not None else "default"
    if signature.batch is not None:
        why["batch"] = "a static export"
    return DetectorRecord(path.stem, size, onnx=path, preprocess=prep, layout=layout,
                          person_class=PERSON_CLASS if person is None else person, conf_threshold=conf,
                          batch=signature.batch, why=tuple(why.items()), page=str(path))


def _input_size(path: Path, signature: OnnxSignature, given: Size | None, stated: Size | None, source: str,
                why: dict[str, str]) -> Size:
    fixed = signature.input_size
    for size, reason in ((given, "--imgsz"), (stated, source)):
        if size is not None:
            if fixed is not None and size != fixed:
                raise PosetrackError(f"{path}: an export of fixed input {fixed.hxw} (height x width); {reason} says "
                                     f"{size.hxw}")
            why["input_size"] = reason
            return size
    if fixed is None:
        raise PosetrackError(f"{path}: its input has no fixed size; give one with --imgsz (height x width)")
    why["input_size"] = "the file's"
    return fixed


def _layout(path: Path, signature: OnnxSignature, size: Size) -> tuple[str, str]:
    """The layout the outputs show (shapes alone where they are fixed and unambiguous, else a blank input's outputs)
    and the evidence."""
    import numpy as np

    if signature.static_outputs:
        shapes = [tuple(int(d) for d in s) for s in signature.outputs]  # type: ignore[arg-type]
        try:
            layout, evidence = recognise([np.zeros(s, np.float32) for s in shapes], size)
        except PosetrackError as exc:
            raise PosetrackError(f"{path}: {exc}") from None
        if layout not in ("yolov5", "yolox-raw"):  # only these two need the values to be told apart
            return layout, f"read from its {evidence}"
    try:
        layout, evidence = recognise(run_blank(path, signature, size), size)
    except PosetrackError as exc:
        raise PosetrackError(f"{path}: {exc}") from None
    return layout, f"read from its {evidence}"


def _preprocess(path: Path, layout: str, given: Preprocess | None, stated: Preprocess | None, source: str,
                why: dict[str, str]) -> Preprocess:
    if given is not None:
        why["preprocess"] = "--detector-preprocess"
        return given
    if stated is not None:
        why["preprocess"] = source
        return stated
    if layout in LAYOUT_PREPROCESS:
        why["preprocess"] = f"how {layout} exports are made"
        return DETECTOR_PREPROCESS[LAYOUT_PREPROCESS[layout]]
    raise PosetrackError(f"{path}: an MMDeploy end2end export without its pipeline.json, so its preprocessing cannot "
                         "be read: give --detector-preprocess rtmdet (RTMDet: BGR, mean/std) or yolox (YOLOX: raw BGR "
                         "0-255), or put its pipeline.json beside it")


def choice_line(record: DetectorRecord, conf: float | None = None, iou: float | None = None) -> str:
    """What a user's detector file is taken to be, and why, in one line (said once at start-up); ``conf`` and
    ``iou``: the command line's, which override the record's."""
    why = dict(record.why)
    conf_why = "--conf" if conf is not None else why.get("conf_threshold", "default")
    parts = [f"layout {record.layout} ({why.get('layout', 'its record')})",
             f"preprocessing {describe_preprocess(record.preprocess)} ({why.get('preprocess', 'its record')})",
             f"input {record.input_size.hxw} ({why.get('input_size', 'its record')})",
             f"class {record.person_class} ({why.get('person_class', 'its record')})",
             f"conf {conf if conf is not None else record.conf_threshold:g} ({conf_why})"]
    if iou is not None:
        parts.append(f"NMS IoU {iou:g} (--iou)")
    if record.batch is not None:
        parts.append(f"batch {record.batch} ({why.get('batch', 'a static export')}: one frame at a time)")
    return f"detector {record.page or record.name}: " + ", ".join(parts)
