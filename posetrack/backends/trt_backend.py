"""Running a deserialized TensorRT engine on torch CUDA tensors.

``binding_plan`` reads the engine's I/O tensors once; each call sets the input shapes, allocates (or reuses) the
outputs, binds every tensor address and enqueues ``execute_async_v3`` on a torch CUDA stream. ``run_torch`` keeps
everything on the device (the pipelined GPU runtime); ``run`` is the numpy face of the backend protocol (one
host→device copy in, one device→host copy out, outside the engine call). ``bind_and_enqueue`` and
``output_shapes`` only need objects with TensorRT's method names, so they are tested with a fake engine here.
Each ``TrtBackend`` owns its execution context and CUDA stream, so the detector and pose stages of the pipelined
runtime (one thread each) run their engines on separate streams and overlap on the GPU.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from posetrack.device.buckets import chunks, pinned_view
from posetrack.errors import PosetrackError

if TYPE_CHECKING:  # torch (CUDA) is imported where a backend is made, not when this module loads
    import torch

# TensorRT DataType names → torch dtype names (the types our engines use at their I/O).
_TORCH_DTYPES = {"FLOAT": "float32", "HALF": "float16", "BF16": "bfloat16", "INT8": "int8", "INT32": "int32",
                 "INT64": "int64", "BOOL": "bool", "UINT8": "uint8"}


@dataclass(frozen=True)
class IoTensor:
    """One engine I/O tensor: name, whether it is an input, torch dtype name, shape (-1 = dynamic)."""

    name: str
    is_input: bool
    dtype: str
    shape: tuple[int, ...]


def binding_plan(engine) -> list[IoTensor]:
    """The engine's I/O tensors in engine order (``num_io_tensors`` / ``get_tensor_name`` / ``_mode`` /
    ``_dtype`` / ``_shape``)."""
    plan = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        mode = engine.get_tensor_mode(name)
        dtype = getattr(engine.get_tensor_dtype(name), "name", str(engine.get_tensor_dtype(name)))
        if dtype not in _TORCH_DTYPES:
            raise PosetrackError(f"engine tensor {name}: unsupported I/O type {dtype}")
        plan.append(IoTensor(name, getattr(mode, "name", str(mode)) == "INPUT", _TORCH_DTYPES[dtype],
                             tuple(engine.get_tensor_shape(name))))
    return plan


def engine_max_batch(engine, plan: list[IoTensor]) -> int:
    """The largest batch the engine takes: a static export's own batch (its input shape is fixed, and it has no
    profile to ask), else its optimisation profile's largest."""
    first = next(t for t in plan if t.is_input)
    if first.shape and first.shape[0] > 0:
        return int(first.shape[0])
    return int(engine.get_tensor_profile_shape(first.name, 0)[2][0])


def output_shapes(context, plan: list[IoTensor], input_shapes: Mapping[str, tuple[int, ...]]) -> dict[str, tuple[int, ...]]:
    """Set every input shape on ``context`` and read back the output shapes.

    Raises:
        PosetrackError: an input is missing or outside the engine's optimisation profile.
    """
    for t in plan:
        if not t.is_input:
            continue
        if t.name not in input_shapes:
            raise PosetrackError(f"engine input {t.name} not given")
        if not context.set_input_shape(t.name, tuple(input_shapes[t.name])):
            raise PosetrackError(f"engine input {t.name}: shape {tuple(input_shapes[t.name])} is outside the "
                                 "engine's optimisation profile (rebuild with a larger --max-batch)")
    return {t.name: tuple(context.get_tensor_shape(t.name)) for t in plan if not t.is_input}


def bind_and_enqueue(context, plan: list[IoTensor], tensors: Mapping[str, torch.Tensor], stream_handle: int) -> None:
    """Bind every I/O tensor (contiguous, exact dtype) by address and enqueue the engine on ``stream_handle``."""
    for t in plan:
        x = tensors[t.name]
        if str(x.dtype).removeprefix("torch.") != t.dtype or not x.is_contiguous():
            raise PosetrackError(f"engine tensor {t.name}: needs a contiguous {t.dtype} tensor, got {x.dtype}")
        if not context.set_tensor_address(t.name, x.data_ptr()):
            raise PosetrackError(f"engine tensor {t.name}: TensorRT refused its address")
    if not context.execute_async_v3(stream_handle):
        raise PosetrackError("TensorRT failed to enqueue the engine")


