"""Batch sizes a compiled network accepts: CUDA graphs are captured per bucket (a batch is padded up to the next
bucket and the result sliced back), and a batch larger than the largest bucket or an engine profile's maximum is
cut into chunks, so that no frame, however crowded, fails mid-video."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

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
