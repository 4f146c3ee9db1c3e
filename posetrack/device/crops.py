"""Person crops on the device: one ``grid_sample`` for all persons of a frame, equal to ``cv2.warpAffine``
(bilinear, black outside the image) followed by the ImageNet normalisation, up to OpenCV's fixed-point
interpolation and uint8 rounding (which the float path does not have)."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from posetrack.transforms import IMAGENET, Preprocess, invert_affine


def upload(image: np.ndarray, device: torch.device | str, pinned: torch.Tensor | None = None) -> torch.Tensor:
    """(H, W, 3) uint8 BGR frame → the same uint8 tensor on ``device``, copied once. With a CUDA device and a pinned
    host buffer of the frame's size, the copy is asynchronous (the caller's stream orders it)."""
    host = torch.from_numpy(np.ascontiguousarray(image))
    if pinned is not None and pinned.shape == host.shape:
        pinned.copy_(host)
        host = pinned
    return host.to(device, non_blocking=pinned is not None)


def to_planes(frame: torch.Tensor, channels: str = "rgb") -> torch.Tensor:
    """(H, W, 3) uint8 BGR → (1, 3, H, W) float32 in ``channels`` order, 0..255."""
    ordered = frame.flip(-1) if channels == "rgb" else frame
    return ordered.permute(2, 0, 1).unsqueeze(0).float()


def normalise(planes: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """(N, 3, h, w) float32 0..255 in the network's channel order → ``(x - mean) / std``."""
    mean = torch.as_tensor(preprocess.mean, dtype=torch.float32, device=planes.device).view(1, 3, 1, 1)
    std = torch.as_tensor(preprocess.std, dtype=torch.float32, device=planes.device).view(1, 3, 1, 1)
    return (planes - mean) / std


def crop_batch(frame: torch.Tensor, to_crop: np.ndarray | torch.Tensor, output_size: tuple[int, int],
               preprocess: Preprocess = IMAGENET) -> torch.Tensor:
    """(N, 3, h, w) float32 normalised network input of the persons whose image → crop affine maps are
    ``to_crop`` ((N, 2, 3), as ``transforms.crop_matrices``), from an (H, W, 3) uint8 BGR frame on the device."""
    planes = to_planes(frame, preprocess.channels)
    n = len(to_crop)
    w, h = output_size
    height, width = planes.shape[2:]
    inverse = torch.as_tensor(invert_affine(np.asarray(to_crop, np.float64)) if not torch.is_tensor(to_crop)
                              else _invert(to_crop.double()), dtype=torch.float64, device=frame.device)
    # every crop pixel (u, v) samples the image at inverse @ (u, v, 1); pixel i sits at coordinate i (as OpenCV)
    v, u = torch.meshgrid(torch.arange(h, device=frame.device, dtype=torch.float64),
                          torch.arange(w, device=frame.device, dtype=torch.float64), indexing="ij")
    pts = torch.stack([u, v, torch.ones_like(u)], -1).reshape(1, h * w, 3)
    src = pts @ inverse.transpose(1, 2)  # (N, h*w, 2) image pixels
    scale = torch.tensor([2 / max(width - 1, 1), 2 / max(height - 1, 1)], dtype=torch.float64, device=frame.device)
    grid = (src * scale - 1).reshape(n, h, w, 2).to(planes.dtype)
    crops = F.grid_sample(planes.expand(n, -1, -1, -1), grid, mode="bilinear", padding_mode="zeros",
                          align_corners=True)
    return normalise(crops, preprocess)


def _invert(m: torch.Tensor) -> torch.Tensor:
    linear = torch.linalg.inv(m[:, :, :2])
    return torch.cat([linear, -(linear @ m[:, :, 2:])], 2)
