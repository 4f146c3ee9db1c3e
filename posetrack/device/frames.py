"""The detector's input on the device: letterbox (resize keeping the aspect ratio, pad centred) and normalise,
equal to ``detect.prepare_frame`` up to OpenCV's uint8 rounding of the resized image."""

from __future__ import annotations

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
    tensor = upload(frame.image, device)
    return Handoff.made_on(tensor, torch.cuda.current_stream(device)) if tensor.is_cuda else tensor
