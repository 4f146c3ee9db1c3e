"""The precision file of a model: its verified FP32 ONNX export, the FP16 conversion of it, or its calibrated
INT8 Q/DQ version, each made once and cached in ``engines/`` under names derived from the model record.

The steps, in the order the TensorRT samples take them: ``cached_onnx`` (export, ``compile.export``) →
``calibration`` (``compile.calibrate``) → ``precision_onnx`` (``compile.quantize``) → a TensorRT engine
(``compile.tensorrt``) where TensorRT runs.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from posetrack.compile.cache import calib_dir, digest, engine_dir, model_key, save_verified
from posetrack.compile.calibrate import CALIB_SEED, DEFAULT_METHOD, Calibration, Manifest, collect_ranges, load_calibration
from posetrack.compile.export import export_onnx
from posetrack.compile.quantize import ORT_CPU, QdqFlavour, convert_fp16, quantize_qdq
from posetrack.errors import PosetrackError
from posetrack.models.zoo import ModelRecord

PRECISIONS = ("fp32", "fp16", "int8")

CalibrationInputs = Callable[[int, Path | None], np.ndarray]


@dataclass(frozen=True)
class ExportedModel:
    """A network's verified FP32 ONNX export and what deriving its FP16 / INT8 versions needs.

    Attributes:
        record: the model record (stem, cache key, calibration folder and count, output name).
        export: ``() → the FP32 .onnx file`` (``cached_onnx``), called the first time ``onnx`` is read: the PyTorch
            backend never needs the file, so a GPU run does not pay for an export.
        calibration_inputs: ``(count, images folder or None) → (count, 3, H, W)`` float32 network inputs made by
            the model's own preprocessing.
    """

    record: ModelRecord
    export: Callable[[], Path]
    calibration_inputs: CalibrationInputs

    @functools.cached_property
    def onnx(self) -> Path:
        """The FP32 ``.onnx`` file, exported (or found in the cache) on first use."""
        return self.export()

    @property
    def name(self) -> str:
        return self.record.stem

    @property
    def key(self) -> str:
        return model_key(self.record)

    @property
    def output_name(self) -> str:
        return self.record.output_name


def cached_onnx(module: torch.nn.Module, record: ModelRecord, input_size: tuple[int, int],
                atol: float = 1e-4) -> Path:
    """The ONNX export of ``module`` (the network of ``record``), made once per cache key and reused; ``atol`` is
    the export's parity bar."""
    path = engine_dir() / f"{record.stem}-{model_key(record)}.onnx"
    if path.is_file():
        try:
            onnx.checker.check_model(str(path))
            return path
        except onnx.checker.ValidationError:
            path.unlink()  # a damaged cache entry is rebuilt, never used
    return export_onnx(module, path, input_size, output_name=record.output_name, atol=atol).path


def calibration(model: ExportedModel, count: int | None = None, images: Path | None = None,
                recalibrate: bool = False, progress: bool = True, default_method: str | None = None,
                device: str = "cpu") -> Calibration:
    """The model's calibration from ``calib/``, made on first use (synthetic set) or when ``recalibrate`` (the FP32
    model run by ONNX Runtime on ``device``); a new one records ``default_method`` (None:
    ``compile.calibrate.DEFAULT_METHOD``) as the ranges INT8 models use.

    Raises:
        CalibrationError: a cached calibration belongs to another model or preprocessing (and not ``recalibrate``).
    """
    record = model.record
    folder = calib_dir() / record.calib_folder
    prep = digest(record.preprocessing())
    if not recalibrate and (folder / "manifest.json").is_file():
        return load_calibration(folder, model.key, prep)
    inputs = model.calibration_inputs(count or record.calib_count, images)
    ranges = collect_ranges(model.onnx, inputs, progress=progress, device=device)
    manifest = Manifest(record.calib_folder, model.key, prep, "synthetic" if images is None else str(images),
                        CALIB_SEED if images is None else None, len(inputs), len(ranges["max"]),
                        default_method or DEFAULT_METHOD)
    result = Calibration(manifest, ranges)
    result.save(folder)
    return result


def precision_onnx(model: ExportedModel, precision: str, flavour: QdqFlavour = ORT_CPU) -> Path:
    """The ONNX file of ``model`` at ``precision``: the FP32 export, its FP16 conversion, or its INT8 Q/DQ
    version in ``flavour`` from the model's calibration (made on first use); derived files are cached in
    ``engines/`` under names that include the ranges' digest."""
    make: Callable[[], onnx.ModelProto]
    if precision == "fp32":
        return model.onnx
    if precision == "fp16":
        path = engine_dir() / f"{model.name}-{model.key}-fp16.onnx"
        make = lambda: convert_fp16(onnx.load(str(model.onnx)))  # noqa: E731
    elif precision == "int8":
        calib = calibration(model)
        path = engine_dir() / f"{model.name}-{model.key}-int8-{flavour.name}-{calib.key()}.onnx"
        make = lambda: quantize_qdq(onnx.load(str(model.onnx)), calib.method_ranges(), flavour)  # noqa: E731
    else:
        raise PosetrackError(f"unknown precision {precision!r}; use {', '.join(PRECISIONS)}")
    if not path.is_file():
        save_verified(make(), path, lambda draft: onnx.checker.check_model(str(draft)))
    return path
