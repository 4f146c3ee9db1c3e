"""PyTorch execution of an ``nn.Module``: the source of truth the compiled backends are checked against on the
CPU, and the GPU backend that can be proven here (FP16/BF16 weights, channels-last, cuDNN autotuning, CUDA graphs
per batch-size bucket).

``run`` takes and returns host arrays; ``run_torch`` takes and returns tensors on the backend's device, so the
device-resident data path (``posetrack.device``) never copies through the host. Inputs and outputs stay float32
whatever the precision (the cast happens inside).
"""

from __future__ import annotations

import copy
from collections import Counter
from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import fx, nn
from torch.fx.proxy import TraceError
from torch.nn.utils.fusion import fuse_conv_bn_eval

from posetrack.backends.base import check_inputs
from posetrack.device import is_cuda
from posetrack.device.buckets import BUCKETS, bucket, chunks, reachable
from posetrack.device.graphs import GraphCache
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
        fold_batchnorm: fold every BatchNorm that follows a convolution into its weights (``batchnorm_folded``):
            HRNet-W32 has 292 of them, each a kernel launch and a pass over memory.
    """

    def __init__(self, module: nn.Module, input_names: Sequence[str] = ("input",),
                 output_names: Sequence[str] = ("heatmaps",), device: str | torch.device = "cpu",
                 precision: str = "fp32", channels_last: bool = False, cuda_graphs: bool = False,
                 pad_to_buckets: bool = False, buckets: Sequence[int] = BUCKETS, compile: bool = False,
                 fold_batchnorm: bool = True):
        self.device = torch.device(device)
        if precision not in DTYPES:
            raise PosetrackError(f"--precision {precision}: the torch backend runs {', '.join(DTYPES)}")
        cuda = is_cuda(self.device)
        if precision == "fp16" and not cuda:
            raise PosetrackError("--precision fp16 with --backend torch needs a CUDA device (bf16 runs on a CPU)")
        if cuda_graphs and not cuda:
            raise PosetrackError("CUDA graphs need a CUDA device")
        self.dtype = DTYPES[precision]
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.module = _placed(batchnorm_folded(module) if fold_batchnorm else module, self.device,
                              self.dtype).eval()
        if channels_last:
            self.module = self.module.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
        if cuda:
            torch.backends.cudnn.benchmark = True  # fixed bucket shapes: autotuned once per shape
        self.network: nn.Module = torch.compile(self.module, dynamic=False) if compile else self.module  # type: ignore[assignment]
        self.input_names = tuple(input_names)
        self.output_names = tuple(output_names)
        self.cuda_graphs, self.pad = cuda_graphs, pad_to_buckets or cuda_graphs
        self.buckets = tuple(sorted(buckets))
        self.graphs = GraphCache(self.forward, self.device) if cuda_graphs else None
        self.name = f"torch:{self.device}" + (f" {precision}" if precision != "fp32" else "") + (
            " cuda-graphs" if cuda_graphs else "") + (" compiled" if compile else "")

    def warm_up(self, item_shape: Sequence[int], max_batch: int) -> None:
        """Run every batch shape that batches of 1..``max_batch`` items of ``item_shape`` (e.g. (3, 256, 192)) will
        use, capturing their CUDA graphs, now and from the calling thread: before a pipeline's stage threads start,
        so that no cuDNN autotuning or capture happens mid-run. Nothing to do on a CPU."""
        if not is_cuda(self.device) or len(self.input_names) != 1:
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
            return dict(zip(self.output_names, self.forward(*(inputs[n] for n in self.input_names))))
        x = inputs[self.input_names[0]]
        parts = [self._one(x[s]) for s in chunks(len(x), self.buckets[-1])] or [self.forward(x)]
        return {n: torch.cat([p[i] for p in parts]) for i, n in enumerate(self.output_names)}

    def _one(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        n = len(x)
        if not self.pad:
            return self.forward(x)
        size = bucket(n, self.buckets)
        if size > n:
            x = torch.cat([x, x.new_zeros((size - n, *x.shape[1:]))])
        if self.graphs is not None:
            return tuple(o[:n].clone() for o in self.graphs(x))  # the graph's outputs are overwritten next replay
        return tuple(o[:n] for o in self.forward(x))

    @property
    def captured_batches(self) -> list[int]:
        """The batch sizes whose CUDA graphs are captured, smallest first."""
        return sorted(shapes[0][0] for shapes in self.graphs.shapes) if self.graphs is not None else []

    def forward(self, *args: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """The network on device tensors as they are: no padding, no graph, float32 outputs (capturable)."""
        with torch.inference_mode():
            out = self.network(*(a.to(self.dtype).contiguous(memory_format=self.memory_format) for a in args))
        outs = out if isinstance(out, (tuple, list)) else (out,)
        return tuple(o.float() for o in outs)


def batchnorm_folded(module: nn.Module) -> nn.Module:
    """An inference copy of ``module`` (eval mode) whose BatchNorms that only ever see one convolution's output
    are folded into that convolution's weights and bias (running statistics: the same function in eval mode).
    The data flow is read from an FX trace, so a BatchNorm is folded only where it truly follows the convolution;
    a module that does not trace as a whole (control flow on a tensor's value in its ``forward``) has its
    children folded one by one. Only ever for inference: the copy has no BatchNorm left to train."""
    folded = copy.deepcopy(module).eval()
    return _fold(folded)


def _fold(module: nn.Module) -> nn.Module:
    if not any(isinstance(m, nn.BatchNorm2d) for m in module.modules()):
        return module
    try:
        traced = fx.symbolic_trace(module)
    except (TraceError, TypeError, RuntimeError):  # FX cannot trace this forward: fold inside its children
        for name, child in module.named_children():
            setattr(module, name, _fold(child))
        return module
    modules = dict(traced.named_modules())
    calls = Counter(node.target for node in traced.graph.nodes if node.op == "call_module")
    for node in list(traced.graph.nodes):
        source = node.args[0] if node.op == "call_module" and node.args else None
        if (isinstance(modules.get(node.target), nn.BatchNorm2d) and isinstance(source, fx.Node)
                and source.op == "call_module" and isinstance(modules[source.target], nn.Conv2d)
                and len(source.users) == 1 and calls[source.target] == 1):  # a shared convolution stays as it is
            parent, _, name = str(source.target).rpartition(".")
            setattr(traced.get_submodule(parent), name, fuse_conv_bn_eval(modules[source.target], modules[node.target]))
            node.replace_all_uses_with(source)
            traced.graph.erase_node(node)
    traced.graph.lint()
    traced.delete_all_unused_submodules()
    traced.recompile()
    return traced


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
