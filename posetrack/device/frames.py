"""Frames on the device: uploaded once per frame through a ring of pinned buffers (``frame_on_device``,
``UploadRing``), and the detector's input made there: letterbox (resize keeping the aspect ratio, pad centred)
and normalise, equal to ``detect.prepare_frame`` up to OpenCV's uint8 rounding of the resized image."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from posetrack.device.crops import normalise, to_planes, upload
from posetrack.device.streams import Handoff
from posetrack.transforms import IMAGENET, Preprocess
from posetrack.types import Frame


def letterbox_input(frame: torch.Tensor, size: tuple[int, int], preprocess: Preprocess = IMAGENET
                    ) -> tuple[torch.Tensor, float, tuple[float, float]]:
    """(H, W, 3) uint8 BGR frame on the device → (1, 3, h, w) float32 network input, the scale (input px per image
    px) and the (x, y) pad in input pixels, as ``transforms.letterbox`` + ``preprocess`` compute them."""
    w, h = size
    height, width = frame.shape[:2]
    scale = min(w / width, h / height)
    nw, nh = round(width * scale), round(height * scale)
    x0, y0 = ((int(round((w - nw) / 2 - 0.1)), int(round((h - nh) / 2 - 0.1))) if preprocess.placement == "centre"
              else (0, 0))
    planes = to_planes(frame, preprocess.channels)
    resized = F.interpolate(planes, size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)
    out = torch.full((1, 3, h, w), float(preprocess.fill), dtype=torch.float32, device=frame.device)
    out[:, :, y0:y0 + nh, x0:x0 + nw] = resized
    return normalise(out, preprocess), scale, (float(x0), float(y0))


def frame_on_device(frame: Frame, device: torch.device) -> torch.Tensor:
    """``frame``'s image as a uint8 tensor on ``device``, uploaded once per frame: the first stage that asks
    uploads it (on CUDA recording an event on its stream), later stages take the same tensor, their own streams
    waiting for that event — no host synchronisation, no second copy."""
    made = frame.on_device.get_or_make(str(device), lambda: _upload(frame, device))
    if isinstance(made, Handoff):
        stream = torch.cuda.current_stream(device)
        tensor = made.take(stream)
        tensor.record_stream(stream)  # the allocator must not reuse it while this stream still reads it
        return tensor
    return made


def _upload(frame: Frame, device: torch.device) -> torch.Tensor | Handoff:
    if device.type != "cuda":
        return upload(frame.image, device)
    return _ring(device).upload(frame.image)


class UploadRing:
    """Frames go to the device through ``slots`` pinned host buffers in turn: each copy is asynchronous on the
    current stream and followed by an event, and a buffer is written again only once its last copy's event has
    completed (one reused buffer would be overwritten by the next frame while its copy is still reading it; a
    pageable copy, as ``crops.upload`` makes, blocks the thread for the whole 6 MB of a 1080p frame).

    Args:
        device: the CUDA device. slots: buffers in the ring (frames in flight between decode and the GPU).
        pinned / event: make a pinned (H, W, 3) uint8 host buffer and an event (tests on a CPU pass stand-ins).
    """

    def __init__(self, device: torch.device | str, slots: int = 3,
                 pinned: Callable[[tuple[int, ...]], torch.Tensor] | None = None,
                 event: Callable[[], Any] | None = None):
        self.device = torch.device(device)
        self._pinned = pinned or (lambda shape: torch.empty(shape, dtype=torch.uint8, pin_memory=True))
        self._event = event or torch.cuda.Event
        self._slots: list[tuple[torch.Tensor, Any] | None] = [None] * slots
        self._next = 0
        self._lock = threading.Lock()

    def upload(self, image: np.ndarray) -> Handoff:
        """(H, W, 3) uint8 → the same on the device, handed off with the event recorded after its copy."""
        with self._lock:
            index, self._next = self._next, (self._next + 1) % len(self._slots)
            slot = self._slots[index]
            if slot is not None:
                slot[1].synchronize()  # the copy that last read this buffer has finished
            buffer = slot[0] if slot is not None and tuple(slot[0].shape) == image.shape else self._pinned(image.shape)
            buffer.numpy()[...] = image
            stream = torch.cuda.current_stream(self.device) if self.device.type == "cuda" else None
            sent = Handoff.made_on(buffer.to(self.device, non_blocking=True), stream, self._event())
            self._slots[index] = (buffer, sent.event)
            return sent


_RINGS: dict[torch.device, UploadRing] = {}
_RINGS_LOCK = threading.Lock()


def _ring(device: torch.device) -> UploadRing:
    with _RINGS_LOCK:
        if device not in _RINGS:
            _RINGS[device] = UploadRing(device)
        return _RINGS[device]
