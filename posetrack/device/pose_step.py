"""One frame's persons, from the frame on the device to keypoints in image pixels, as one device function of fixed
shapes: crops (one ``grid_sample``), normalisation, the network, the flip-test merge, decoding (argmax + quarter
pixel or DARK) and the inverse crop transform.

Its constants (the crop pixel grid, mean and std, the flip permutation, DARK's blur matrices) are made once on the
device, so a call copies nothing from the host inside the function. That is what lets CUDA capture it whole: one
graph per (person bucket, frame size) replaces some 250 small launches and the host-synchronising copies of the
crop and decode steps. Per frame, the crop matrices go up in one pinned copy and the (N, K, 3) result comes back in
one, waited on by an event."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence

import numpy as np
import torch

from posetrack.device import crops, decode
from posetrack.device.buckets import bucket, chunks, pinned_view, reachable
from posetrack.device.graphs import GraphCache
from posetrack.transforms import Preprocess


class PoseStep:
    """Crops → network → keypoints for all persons of a frame, on ``device``.

    Args:
        network: (B, 3, h, w) float32 normalised crops → (B, K, h', w') float32 heatmaps, on the device, with no
            host synchronisation inside (so that it can be captured).
        device: where everything runs.
        input_size: the network's (width, height). preprocess: its channel order, mean and std.
        refine: ``argmax`` or ``dark``. flip_permutation: the joints' left/right swap for flip test (None: no flip
            test). shift_heatmap: the official one-column shift of flipped heatmaps.
        buckets: person counts to pad a frame's batch to (CUDA graphs, fixed shapes for cuDNN autotuning), the
            largest also the chunk size; None: run the batch as it is.
        graphs: capture the whole step as CUDA graphs, one per bucket and frame size (needs ``buckets``).
    """

    def __init__(self, network: Callable[[torch.Tensor], torch.Tensor], device: torch.device | str,
                 input_size: tuple[int, int], preprocess: Preprocess, refine: str = "argmax",
                 flip_permutation: Sequence[int] | np.ndarray | None = None, shift_heatmap: bool = True,
                 buckets: Sequence[int] | None = None, graphs: bool = False):
        if graphs and not buckets:
            raise ValueError("CUDA graphs of the pose step need buckets (fixed shapes)")
        self.network, self.device = network, torch.device(device)
        self.input_size, self.channels, self.refine = (int(input_size[0]), int(input_size[1])), preprocess.channels, refine
        self.shift_heatmap, self.buckets = shift_heatmap, tuple(sorted(buckets)) if buckets else None
        self._pixels = crops.pixel_grid(self.input_size, self.device)
        self._mean, self._std = crops.normalisation(preprocess, self.device)
        self._perm = None if flip_permutation is None else torch.as_tensor(np.asarray(flip_permutation),
                                                                          device=self.device)
        self.graphs = GraphCache(self._forward, self.device) if graphs else None
        self._pinned: dict[str, torch.Tensor] = {}  # CUDA: the matrices going up, the keypoints coming back
        self._event = torch.cuda.Event() if self.device.type == "cuda" else None
        self._lock = threading.Lock()  # the pinned buffers serve one call at a time

    def __call__(self, frame: torch.Tensor, from_crop: np.ndarray) -> np.ndarray:
        """(N, K, 3) float32: x, y in image pixels and the peak score of each person's joints.

        Args:
            frame: (H, W, 3) uint8 BGR on the device (ordered on the current stream).
            from_crop: (N, 2, 3) crop → image affine maps, one per person.
        """
        largest = self.buckets[-1] if self.buckets else max(len(from_crop), 1)
        with self._lock:
            return np.concatenate([self._batch(frame, from_crop[s]) for s in chunks(len(from_crop), largest)])

    def warm_up(self, frame_size: tuple[int, int], max_persons: int) -> None:
        """Run (and with graphs capture) every person bucket up to ``max_persons`` for frames of ``frame_size``
        (height, width), from the calling thread: cuDNN autotuning and capture then never happen mid-run."""
        frame = torch.zeros((*frame_size, 3), dtype=torch.uint8, device=self.device)
        for size in reachable(max_persons, self.buckets) if self.buckets else [max_persons]:
            self(frame, np.zeros((size, 2, 3)))
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def _batch(self, frame: torch.Tensor, from_crop: np.ndarray) -> np.ndarray:
        n = len(from_crop)
        size = bucket(n, self.buckets) if self.buckets else n
        matrices = self._staged("matrices", (size, 2, 3), torch.float64)  # zero maps pad: they sample pixel (0, 0)
        matrices.zero_()
        matrices[:n] = torch.from_numpy(np.asarray(from_crop, np.float64))
        on_device = matrices.to(self.device, non_blocking=True)
        out = self.graphs(frame, on_device)[0] if self.graphs is not None else self._forward(frame, on_device)[0]
        if self._event is None:
            return out[:n].numpy().copy()
        host = self._staged("keypoints", tuple(out.shape), torch.float32)[:n]
        host.copy_(out[:n], non_blocking=True)
        self._event.record(torch.cuda.current_stream(self.device))
        self._event.synchronize()  # after this both copies are done, so the next call may rewrite their buffers
        return host.numpy().copy()

    def _staged(self, role: str, shape: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
        """A host buffer of ``shape``: pinned on CUDA (``pinned_view``, sized once for the largest bucket), a plain
        tensor on a CPU."""
        if self._event is None:
            return torch.empty(shape, dtype=dtype)
        return pinned_view(self._pinned, role, shape, dtype, self.buckets[-1] if self.buckets else 0)

    def _forward(self, frame: torch.Tensor, from_crop: torch.Tensor) -> tuple[torch.Tensor]:
        """(H, W, 3) uint8 frame and (B, 2, 3) float64 crop → image maps on the device → ((B, K, 3) float32,)."""
        with torch.inference_mode():
            return self._keypoints(frame, from_crop)

    def _keypoints(self, frame: torch.Tensor, from_crop: torch.Tensor) -> tuple[torch.Tensor]:
        planes = crops.to_planes(frame, self.channels)
        batch = (crops.sample(planes, from_crop, self._pixels, self.input_size) - self._mean) / self._std
        n = len(batch)
        if self._perm is not None:
            batch = torch.cat([batch, batch.flip(3)])
        maps = self.network(batch)
        if self._perm is not None:
            maps = 0.5 * (maps[:n] + decode.flip_back(maps[n:], self._perm, self.shift_heatmap))
        coords, scores = decode.decode(maps, self.refine)
        width, height = self.input_size
        keypoints = decode.to_image(coords, (width / maps.shape[3], height / maps.shape[2]), from_crop)
        return (torch.cat([keypoints.float(), scores.float().unsqueeze(-1)], -1),)
