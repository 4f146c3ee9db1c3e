"""PyTorch execution of an ``nn.Module``: the source of truth the compiled backends are checked against on the
CPU, and the GPU backend that can be proven here (FP16/BF16 weights, channels-last, cuDNN autotuning, CUDA graphs
per batch-size bucket).

``run`` takes and returns host arrays; ``run_torch`` takes and returns tensors on the backend's device, so the
device-resident data path (``posetrack.device``) never copies through the host. Inputs and outputs stay float32
whatever the precision (the cast happens inside).
"""

from __future__ import annotations

import copy
import threading
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import nn

from posetrack.backends.base import check_inputs
from posetrack.device.buckets import BUCKETS, bucket, chunks, reachable
from posetrack.errors import PosetrackError

DTYPES = {"fp32": torch.float32, "fp16": torch.float16, "bf16": torch.bfloat16}


class TorchBackend:
    """Run ``module`` in eval mode under ``torch.inference_mode``.

    Args:
        module: the network; called with the inputs positionally, in ``input_names`` order.
        input_names / output_names: names for the module's positional inputs and its output(s).
        device: torch device for the module and the batch (``cpu``, ``cuda``, ``cuda:1``).
        precision: ``fp32``, ``fp16`` (CUDA only) or ``bf16``: the weights' and activations' type.
        channels_last: NHWC memory layout (faster convolutions on tensor cores).
        cuda_graphs: capture one CUDA graph per batch-size bucket and replay it (CUDA only); a batch is padded up
            to its bucket and the result sliced back.
        pad_to_buckets: pad batches to ``buckets`` even without graphs (fixed shapes for cuDNN autotuning).
        buckets: the batch sizes; a larger batch runs in chunks of the largest.
        compile: ``torch.compile`` the module (Inductor, static shapes): each new batch shape compiles once, which
            takes seconds to minutes, so it pays off for long runs with bucketed batches (CUDA graphs then capture
            the compiled kernels).
    """

    def __init__(self, module: nn.Module, input_names: Sequence[str] = ("input",),
                 output_names: Sequence[str] = ("heatmaps",), device: str | torch.device = "cpu",
                 precision: str = "fp32", channels_last: bool = False, cuda_graphs: bool = False,
                 pad_to_buckets: bool = False, buckets: Sequence[int] = BUCKETS, compile: bool = False):
        self.device = torch.device(device)
        if precision not in DTYPES:
            raise PosetrackError(f"--precision {precision}: the torch backend runs {', '.join(DTYPES)}")
        cuda = self.device.type == "cuda"
        if precision == "fp16" and not cuda:
            raise PosetrackError("--precision fp16 with --backend torch needs a CUDA device (bf16 runs on a CPU)")
        if cuda_graphs and not cuda:
            raise PosetrackError("CUDA graphs need a CUDA device")
        self.dtype = DTYPES[precision]
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.module = _placed(module, self.device, self.dtype).eval()
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if cuda:
            torch.backends.cudnn.benchmark = True  # fixed bucket shapes: autotuned once per shape
        self.network: nn.Module = torch.compile(self.module, dynamic=False) if compile else self.module  # type: ignore[assignment]
        self.input_names = tuple(input_names)
        self.output_names = tuple(output_names)
        self.cuda_graphs, self.pad = cuda_graphs, pad_to_buckets or cuda_graphs
        self.buckets = tuple(sorted(buckets))
        self._graphs: dict[int, tuple[torch.cuda.CUDAGraph, torch.Tensor, tuple[torch.Tensor, ...]]] = {}
        self._capture_lock = threading.Lock()  # one capture at a time, even if two stage threads share the backend
        self._capture_stream: torch.cuda.Stream | None = None  # this backend's own, made on its first capture
        self.name = f"torch:{self.device}" + (f" {precision}" if precision != "fp32" else "") + (
            " cuda-graphs" if cuda_graphs else "") + (" compiled" if compile else "")

    def warm_up(self, item_shape: Sequence[int], max_batch: int) -> None:
        """Run every batch shape that batches of 1..``max_batch`` items of ``item_shape`` (e.g. (3, 256, 192)) will
        use, capturing their CUDA graphs, now and from the calling thread: before a pipeline's stage threads start,
        so that no cuDNN autotuning or capture happens mid-run. Nothing to do on a CPU."""
        if self.device.type != "cuda" or len(self.input_names) != 1:
            return
        sizes = reachable(max_batch, self.buckets) if self.pad else [max_batch]
        for size in sizes:
            self.run_torch({self.input_names[0]: torch.zeros((size, *item_shape), device=self.device)})
        torch.cuda.synchronize(self.device)

    def run(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        check_inputs(self, inputs)
        tensors = {n: torch.from_numpy(np.ascontiguousarray(inputs[n])).to(self.device) for n in self.input_names}
        return {n: o.cpu().numpy() for n, o in self.run_torch(tensors).items()}

    def run_torch(self, inputs: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        """Device tensors in, float32 device tensors out; batches beyond the largest bucket run in chunks."""
        if len(self.input_names) != 1:  # graphs and chunking are for the one-input image networks
            return dict(zip(self.output_names, self._eager(*(inputs[n] for n in self.input_names))))
        x = inputs[self.input_names[0]]
        parts = [self._one(x[s]) for s in chunks(len(x), self.buckets[-1])] or [self._eager(x)]
        return {n: torch.cat([p[i] for p in parts]) for i, n in enumerate(self.output_names)}

    def _one(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = len(x)
        if not self.pad:
            return self._eager(x)
        size = bucket(n, self.buckets)
        if size > n:
            x = torch.cat([x, x.new_zeros((size - n, *x.shape[1:]))])
        out = self._replay(x) if self.cuda_graphs else self._eager(x)
        return tuple(o[:n] for o in out)

    def _eager(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        with torch.inference_mode():
            out = self.network(*(a.to(self.dtype).contiguous(memory_format=self.memory_format) for a in args))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o.float() for o in outs)

    def _replay(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        size = len(x)
        if size not in self._graphs:
            with self._capture_lock:
                if size not in self._graphs:
                    self._graphs[size] = self._capture(x)
        graph, static_in, static_out = self._graphs[size]
        static_in.copy_(x)
        graph.replay()
        return tuple(o.clone() for o in static_out)

    def _capture(self, x: torch.Tensor) -> tuple[torch.cuda.CUDAGraph, torch.Tensor, tuple[torch.Tensor, ...]]:
        """One graph for ``x``'s shape, on this backend's own stream. ``thread_local`` capture: CUDA work that
        another thread issues meanwhile (an upload or a replay in the detect stage) does not invalidate it, as it
        would in the default global mode; ``warm_up`` captures before the threads start anyway."""
        static_in = x.clone()
        if self._capture_stream is None:
            self._capture_stream = torch.cuda.Stream(self.device)
        side = self._capture_stream
        side.wait_stream(torch.cuda.current_stream(self.device))
        with torch.cuda.stream(side):  # warm-up (cuDNN autotuning, lazy init) off the capture
            for _ in range(3):
                self._eager(static_in)
        torch.cuda.current_stream(self.device).wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=side, capture_error_mode="thread_local"):
            static_out = self._eager(static_in)
        return graph, static_in, static_out


def _placed(module: nn.Module, device: torch.device, dtype: torch.dtype) -> nn.Module:
    """``module`` on ``device`` in ``dtype``: itself if it is there already, else a copy, so that the caller's
    module is never moved or rounded (a bench that makes an FP16 backend and then an FP32 one of the same module
    would otherwise measure FP16-rounded weights the second time)."""
    first = next(module.parameters(), None)
    same_device = first is not None and first.device.type == device.type and (
        device.index is None or first.device.index == device.index)
    if first is None or (same_device and first.dtype == dtype):
        return module
    return copy.deepcopy(module).to(device=device, dtype=dtype)
