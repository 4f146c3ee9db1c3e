"""Person crops on the device: one ``grid_sample`` for all persons of a frame, equal to ``cv2.warpAffine``
(bilinear, black outside the image) followed by the normalisation, up to OpenCV's fixed-point interpolation and
uint8 rounding (which the float path does not have).

``crop_batch`` is the one-call form. ``pixel_grid``, ``normalisation`` and ``sample`` are its pieces for callers
that make the constants once and keep them on the device (``device.pose_step``): then a frame's crops issue no
host copy at all, which CUDA graph capture requires."""

from __future__ import annotations

import functools

import numpy as np
import torch
import torch.nn.functional as F

from posetrack.transforms import IMAGENET, Preprocess, invert_affine


def upload(image: np.ndarray, device: torch.device | str) -> torch.Tensor:
    """(H, W, 3) uint8 BGR frame → the same uint8 tensor on ``device``, copied once (on CUDA from pageable memory;
    a pipeline's frames go through ``frames.UploadRing``'s pinned buffers instead)."""
    return torch.from_numpy(np.ascontiguousarray(image)).to(device)


def to_planes(frame: torch.Tensor, channels: str = "rgb") -> torch.Tensor:
    """(H, W, 3) uint8 BGR → (1, 3, H, W) float32 in ``channels`` order, 0..255."""
    ordered = frame.flip(-1) if channels == "rgb" else frame
    return ordered.permute(2, 0, 1).unsqueeze(0).float()


@functools.lru_cache(maxsize=16)
def normalisation(preprocess: Preprocess, device: torch.device | str) -> tuple[torch.Tensor, torch.Tensor]:
    """``preprocess``'s mean and std as (1, 3, 1, 1) float32 tensors on ``device``, made once (a copy from the
    host each frame would synchronise it); read-only."""
    return tuple(torch.as_tensor(v, dtype=torch.float32, device=device).view(1, 3, 1, 1)  # type: ignore[return-value]
                 for v in (preprocess.mean, preprocess.std))


def normalise(planes: torch.Tensor, preprocess: Preprocess) -> torch.Tensor:
    """(N, 3, h, w) float32 0..255 in the network's channel order → ``(x - mean) / std``."""
    mean, std = normalisation(preprocess, planes.device)
    return (planes - mean) / std


def pixel_grid(output_size: tuple[int, int], device: torch.device | str) -> torch.Tensor:
    """(1, h*w, 3) float64: every crop pixel's homogeneous (u, v, 1), pixel i at coordinate i (as OpenCV)."""
    w, h = output_size
    v, u = torch.meshgrid(torch.arange(h, device=device, dtype=torch.float64),
                          torch.arange(w, device=device, dtype=torch.float64), indexing="ij")
    return torch.stack([u, v, torch.ones_like(u)], -1).reshape(1, h * w, 3)


def sample(planes: torch.Tensor, from_crop: torch.Tensor, pixels: torch.Tensor,
           output_size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, h, w) crops, 0..255, of (1, 3, H, W) ``planes``: crop pixel (u, v) of person i samples the image at
    ``from_crop[i] @ (u, v, 1)`` ((N, 2, 3) float64 crop → image maps on the device; ``pixels`` from
    ``pixel_grid``). Scalars only cross from the host, so nothing here copies or synchronises."""
    w, h = output_size
    height, width = planes.shape[2:]
    src = pixels @ from_crop.transpose(1, 2)  # (N, h*w, 2) image pixels
    grid = torch.stack([src[..., 0] * (2 / max(width - 1, 1)) - 1, src[..., 1] * (2 / max(height - 1, 1)) - 1], -1)
    return F.grid_sample(planes.expand(len(from_crop), -1, -1, -1), grid.reshape(-1, h, w, 2).to(planes.dtype),
                         mode="bilinear", padding_mode="zeros", align_corners=True)


def crop_batch(frame: torch.Tensor, to_crop: np.ndarray | torch.Tensor, output_size: tuple[int, int],
               preprocess: Preprocess = IMAGENET) -> torch.Tensor:
    """(N, 3, h, w) float32 normalised network input of the persons whose image → crop affine maps are
    ``to_crop`` ((N, 2, 3), as ``transforms.crop_matrices``), from an (H, W, 3) uint8 BGR frame on the device."""
    from_crop = (_invert(to_crop.double()) if torch.is_tensor(to_crop)
                 else torch.as_tensor(invert_affine(np.asarray(to_crop, np.float64))))
    planes = to_planes(frame, preprocess.channels)
    crops = sample(planes, from_crop.to(device=frame.device, dtype=torch.float64),
                   pixel_grid(output_size, frame.device), output_size)
    return normalise(crops, preprocess)


def _invert(m: torch.Tensor) -> torch.Tensor:
    linear = torch.linalg.inv(m[:, :, :2])
    return torch.cat([linear, -(linear @ m[:, :, 2:])], 2)
