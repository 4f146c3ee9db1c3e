"""Many videos at once: ``track_videos`` spreads whole videos over worker processes on this machine or actors
on a Ray cluster, writes each video's outputs atomically, and keeps a ledger so that a rerun skips finished
videos and retries failed or unfinished ones.

``sources`` (what to track) → ``ledger`` (what is done) → ``worker`` (one video, one worker) → ``local`` /
``ray_executor`` (where workers run) → ``run`` (the driver: dispatch, retries, progress, summary).
"""

from posetrack.batch.run import BatchSummary, track_videos

__all__ = ["BatchSummary", "track_videos"]
