"""One CUDA stream per network stage of a pipeline on a GPU: work issued by the detect thread and by the pose
thread goes to different streams, so their kernels can overlap instead of queueing on the legacy default stream.
What a stage hands to the next (boxes, keypoints) comes back to the host first, so no event is needed between
them; a device tensor handed across stages would travel with ``Handoff`` (an event recorded after it was made,
waited on by the consumer's stream, no host synchronisation)."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Any

import torch

STAGES = ("detect", "pose")


def stage_streams(device: torch.device, make_stream: Callable[[], Any] | None = None,
                  enter: Callable[[Any], AbstractContextManager] | None = None
                  ) -> Callable[[str], AbstractContextManager] | None:
    """``Pipeline.stage_context`` for ``device``: None on a CPU; on CUDA a stream per stage, entered with
    ``torch.cuda.stream``. ``make_stream`` / ``enter`` replace the CUDA ones (tests on a CPU)."""
    if device.type != "cuda" and make_stream is None:
        return None
    make = make_stream or (lambda: torch.cuda.Stream(device))
    streams = {stage: make() for stage in STAGES}
    use = enter or torch.cuda.stream
    return lambda stage: use(streams[stage])


@dataclass
class Handoff:
    """A value made on one stream and the event recorded after it; ``take(stream)`` makes ``stream`` wait for it."""

    value: Any
    event: Any

    @classmethod
    def made_on(cls, value: Any, stream: Any, event: Any | None = None) -> Handoff:
        event = event if event is not None else torch.cuda.Event()
        event.record(stream)
        return cls(value, event)

    def take(self, stream: Any) -> Any:
        stream.wait_event(self.event)
        return self.value
