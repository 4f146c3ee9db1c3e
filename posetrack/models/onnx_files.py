"""What an ONNX network file says about itself: its input (name, fixed or dynamic batch, fixed or dynamic size) and
its outputs' shapes, and, where the shapes alone cannot tell the layout, its outputs for a blank input.

Most exported detectors are static (MMDeploy's SDK exports, YOLOX's and many Ultralytics exports fix the batch at 1
and the input size); everything downstream reads the fixed batch from here: calibration feeds it, TensorRT profiles
take it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import onnx

from posetrack.errors import PosetrackError
from posetrack.types import Size


@dataclass(frozen=True)
class OnnxSignature:
    """The input and outputs of an ONNX file.

    Attributes:
        input_name: its single input. batch: the input's fixed batch, or None (dynamic).
        channels: the input's fixed channel count, or None. input_size: its fixed (width, height), or None.
        outputs: each output's shape, a dimension None where it is symbolic.
    """

    input_name: str
    batch: int | None
    channels: int | None
    input_size: Size | None
    outputs: tuple[tuple[int | None, ...], ...]

    @property
    def static_outputs(self) -> bool:
        """Whether every output dimension is fixed (the layout can be read without running the network)."""
        return all(d is not None for shape in self.outputs for d in shape)


def _dims(value: onnx.ValueInfoProto) -> tuple[int | None, ...]:
    return tuple(d.dim_value if d.HasField("dim_value") and d.dim_value > 0 else None
                 for d in value.type.tensor_type.shape.dim)


def read_signature(path: Path) -> OnnxSignature:
    """The signature of the ONNX file at ``path`` (weights are not loaded).

    Raises:
        PosetrackError: not a readable ONNX file, or not one (N, C, H, W) input.
    """
    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError and friends for damaged files
        raise PosetrackError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    initializers = {i.name for i in graph.initializer}
    inputs = [i for i in graph.input if i.name not in initializers]
    if len(inputs) != 1 or len(_dims(inputs[0])) != 4:
        shapes = [list(_dims(i)) for i in inputs]
        raise PosetrackError(f"{path}: expected one image input (N, C, H, W), found {shapes}")
    batch, channels, h, w = _dims(inputs[0])
    size = Size(w, h) if w and h else None
    return OnnxSignature(inputs[0].name, batch, channels, size, tuple(_dims(o) for o in graph.output))


def run_blank(path: Path, signature: OnnxSignature, input_size: Size) -> list[np.ndarray]:
    """The outputs of the network for one blank (all-zero) input of ``input_size``, through ONNX Runtime on the CPU:
    what the shapes of a dynamic export are, and what tells the raw and decoded heads of one shape apart."""
    session = _session(path)
    blank = np.zeros((signature.batch or 1, signature.channels or 3, input_size.height, input_size.width), np.float32)
    try:
        return list(session.run(None, {signature.input_name: blank}))
    except Exception as exc:  # ONNX Runtime's errors are not a documented set: say which file and why, in one line
        raise PosetrackError(f"{path}: ONNX Runtime cannot run it on a {input_size.hxw} input ({_first_line(exc)})"
                             ) from None


def check_runnable(path: Path) -> None:
    """Raise ``PosetrackError`` unless ONNX Runtime can load the file (a download is kept only then)."""
    _session(path)


def _session(path: Path):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # errors only: the one line below says what went wrong
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
    except Exception as exc:  # ONNX Runtime's errors are not a documented set
        raise PosetrackError(f"{path}: ONNX Runtime cannot load it ({_first_line(exc)})") from None


def _first_line(exc: Exception, limit: int = 200) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:limit] if text else type(exc).__name__
