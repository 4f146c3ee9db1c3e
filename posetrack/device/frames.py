"""The detector's input on the device: letterbox (resize keeping the aspect ratio, pad centred) and normalise,
equal to ``detect.prepare_frame`` up to OpenCV's uint8 rounding of the resized image."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from posetrack.device.crops import to_planes, upload
from posetrack.device.streams import Handoff
from posetrack.transforms import MEAN_RGB, STD_RGB
from posetrack.types import Frame


def letterbox_input(frame: torch.Tensor, size: tuple[int, int], normalise: str = "imagenet", fill: int = 114
                    ) -> tuple[torch.Tensor, float, tuple[float, float]]:
    """(H, W, 3) uint8 BGR frame on the device → (1, 3, h, w) float32 network input, the scale (input px per image
    px) and the (x, y) pad in input pixels, as ``detect.letterbox`` + ``prepare_frame`` compute them."""
    w, h = size
    height, width = frame.shape[:2]
    scale = min(w / width, h / height)
    nw, nh = round(width * scale), round(height * scale)
    x0, y0 = int(round((w - nw) / 2 - 0.1)), int(round((h - nh) / 2 - 0.1))
    resized = F.interpolate(to_planes(frame), size=(nh, nw), mode="bilinear", align_corners=False, antialias=False)
    out = torch.full((1, 3, h, w), float(fill), dtype=torch.float32, device=frame.device)
    out[:, :, y0:y0 + nh, x0:x0 + nw] = resized
    if normalise == "unit":
        return out / 255.0, scale, (float(x0), float(y0))
    mean = torch.as_tensor(MEAN_RGB, device=frame.device).view(1, 3, 1, 1)
    std = torch.as_tensor(STD_RGB, device=frame.device).view(1, 3, 1, 1)
    return (out - mean) / std, scale, (float(x0), float(y0))


def frame_on_device(frame: Frame, device: torch.device) -> torch.Tensor:
    """``frame``'s image as a uint8 tensor on ``device``, uploaded once per frame: the first stage that asks
    uploads it and leaves it on the frame (on CUDA with the event of its stream), later stages take it, their
    own streams waiting for that event — no host synchronisation, no second copy."""
    shared = frame.on_device.get(device)
    if isinstance(shared, Handoff):
        stream = torch.cuda.current_stream(device)
        tensor = shared.take(stream)
        tensor.record_stream(stream)  # the allocator must not reuse it while this stream still reads it
        return tensor
    if isinstance(shared, torch.Tensor):
        return shared
    tensor = upload(frame.image, device)
    frame.on_device[device] = Handoff.made_on(tensor, torch.cuda.current_stream(device)) if tensor.is_cuda else tensor
    return tensor
