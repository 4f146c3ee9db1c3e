"""Heatmaps → keypoints on the device, equal to ``heatmaps.decode`` (argmax + quarter pixel, or DARK) and
``heatmaps.flip_back``, and the inverse crop transform to image pixels; only (N, K, 2) keypoints and (N, K)
scores need to leave the device."""

from __future__ import annotations

import functools

import torch

from posetrack.heatmaps import newton_step


def peaks(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K, H, W) → integer peaks (N, K, 2) int64 (x, y) and peak values (N, K)."""
    n, k, h, w = heatmaps.shape
    values, idx = heatmaps.reshape(n, k, h * w).max(2)
    return torch.stack([idx % w, idx // w], -1), values


def _at(maps: torch.Tensor, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    w = maps.shape[3]
    flat = maps.reshape(*maps.shape[:2], -1)
    return flat.gather(2, (y * w + x).unsqueeze(-1)).squeeze(-1)


def quarter_offset(heatmaps: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """The official step of 0.25 px towards the higher neighbour, for peaks strictly inside the border band."""
    h, w = heatmaps.shape[2:]
    x, y = coords[..., 0], coords[..., 1]
    inside = (x > 1) & (x < w - 1) & (y > 1) & (y < h - 1)
    xc, yc = x.clamp(1, w - 2), y.clamp(1, h - 2)
    dx = _at(heatmaps, xc + 1, yc) - _at(heatmaps, xc - 1, yc)
    dy = _at(heatmaps, xc, yc + 1) - _at(heatmaps, xc, yc - 1)
    return 0.25 * torch.sign(torch.stack([dx, dy], -1)) * inside.unsqueeze(-1)


@functools.lru_cache(maxsize=32)
def blur_matrices(height: int, width: int, sigma: float, dtype: torch.dtype, device: torch.device
                  ) -> tuple[torch.Tensor, torch.Tensor]:
    """The separable Gaussian blur of (height, width) heatmaps as two banded matrices (height, height) and
    (width, width), made once per shape and device: a decode then copies nothing from the host."""
    radius = int(4.0 * sigma + 0.5)  # scipy's gaussian_filter1d with truncate=4
    x = torch.arange(-radius, radius + 1, dtype=torch.float64)
    g = torch.exp(-0.5 * (x / sigma) ** 2)
    g = (g / g.sum()).to(dtype=dtype, device=device)
    return _blur_matrix(height, g), _blur_matrix(width, g)


def _blur_matrix(size: int, g: torch.Tensor) -> torch.Tensor:
    """(size, size): row i holds the kernel ``g`` centred on i, cut at the edges (a zero-padded 1-D blur)."""
    r = len(g) // 2
    offsets = torch.arange(size, device=g.device)[None, :] - torch.arange(size, device=g.device)[:, None] + r
    inside = (offsets >= 0) & (offsets < len(g))
    return torch.where(inside, g[offsets.clamp(0, len(g) - 1)], g.new_zeros(()))


def dark_offset(heatmaps: torch.Tensor, coords: torch.Tensor, blur_sigma: float = 2.0) -> torch.Tensor:
    """DARK: a Newton step on log(blurred heatmap) at the integer peak (see ``heatmaps.dark_offset``)."""
    h, w = heatmaps.shape[-2:]
    maps = heatmaps
    if blur_sigma > 0:
        peak = maps.amax((2, 3), keepdim=True)
        rows, cols = blur_matrices(h, w, blur_sigma, maps.dtype, maps.device)
        # The separable blur as two banded matrix products (zeros outside, as mode="constant"): a convolution
        # would be autotuned by cuDNN for every new person count mid-run; a matmul has nothing to tune.
        maps = rows @ maps @ cols.T
        maps = maps * (peak / maps.amax((2, 3), keepdim=True).clamp_min(1e-12))
    logh = maps.clamp_min(1e-10).log()
    x, y = coords[..., 0], coords[..., 1]
    inside = (x >= 1) & (x <= w - 2) & (y >= 1) & (y <= h - 2)
    x, y = x.clamp(1, w - 2), y.clamp(1, h - 2)

    ox, oy, usable = newton_step(lambda dx, dy: _at(logh, x + dx, y + dy))
    return (torch.stack([ox, oy], -1) * (inside & usable).unsqueeze(-1)).clamp(-1.0, 1.0)


def decode(heatmaps: torch.Tensor, refine: str = "argmax", blur_sigma: float = 2.0
           ) -> tuple[torch.Tensor, torch.Tensor]:
    """(N, K, H, W) → coords (N, K, 2) heatmap pixels and scores (N, K); channels peaking at ≤ 0 keep the argmax."""
    coords, values = peaks(heatmaps)
    if refine == "argmax":
        offset = quarter_offset(heatmaps, coords)
    elif refine == "dark":
        offset = dark_offset(heatmaps, coords, blur_sigma)
    else:
        raise ValueError(f"unknown refinement {refine!r}; use 'argmax' or 'dark'")
    offset = offset * (values > 0).unsqueeze(-1)
    return coords.to(heatmaps.dtype) + offset.to(heatmaps.dtype), values


def flip_back(heatmaps: torch.Tensor, flip_permutation: torch.Tensor, shift: bool = True) -> torch.Tensor:
    """Heatmaps of mirrored crops → the unmirrored frame (channels swapped left/right, optional one-column shift)."""
    out = heatmaps[:, flip_permutation].flip(3)
    if shift:
        out = torch.cat([out[..., :1], out[..., :-1]], 3)
    return out


def to_image(coords: torch.Tensor, stride: tuple[float, float], from_crop: torch.Tensor) -> torch.Tensor:
    """Heatmap coordinates (N, K, 2) → image pixels (N, K, 2) float64: times the heatmap stride (x, y crop pixels
    per heatmap pixel), then the (N, 2, 3) crop → image map."""
    pts = torch.stack([coords[..., 0].double() * stride[0], coords[..., 1].double() * stride[1]], -1)
    m = from_crop.to(device=coords.device, dtype=torch.float64)
    return pts @ m[:, :, :2].transpose(1, 2) + m[:, None, :, 2]

