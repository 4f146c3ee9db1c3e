"""The ledger of a batch: ``OUT/ledger.jsonl``, one JSON line per event (a video started, finished or failed),
appended and flushed by the driver alone, so it survives any crash with every line before it whole.

A video counts as done when its last entry is ``done`` for the same input (size and modification time), the same
options, and its outputs are all still there; anything else (failed, started but never finished, changed input or
options, a deleted output) is tracked again by a rerun.
"""

from __future__ import annotations

import datetime
import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from posetrack.errors import PosetrackError
from posetrack.io.journal import Journal, read_header, read_records

NAME = "ledger.jsonl"


def input_key(path: Path) -> dict[str, int]:
    """What identifies a video's content cheaply: size and modification time (of every image, for a folder)."""
    files = sorted(p for p in path.iterdir() if p.is_file()) if path.is_dir() else [path]
    stats = [p.stat() for p in files]
    return {"bytes": sum(s.st_size for s in stats), "mtime_ns": max((s.st_mtime_ns for s in stats), default=0),
            "files": len(files)}


def options_digest(options: Any) -> str:
    """A short digest of the options that shape the outputs (their ``repr``: frozen dataclasses, stable)."""
    return hashlib.sha256(repr(options).encode()).hexdigest()[:16]


@dataclass
class VideoResult:
    """What tracking one video gave: status ``done`` or ``failed`` (with its one-line ``error``), output file names
    (in the output folder), counts, seconds, and the worker (``host:pid``)."""

    video: str
    stem: str
    status: str
    worker: str = ""
    frames: int = 0
    persons: int = 0
    tracks: int = 0
    seconds: float = 0.0
    outputs: list[str] = field(default_factory=list)
    error: str = ""


@dataclass
class Entry(VideoResult):
    """One line of the ledger: a video's result (``status`` started, done or failed) with what identifies the
    attempt: the input's key, the options' digest, the attempt number and the time."""

    input: dict[str, int] = field(default_factory=dict, kw_only=True)
    options: str = field(default="", kw_only=True)
    attempt: int = field(default=1, kw_only=True)
    time: str = field(default="", kw_only=True)


class Ledger:
    """The ledger at ``folder / NAME``: read at open (latest entry per video), appended to as the batch goes."""

    def __init__(self, folder: Path):
        self.path = folder / NAME
        self.latest: dict[str, Entry] = {}
        if self.path.exists():
            header = read_header(self.path)
            if header.get("kind") != "ledger":
                raise PosetrackError(f"{self.path}: not a posetrack ledger")
            for record in read_records(self.path):
                try:
                    entry = Entry(**record)
                except TypeError:
                    raise PosetrackError(f"{self.path}: damaged entry {record!r:.80}") from None
                self.latest[entry.video] = entry
        self._journal = Journal(self.path, {"kind": "ledger", "version": 1}, sync_seconds=0.0, append=True)

    def is_done(self, video: Path, key: dict[str, int], options: str, folder: Path) -> bool:
        entry = self.latest.get(str(video.resolve()))
        return (entry is not None and entry.status == "done" and entry.input == key and entry.options == options
                and all((folder / name).exists() for name in entry.outputs))

    def write(self, entry: Entry) -> None:
        entry.time = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
        self.latest[entry.video] = entry
        self._journal.append(asdict(entry))

    def close(self) -> None:
        self._journal.close()


def summary_json(entries: list[Entry], seconds: float, workers: int, executor: str) -> str:
    """``summary.json``: per video and totals (frames, persons, throughput, failures)."""
    done = [e for e in entries if e.status == "done"]
    frames = sum(e.frames for e in done)
    return json.dumps({
        "executor": executor, "workers": workers, "seconds": round(seconds, 2),
        "videos": len(entries), "done": len(done), "failed": len(entries) - len(done), "frames": frames,
        "frames_per_s": round(frames / seconds, 2) if seconds > 0 else 0.0,
        "videos_per_s": round(len(done) / seconds, 4) if seconds > 0 else 0.0,
        "per_video": [asdict(e) for e in entries],
    }, indent=1)
