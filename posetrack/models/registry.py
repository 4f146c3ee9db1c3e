"""The registry of models, as timm's: every model posetrack knows is one named record (``models.records``; the
built-in ones are ``models.entries``), and a user's file becomes a record on the spot (``models.user_files``).

``list_models(task)`` names them, ``get_model(name)`` returns a record (a registered name or alias, or a path),
``register_model(record)`` adds one (tests, and users with models of their own). ``is_model_file`` is the one
place that decides whether a name is a file.
"""

from __future__ import annotations

import shlex
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

from posetrack.errors import PosetrackError, did_you_mean
from posetrack.models.entries import builtin
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.models.user_files import checkpoint_pose, onnx_detector
from posetrack.transforms import Preprocess
from posetrack.types import Size

CHECKPOINT_SUFFIXES = (".pth", ".pt")
ONNX_SUFFIXES = (".onnx",)

_REGISTRY: dict[str, Record] = {}


def register_model(record: Record, overwrite: bool = False) -> Record:
    """Add ``record`` under its name (and aliases, within its task); returns it."""
    if record.name in _REGISTRY and not overwrite:
        raise ValueError(f"a model named {record.name!r} is registered already (overwrite=True replaces it)")
    _REGISTRY[record.name] = record
    return record


def unregister_model(name: str) -> None:
    _REGISTRY.pop(name, None)


for _record in builtin():
    register_model(_record)


def list_models(task: str | None = None) -> list[str]:
    """Registered model names (of ``task``: ``"pose"`` or ``"detector"``), in registration order."""
    return [n for n, r in _REGISTRY.items() if task is None or r.task == task]


def _by_name(name: str, task: str | None) -> Record | None:
    record = _REGISTRY.get(name)
    if record is not None and (task is None or record.task == task):
        return record
    return next((r for r in _REGISTRY.values() if name in r.aliases and (task is None or r.task == task)), None)


def is_model_file(name: str | Path) -> bool:
    """Whether ``name`` means a file rather than a registered model: a checkpoint or ONNX suffix, or an existing
    path that is no registered name."""
    if isinstance(name, str) and name in _REGISTRY:
        return False
    path = Path(name)
    return path.suffix.lower() in CHECKPOINT_SUFFIXES + ONNX_SUFFIXES or path.exists()


def get_model(name: str | Path, task: str | None = None) -> Record:
    """The record of a registered model (name or alias) of ``task``, or of a file with default settings: a
    checkpoint (``.pth``/``.pt``: an HRNet whose width is read from its weights) or an ONNX detector (``.onnx``, read
    by what it is). ``pose_model`` and ``detector_model`` take a file's settings too.

    Raises:
        PosetrackError: no such model or file (naming the closest registered names).
    """
    if isinstance(name, str):
        found = _by_name(name, task)
        if found is not None:
            return found
    if is_model_file(name):
        path = Path(name)
        if not path.is_file():
            raise PosetrackError(f"{path}: no such model file")
        return onnx_detector(path) if path.suffix.lower() in ONNX_SUFFIXES else checkpoint_pose(path)
    names = list_models(task)
    hint = did_you_mean(str(name), names + [a for n in names for a in _REGISTRY[n].aliases], 0.5, 3)
    hint = hint or f"; `posetrack models` lists the {len(names)} known"
    raise PosetrackError(f"unknown {task or ''} model {str(name)!r}{hint}".replace("  ", " "))


R = TypeVar("R", PoseRecord, DetectorRecord)


def _of_task(record: Record, name: str | Path, kind: type[R], what: str) -> R:
    if not isinstance(record, kind):
        raise PosetrackError(f"{name}: a {record.task} model, not {what}")
    return record


def pose_model(name: str | Path, input_size: Size | None = None, layout: str | None = None,
               config: str | None = None) -> PoseRecord:
    """The pose model ``name`` names. For a checkpoint file: its ``input_size``, joints ``layout`` and HRNet
    ``config`` (None: from the file); a registered model takes only its own input size."""
    if is_model_file(name) and Path(name).suffix.lower() in CHECKPOINT_SUFFIXES:
        return checkpoint_pose(Path(name), input_size, layout, config)
    record = _of_task(get_model(name, "pose"), name, PoseRecord, "a pose model")
    if input_size is not None and input_size != record.input_size:
        raise PosetrackError(f"--pose-input {input_size.hxw}: {record.name} takes {record.input_size.hxw} "
                             "(height x width)")
    return record


def detector_model(name: str | Path, preprocess: Preprocess | None = None, imgsz: Size | None = None,
                   person_class: int | None = None) -> DetectorRecord:
    """The detector ``name`` names, with the command line's ``preprocess``, input size ``imgsz`` and
    ``person_class`` (None: the model's; for an ONNX file, read from what it is)."""
    if is_model_file(name) and Path(name).suffix.lower() in ONNX_SUFFIXES:
        return onnx_detector(Path(name), preprocess, imgsz, person_class)
    record = _of_task(get_model(name, "detector"), name, DetectorRecord, "a person detector")
    if preprocess is not None:
        record = replace(record, preprocess=preprocess)
    if person_class is not None:
        record = replace(record, person_class=person_class)
    if imgsz is not None and imgsz != record.input_size:
        if record.weights is None:
            raise PosetrackError(f"--imgsz {imgsz.hxw}: {record.name} is an export of fixed input "
                                 f"{record.input_size.hxw} (height x width)")
        if imgsz.width % 32 or imgsz.height % 32:
            raise PosetrackError(f"--imgsz {imgsz.hxw}: the sides must be multiples of 32")
        record = replace(record, input_size=imgsz)
    return record


def model_argument(record: Record) -> str:
    """How a command line names ``record``: its registered name, or its file."""
    if _REGISTRY.get(record.name) is record:
        return record.name
    return str(record.source) if isinstance(record.source, Path) else record.name


def calibrate_command(record: Record) -> str:
    """The ``posetrack calibrate`` command that makes ``record``'s INT8 calibration on a user's frames (a user's file
    named by its path, so the command works as printed)."""
    flag = "pose-model" if record.task == "pose" else "detector"
    return (f"posetrack calibrate --model {record.task} --{flag} {shlex.quote(model_argument(record))} "
            "--images DIR_OR_VIDEO")


DEMO_POSE = pose_model("pose_demo")
DEMO_DETECTOR = detector_model("detector_demo")
