"""CUDA graphs of a device function, one per input shape: captured once (at warm-up, before a pipeline's stage
threads start), then replayed with one launch instead of hundreds. The network alone (``TorchBackend``) and a
whole pose step (crops → network → decode, ``device.pose_step``) are captured the same way, here."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import Any

import torch

Tensors = tuple[torch.Tensor, ...]
# capture(fn, static inputs) → (replay, static outputs): ``replay()`` recomputes the outputs in place from the
# current contents of the static inputs
Capture = Callable[[Callable[..., Tensors], Tensors], tuple[Callable[[], Any], Tensors]]


class GraphCache:
    """``fn`` (device tensors in, a tuple of device tensors out, no host synchronisation inside) as one CUDA graph
    per shape and dtype of its inputs.

    A call copies its inputs into the captured graph's static inputs, replays it and returns the graph's static
    outputs: the next call overwrites them, so copy what you keep. Captures happen one at a time (a lock), each on
    this cache's own stream in ``thread_local`` mode: CUDA work another thread issues meanwhile (an upload, the
    other network stage) does not invalidate it, as it would in the default global mode.

    Args:
        fn: the function to capture. device: its CUDA device.
        capture: how a graph is made (default: ``torch.cuda.graph`` after ``warm_runs`` eager runs on the side
            stream, which cuDNN's autotuning and lazy initialisation need); tests on a CPU pass a stand-in.
    """

    def __init__(self, fn: Callable[..., Tensors], device: torch.device | str, capture: Capture | None = None,
                 warm_runs: int = 3):
        self.fn, self.device, self.warm_runs = fn, torch.device(device), warm_runs
        self._capture_fn = capture or self._cuda_capture
        self._graphs: dict[tuple, tuple[Callable[[], Any], Tensors, Tensors]] = {}
        self._lock = threading.Lock()
        self._stream: torch.cuda.Stream | None = None  # made on the first CUDA capture

    @property
    def shapes(self) -> list[tuple[tuple[int, ...], ...]]:
        """The input shapes captured so far, in capture order."""
        return [tuple(shape for shape, _ in key) for key in self._graphs]

    def __call__(self, *inputs: torch.Tensor) -> Tensors:
        key = tuple((tuple(x.shape), x.dtype) for x in inputs)
        entry = self._graphs.get(key)
        if entry is None:
            with self._lock:
                entry = self._graphs.get(key)
                if entry is None:
                    static_in = tuple(x.clone() for x in inputs)
                    replay, static_out = self._capture_fn(self.fn, static_in)
                    entry = self._graphs[key] = (replay, static_in, static_out)
        replay, static_in, static_out = entry
        for target, x in zip(static_in, inputs):
            if target is not x:
                target.copy_(x)
        replay()
        return static_out

    def _cuda_capture(self, fn: Callable[..., Tensors], static_in: Sequence[torch.Tensor]
                      ) -> tuple[Callable[[], Any], Tensors]:
        if self._stream is None:
            self._stream = torch.cuda.Stream(self.device)
        side, current = self._stream, torch.cuda.current_stream(self.device)
        side.wait_stream(current)
        with torch.cuda.stream(side):  # warm-up (cuDNN autotuning, lazy init) off the capture
            for _ in range(self.warm_runs):
                fn(*static_in)
        current.wait_stream(side)
        graph = torch.cuda.CUDAGraph()
        with torch.cuda.graph(graph, stream=side, capture_error_mode="thread_local"):
            static_out = fn(*static_in)
        return graph.replay, static_out
