"""Append-only JSON-lines journals: what a run leaves on disk as it goes, so no finished frame is ever lost.

A journal is ``<output>.journal`` beside the file it will become: a header line (what to build, from what),
then one record per line. Each line is flushed to the operating system as soon as it is written (it survives
the process being killed, SIGKILL included) and fsync'd every ``sync_seconds`` (it survives a power cut up to
the last sync). A line torn by a kill mid-write is ignored when read back. The finished output is built from
the journal at the end of a run, or later by ``posetrack recover``; then the journal is deleted.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from posetrack.errors import PosetrackError

SUFFIX = ".journal"


def journal_path(output: str | Path) -> Path:
    """Where the journal of ``output`` lives: ``<output>.journal``."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


class Journal:
    """Writes ``header`` and then ``append``ed records (JSON-serialisable dicts), one line each.

    Args:
        path: the journal file (``journal_path(output)``); an old journal there is replaced, unless ``append``.
        header: the first line; ``read_header`` returns it as written.
        sync_seconds: longest time between fsyncs (a power cut loses at most this much).
        append: continue the journal at ``path`` if there is one (a line torn by a kill is cut off first).
    """

    def __init__(self, path: str | Path, header: dict[str, Any], sync_seconds: float = 2.0, append: bool = False):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._sync_seconds = sync_seconds
        self._synced = time.monotonic()
        self.records = 0
        if append and self.path.exists():
            _cut_torn_line(self.path)
        if append and self.path.exists() and self.path.stat().st_size:
            self._file = self.path.open("a", encoding="utf-8")
        else:
            self._file = self.path.open("w", encoding="utf-8")
            self._line(header)

    def append(self, record: dict[str, Any]) -> None:
        self._line(record)
        self.records += 1

    def _line(self, obj: dict[str, Any]) -> None:
        self._file.write(json.dumps(obj, separators=(",", ":"), allow_nan=False) + "\n")
        self._file.flush()
        if time.monotonic() - self._synced >= self._sync_seconds:
            os.fsync(self._file.fileno())
            self._synced = time.monotonic()

    def close(self) -> None:
        if not self._file.closed:
            self._file.close()

    def discard(self) -> None:
        """Close and delete the journal (its output is complete)."""
        self.close()
        self.path.unlink(missing_ok=True)


def _cut_torn_line(path: Path) -> None:
    """Drop a last line without its newline (a write cut off by a kill), so that appending stays line-aligned."""
    with path.open("rb+") as f:
        data = f.read()
        if data and not data.endswith(b"\n"):
            f.truncate(data.rfind(b"\n") + 1)


def read_header(path: str | Path) -> dict[str, Any]:
    """The header of the journal at ``path``; ``PosetrackError`` naming it if it has none."""
    path = Path(path)
    try:
        with path.open(encoding="utf-8") as f:
            header = json.loads(f.readline())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise PosetrackError(f"{path}: not a posetrack journal ({exc})") from None
    if not isinstance(header, dict) or "kind" not in header:
        raise PosetrackError(f"{path}: not a posetrack journal (no header line)")
    return header


def read_records(path: str | Path) -> Iterator[dict[str, Any]]:
    """The records of the journal at ``path``, in order, one at a time (the file is streamed, not loaded). A last
    line cut off mid-write is skipped; a damaged line elsewhere raises ``PosetrackError``."""
    path = Path(path)
    with path.open(encoding="utf-8") as f:
        f.readline()  # the header
        for number, line in enumerate(f, start=2):
            if not line.endswith("\n"):
                return  # torn by a kill mid-write: everything before it is whole
            try:
                record = json.loads(line)
            except json.JSONDecodeError:
                raise PosetrackError(f"{path}: line {number} is damaged") from None
            yield record
