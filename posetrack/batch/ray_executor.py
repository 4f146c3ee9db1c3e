"""Workers as Ray actors: one long-lived actor per worker slot holds its pipeline and tracks whole videos.

``ray.init()`` starts a local Ray instance when no address is given, or joins a cluster (``auto``, ``ray://…``).
An actor that dies mid-video (killed, out of memory, its node lost) is replaced, and its video reported ``LOST``
for the driver to retry. Ray is optional (``pip install 'posetrack[ray]'``) and imported only here.
"""

from __future__ import annotations

import logging
from typing import Any

from posetrack.batch.ledger import VideoResult
from posetrack.batch.local import LOST
from posetrack.batch.worker import VideoJob, VideoWorker
from posetrack.errors import PosetrackError
from posetrack.options import Options


def import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise PosetrackError("--ray needs Ray, which is not installed: pip install 'posetrack[ray]'") from None
    return ray


class RayExecutor:
    """``slots`` actors, each with ``cpus`` CPUs and ``gpus`` GPUs (fractions allowed) reserved."""

    def __init__(self, spec: Options, slots: int, address: str | None = None, cpus: float = 1.0,
                 gpus: float = 0.0, local_cpus: int | None = None):
        self.ray = import_ray()
        self.spec, self.slots, self.address = spec, slots, address
        self.cpus, self.gpus, self.local_cpus = cpus, gpus, local_cpus
        self._actors: list[Any] = [None] * slots
        self._names = ["-"] * slots
        self._futures: dict[Any, int] = {}
        self._started_ray = False

    def start(self) -> None:
        ray = self.ray
        if not ray.is_initialized():
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if self.address:
                kwargs["address"] = self.address
            else:  # a private local instance: its start-up chatter is not the user's business
                kwargs["num_cpus"] = self.local_cpus
                kwargs["logging_level"] = logging.ERROR
                logging.getLogger("ray").setLevel(logging.ERROR)
            try:
                ray.init(**kwargs)
            except (ConnectionError, RuntimeError, ValueError) as exc:
                raise PosetrackError(f"--ray {self.address or ''}: cannot start or join Ray ({exc})") from None
            self._started_ray = True
        self._actor_class = ray.remote(num_cpus=self.cpus, num_gpus=self.gpus, max_restarts=0)(VideoWorker)
        for slot in range(self.slots):
            self._spawn(slot)

    def _spawn(self, slot: int) -> None:
        actor = self._actor_class.remote(self.spec)
        try:
            self._names[slot] = self.ray.get(actor.ready.remote())
        except self.ray.exceptions.RayError as exc:
            raise PosetrackError(f"Ray worker {slot} could not start: {str(exc).splitlines()[0]}") from None
        self._actors[slot] = actor

    def submit(self, slot: int, job: VideoJob) -> None:
        self._futures[self._actors[slot].track.remote(job)] = slot

    def poll(self, timeout: float) -> list[tuple[int, VideoResult | str]]:
        if not self._futures:
            return []
        ready, _ = self.ray.wait(list(self._futures), num_returns=1, timeout=timeout)
        out: list[tuple[int, VideoResult | str]] = []
        for future in ready:
            slot = self._futures.pop(future)
            try:
                out.append((slot, self.ray.get(future)))
            except (self.ray.exceptions.RayActorError, self.ray.exceptions.WorkerCrashedError,
                    self.ray.exceptions.ObjectLostError):
                self._spawn(slot)  # a fresh actor for the slot; the video goes back to the driver
                out.append((slot, LOST))
        return out

    def worker(self, slot: int) -> str:
        return self._names[slot]

    def stop(self) -> None:
        for actor in self._actors:
            if actor is not None:
                try:
                    self.ray.kill(actor)
                except Exception:  # already gone (a Ctrl-C reaches Ray's own processes too): nothing to stop
                    pass
        self._actors = [None] * self.slots
        self._futures.clear()
        if self._started_ray:
            self.ray.shutdown()