class TrtBackend:
    """A TensorRT engine behind the backend protocol.

    Args:
        engine: a deserialized ``ICudaEngine``. runtime: the ``trt.Runtime`` that made it (kept alive with it).
        name: backend description. device: CUDA device.
    """

    def __init__(self, engine, runtime=None, name: str = "trt", device: str = "cuda"):
        import torch

        self.engine, self._runtime, self.name = engine, runtime, name
        self.device = torch.device(device)
        self.context = engine.create_execution_context()  # one per backend: contexts are not thread-safe
        self.stream = torch.cuda.Stream(device=self.device)  # never the legacy default stream
        self.plan = binding_plan(engine)
        self.input_names = tuple(t.name for t in self.plan if t.is_input)
        self.output_names = tuple(t.name for t in self.plan if not t.is_input)
        self._outputs: dict[str, torch.Tensor] = {}
        self._staging: dict[str, torch.Tensor] = {}  # pinned host buffers by role and tensor name
        self.max_batch = engine_max_batch(engine, self.plan)

    def run_torch(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Device tensors in, device tensors out; ordered on this backend's stream (the caller's stream waits on
        it; no host synchronisation). Output tensors are reused between calls of the same shape: copy them if you
        keep them. A batch beyond the profile's largest runs in chunks (then the outputs are fresh tensors)."""
        import torch

        n = len(inputs[self.input_names[0]])
        if n > self.max_batch:
            parts = [{k: v.clone() for k, v in self._enqueue({name: t[s] for name, t in inputs.items()}).items()}
                     for s in chunks(n, self.max_batch)]
            return {k: torch.cat([p[k] for p in parts]) for k in self.output_names}
        return self._enqueue(inputs)

    def _enqueue(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        import torch

        shapes = output_shapes(self.context, self.plan, {n: tuple(inputs[n].shape) for n in self.input_names})
        for name, shape in shapes.items():
            out = self._outputs.get(name)
            if out is None or tuple(out.shape) != shape:
                dtype = getattr(torch, next(t.dtype for t in self.plan if t.name == name))
                self._outputs[name] = torch.empty(shape, dtype=dtype, device=self.device)
        self.stream.wait_stream(torch.cuda.current_stream(self.device))  # inputs were produced there
        for name in self.input_names:
            inputs[name].record_stream(self.stream)
        bind_and_enqueue(self.context, self.plan, {**inputs, **self._outputs}, self.stream.cuda_stream)
        torch.cuda.current_stream(self.device).wait_stream(self.stream)
        return {n: self._outputs[n] for n in self.output_names}

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Host arrays in and out through pinned staging buffers, every copy and the engine on this backend's
        stream (asynchronous copies need pinned memory; one synchronisation at the end)."""
        import torch

        with torch.cuda.stream(self.stream):
            dev = {}
            for name in self.input_names:
                host = self._pinned(f"in:{name}", inputs[name].shape, torch.from_numpy(inputs[name][:0]).dtype)
                host.numpy()[...] = inputs[name]
                dev[name] = host.to(self.device, non_blocking=True)
            outs = self.run_torch(dev)
            staged = {n: self._pinned(f"out:{n}", t.shape, t.dtype).copy_(t, non_blocking=True) for n, t in outs.items()}
        self.stream.synchronize()
        return {n: t.numpy().copy() for n, t in staged.items()}  # the staging buffers are reused next call

    def _pinned(self, key: str, shape, dtype):
        """A pinned staging buffer of ``shape`` sized once for the profile's largest batch (``pinned_view``); ``run``
        synchronises the stream before it is written again."""
        return pinned_view(self._staging, key, shape, dtype, self.max_batch)
