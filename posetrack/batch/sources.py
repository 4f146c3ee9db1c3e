"""What a batch tracks: video files, folders of videos, image folders (one sequence each), globs and list files,
each with the stem its outputs are named by."""

from __future__ import annotations

import glob
import re
from dataclasses import dataclass
from pathlib import Path

from posetrack.errors import PosetrackError
from posetrack.io.sources import IMAGE_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".avi", ".mov", ".mkv", ".webm", ".m4v", ".mpg", ".mpeg", ".wmv", ".ts", ".mts"}


@dataclass(frozen=True)
class Source:
    """One video (or image folder) and the stem its outputs get in the output folder."""

    path: Path
    stem: str


def is_image_folder(path: Path) -> bool:
    return path.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in path.iterdir() if p.is_file())


def _videos_in(folder: Path, recursive: bool) -> list[Path]:
    entries = sorted(folder.rglob("*") if recursive else folder.iterdir())
    found = [p for p in entries if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES]
    if recursive:  # image folders below are sequences of their own
        found += [p for p in entries if p.is_dir() and is_image_folder(p)]
    return sorted(found)


def _expand(item: str, recursive: bool) -> list[Path]:
    path = Path(item)
    if not path.exists() and glob.has_magic(item):
        matches = sorted(Path(p) for p in glob.glob(item, recursive=recursive))
        if not matches:
            raise PosetrackError(f"{item}: the pattern matches nothing")
        return [m for p in matches for m in (_expand(str(p), recursive) if p.is_dir() else [p])]
    if not path.exists():
        raise PosetrackError(f"{item}: no such file or folder")
    if path.is_dir() and not is_image_folder(path):
        videos = _videos_in(path, recursive)
        if not videos:
            hint = "" if recursive else " (--recursive looks in subfolders)"
            raise PosetrackError(f"{item}: folder has no videos or images{hint}")
        return videos
    return [path]


def read_list(path: Path) -> list[str]:
    """The sources named in a list file: one path per line; blank lines and ``#`` comments are skipped; relative
    paths are relative to the list file's folder."""
    try:
        lines = path.read_text().splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise PosetrackError(f"{path}: cannot read the list ({exc})") from None
    items = [line.strip() for line in lines if line.strip() and not line.strip().startswith("#")]
    return [item if Path(item).is_absolute() else str(path.parent / item) for item in items]


def collect(items: list[str], list_file: Path | None = None, recursive: bool = False) -> list[Source]:
    """Every video the arguments name, in order, each once, with unique stems: a video's file stem, or where two
    share one, its path relative to their common folder with separators turned into ``_`` (deterministic)."""
    named = list(items) + (read_list(list_file) if list_file is not None else [])
    if not named:
        raise PosetrackError("no source given")
    paths: list[Path] = []
    for item in named:
        for p in _expand(item, recursive):
            if p.resolve() not in {q.resolve() for q in paths}:
                paths.append(p)
    return [Source(p, s) for p, s in zip(paths, _stems(paths))]


def _stems(paths: list[Path]) -> list[str]:
    stems = [p.stem if p.is_file() else p.name for p in paths]
    clashing = {s for s in stems if stems.count(s) > 1}
    if not clashing:
        return stems
    resolved = [p.resolve() for p in paths]
    out = []
    for r, s in zip(resolved, stems):
        if s not in clashing:
            out.append(s)
            continue
        group = [q for q, t in zip(resolved, stems) if t == s]
        root = Path(_common(group))
        rel = r.relative_to(root).with_suffix("") if r.is_file() else r.relative_to(root)
        out.append(re.sub(r"[^\w.-]", "_", str(rel)))
    if len(set(out)) != len(out):  # e.g. a.mp4 and a.avi side by side
        out = [f"{s}_{p.suffix.lstrip('.')}" if out.count(s) > 1 else s for s, p in zip(out, paths)]
    return out


def _common(paths: list[Path]) -> str:
    import os

    common = os.path.commonpath([str(p) for p in paths])
    return common if not Path(common).is_file() else str(Path(common).parent)
