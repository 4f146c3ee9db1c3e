"""Batch sizes a compiled network accepts: CUDA graphs are captured per bucket (a batch is padded up to the next
bucket and the result sliced back), and a batch larger than the largest bucket or an engine profile's maximum is
cut into chunks, so that no frame, however crowded, fails mid-video."""

from __future__ import annotations

from collections.abc import Iterator, MutableMapping, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the bucket arithmetic stays importable without torch (as the TensorRT backend's module is)
    import torch

BUCKETS = (1, 2, 4, 8, 16, 32, 64)


def bucket(n: int, buckets: Sequence[int] = BUCKETS) -> int:
    """The smallest bucket holding ``n`` items (``n`` ≤ the largest bucket)."""
    for b in sorted(buckets):
        if n <= b:
            return b
    raise ValueError(f"batch of {n} is larger than the largest bucket {max(buckets)}; chunk it first")


def reachable(max_batch: int, buckets: Sequence[int] = BUCKETS) -> list[int]:
    """The buckets that batches of 1..``max_batch`` items land in (a larger batch runs in chunks of the largest
    bucket, whose remainder lands in a smaller one), smallest first: what a warm-up must capture."""
    top = bucket(min(max_batch, max(buckets)), buckets)
    return [b for b in sorted(buckets) if b <= top]


def chunks(n: int, largest: int) -> Iterator[slice]:
    """Slices covering ``range(n)`` in pieces of at most ``largest``."""
    if largest < 1:
        raise ValueError("largest must be at least 1")
    for start in range(0, n, largest):
        yield slice(start, min(n, start + largest))


def pinned_view(buffers: MutableMapping[str, torch.Tensor], key: str, shape: Sequence[int], dtype: torch.dtype,
                rows: int) -> torch.Tensor:
    """A pinned host buffer of ``shape`` (asynchronous copies need pinned memory): a view of ``buffers[key]``,
    allocated once for ``rows`` (the largest batch) or more, so that batches of changing size reuse it (pinning
    memory is slow, and a fresh pinned buffer per size would pile up). The caller makes sure the copy that last
    used it has finished before writing it again."""
    import torch

    shape = tuple(shape)
    buf = buffers.get(key)
    if buf is None or tuple(buf.shape[1:]) != shape[1:] or buf.dtype != dtype or len(buf) < shape[0]:
        buf = buffers[key] = torch.empty((max(rows, shape[0]), *shape[1:]), dtype=dtype, pin_memory=True)
    return buf[: shape[0]]
