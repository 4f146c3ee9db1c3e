"""The precision file of a model: its verified FP32 ONNX export, the FP16 conversion of it, or its calibrated
INT8 Q/DQ version, each made once and cached in ``engines/`` under names derived from the model record.

The steps, in the order the TensorRT samples take them: ``cached_onnx`` (export, ``compile.export``) →
``calibration`` (``compile.calibrate``) → ``precision_onnx`` (``compile.quantize``) → a TensorRT engine
(``compile.tensorrt``) where TensorRT runs.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx
import torch

from posetrack.compile.cache import calib_dir, digest, engine_dir, model_key, save_verified
from posetrack.compile.calibrate import CALIB_SEED, DEFAULT_METHOD, Calibration, Manifest, collect_ranges, load_calibration
from posetrack.compile.export import ExportResult, export_onnx
from posetrack.compile.fp16 import convert_fp16
from posetrack.compile.quantize import ORT_CPU, QdqFlavour, quantize_qdq
from posetrack.errors import PosetrackError
from posetrack.models import calibrate_command
from posetrack.models.records import DetectorRecord, ModelRecord, PoseRecord

CalibrationInputs = Callable[[int, Path | None], np.ndarray]


@dataclass(frozen=True)
class ExportedModel:
    """A network's verified FP32 ONNX export and what deriving its FP16 / INT8 versions needs.

    Attributes:
        record: the model record (stem, cache key, input size, calibration folder and count, output name).
        module: its PyTorch network, exported on first use of ``onnx``; None for a model that is an ONNX file.
        calibration_inputs: ``(count, images folder or video, or None) → (count, 3, H, W)`` float32 network inputs
            made by the model's own preprocessing.
        source: for a model that is an ONNX file, ``() → the file`` (fetched on first use).
    """

    record: ModelRecord
    module: torch.nn.Module | None
    calibration_inputs: CalibrationInputs
    source: Callable[[], Path] | None = None

    @functools.cached_property
    def onnx(self) -> Path:
        """The FP32 ``.onnx`` file, exported (or found in the cache) on first use: the PyTorch backend never needs
        it, so a GPU run does not pay for an export."""
        if self.module is None:
            assert self.source is not None, "an ExportedModel needs a module or a source"
            return self.source()
        return cached_onnx(self.module, self.record)

    @property
    def name(self) -> str:
        return self.record.stem

    @property
    def key(self) -> str:
        return model_key(self.record)

    @property
    def output_name(self) -> str:
        return self.record.output_name


def onnx_path(record: ModelRecord) -> Path:
    """Where the verified FP32 export of ``record`` is cached (``engines/<stem>-<key>.onnx``)."""
    return engine_dir() / f"{record.stem}-{model_key(record)}.onnx"


def cached_onnx(module: torch.nn.Module, record: ModelRecord) -> Path:
    """The ONNX export of ``module`` (the network of ``record``), made once per cache key and reused."""
    path = onnx_path(record)
    if path.is_file():
        try:
            onnx.checker.check_model(str(path))
            return path
        except onnx.checker.ValidationError:
            path.unlink()  # a damaged cache entry is rebuilt, never used
    # The first run of a model spends a while here (tens of seconds on a CPU): say why, and that it is once.
    print(f"posetrack: preparing {record.name} for ONNX Runtime once (export and parity check) into {engine_dir()}",
          file=sys.stderr, flush=True)
    return verified_export(module, record).path


def verified_export(module: torch.nn.Module, record: ModelRecord, device: str = "cpu") -> ExportResult:
    """Export ``module`` to the cache file of ``record`` now, with the parity check's reference on ``device``."""
    return export_onnx(module, onnx_path(record), record.input_size, output_name=record.output_name,
                       atol=record.export_atol, device=device)


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
    if images is None and not record.synthetic_calibration:
        raise PosetrackError(f"{record.name}: INT8 needs a calibration on real frames (synthetic ones would set the "
                             f"ranges for another world) and none was made yet: run `{_calibrate(record)}` "
                             "once (images or a video like yours)")
    inputs = model.calibration_inputs(count or record.calib_count, images)
    source = "synthetic frames" if images is None else f"frames of {images}"
    print(f"posetrack: calibrating {record.name} for INT8 once ({len(inputs)} {source}) into {folder}",
          file=sys.stderr, flush=True)
    ranges = collect_ranges(model.onnx, inputs, progress=progress, device=device)
    manifest = Manifest(record.calib_folder, model.key, prep, "synthetic" if images is None else str(images),
                        CALIB_SEED if images is None else None, len(inputs), len(ranges["max"]),
                        default_method or DEFAULT_METHOD)
    result = Calibration(manifest, ranges)
    result.save(folder)
    return result


def _calibrate(record: ModelRecord) -> str:
    if isinstance(record, (PoseRecord, DetectorRecord)):
        return calibrate_command(record)
    return f"posetrack calibrate --model {record.task} ... --images DIR_OR_VIDEO"


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
        raise PosetrackError(f"precision {precision!r}: ONNX files come in fp32, fp16 and int8")
    if not path.is_file():
        save_verified(make(), path, lambda draft: onnx.checker.check_model(str(draft)))
    return path
