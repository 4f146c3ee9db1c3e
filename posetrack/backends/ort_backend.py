"""ONNX Runtime execution of an ONNX file: CPU here; CUDA / TensorRT execution providers when installed."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import onnxruntime as ort

from posetrack.backends.base import check_inputs
from posetrack.errors import PosetrackError

# Preferred order; only those the installed onnxruntime build offers are used.
PROVIDER_PREFERENCE = ("TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider")


def default_providers() -> list[str]:
    available = set(ort.get_available_providers())
    return [p for p in PROVIDER_PREFERENCE if p in available]


Provider = str | tuple[str, dict[str, object]]


def device_providers(device: str) -> list[Provider]:
    """ONNX Runtime's providers for ``cpu`` or ``cuda:N`` (the CUDA provider on that device, the CPU for the ops it
    lacks).

    Raises:
        PosetrackError: a CUDA device asked for where this onnxruntime build has no CUDA provider.
    """
    if device == "cpu":
        return ["CPUExecutionProvider"]
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        raise PosetrackError(f"--device {device}: this onnxruntime has no CUDA provider (pip install "
                             "onnxruntime-gpu), so ONNX Runtime runs on the CPU here: use --device cpu")
    index = int(device.partition(":")[2] or 0)
    return [("CUDAExecutionProvider", {"device_id": index}), "CPUExecutionProvider"]


class OrtBackend:
    """An ``onnxruntime.InferenceSession`` behind the backend protocol.

    Args:
        model: path to an ONNX file, or its serialized bytes.
        providers: execution providers in priority order; default: best available (``default_providers``).
        threads: intra-op threads (default: ONNX Runtime's choice, one per core).
        spin: idle intra-op threads busy-wait for the next operator (fastest when the session has the cores to
            itself, wasteful when other threads need them).
        optimize: let ONNX Runtime rewrite the graph (fusions, constant folding). False runs it as written: the
            way to measure the accuracy of a float16 Q/DQ graph (the TensorRT INT8 flavour) on the CPU, which
            ONNX Runtime 1.32's CPU rewrites degrade (relative heatmap error 0.146 instead of 0.011 on the tests'
            tiny HRNet).
    """

    def __init__(self, model: str | Path | bytes, providers: Sequence[Provider] | None = None, threads: int | None = None,
                 spin: bool = True, optimize: bool = True):
        opts = ort.SessionOptions()
        opts.graph_optimization_level = (ort.GraphOptimizationLevel.ORT_ENABLE_ALL if optimize
                                         else ort.GraphOptimizationLevel.ORT_DISABLE_ALL)
        if threads:
            opts.intra_op_num_threads = threads
        if not spin:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        source = model if isinstance(model, bytes) else str(model)
        try:
            self.session = ort.InferenceSession(source, opts, providers=list(providers or default_providers()))
        except Exception as exc:  # ORT raises its own exception types for unreadable/invalid models
            where = "model bytes" if isinstance(model, bytes) else str(model)
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise PosetrackError(f"{where}: ONNX Runtime cannot load it ({first})") from None
        self.input_names = tuple(i.name for i in self.session.get_inputs())
        self.input_shape = tuple(self.session.get_inputs()[0].shape)  # symbolic dimensions are strings
        self.output_names = tuple(o.name for o in self.session.get_outputs())
        self.name = f"ort:{self.session.get_providers()[0]}"
        self.device = "cpu" if self.session.get_providers()[0] == "CPUExecutionProvider" else "cuda:0"

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        check_inputs(self, inputs)
        outs = self.session.run(list(self.output_names), {n: inputs[n] for n in self.input_names})
        return dict(zip(self.output_names, outs))
