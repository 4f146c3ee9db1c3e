"""Making what a record describes: its file (fetched on first use, ``models.hub``) and its PyTorch network with
its weights (``create_model``), as timm's ``create_model`` does from its pretrained configs."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch

from posetrack.errors import PosetrackError
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.detector import PersonDetector, YoloLayout
from posetrack.models.hrnet import hrnet
from posetrack.models.hub import OFFLINE_ENV, DownloadError, Remote, fetch, is_cached, models_dir, offline
from posetrack.models.onnx_files import check_runnable
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.models.registry import get_model
from posetrack.skeleton import COCO17
from posetrack.types import Size


def is_fetched(record: Record) -> bool:
    """Whether the record's files are on this machine (shipped, a user's file, or in the cache)."""
    source = record.source
    if isinstance(source, Remote):
        return is_cached(source)
    return source is None or Path(source).is_file()


def model_file(record: Record, progress: bool = True) -> Path | None:
    """The local weights (pose) or network (detector) file of ``record``, downloaded on first use (an ONNX network is
    kept only once ONNX Runtime opens it); None for random weights."""
    source = record.source
    if isinstance(source, Remote):
        onnx = (source.member or source.file).lower().endswith(".onnx")
        return fetch(source, record.name, progress, verify=check_runnable if onnx else None)
    if source is not None and not Path(source).is_file():
        raise PosetrackError(f"{source}: {record.task} model file of {record.name} not found")
    return source


def fetch_all(records: Iterable[Record], progress: bool = True) -> None:
    """Every record's file on this machine now (fetched where missing). The ones that cannot be fetched are named
    together in one line, with the ways to run without network, instead of one per try."""
    failed: list[DownloadError] = []
    for record in records:
        try:
            model_file(record, progress)
        except DownloadError as exc:
            failed.append(exc)
    if len(failed) == 1 and not offline():
        raise failed[0]
    if failed:
        raise PosetrackError(_offline_line(failed))


def _offline_line(failed: list[DownloadError]) -> str:
    names = " ".join(e.name for e in failed)
    files = ", ".join(e.remote.file for e in failed)
    reasons = sorted({e.reason for e in failed})
    why = f"{OFFLINE_ENV} is set" if offline() else "; ".join(reasons)
    return (f"cannot download {', '.join(e.name for e in failed)} ({why}). To run without network: the demo models "
            f"(--pose-model demo --detector demo) need none; or run `posetrack models fetch {names}` on a connected "
            f"machine and copy its model cache to {models_dir()}; or set POSETRACK_MIRROR=URL to a server holding "
            f"{files}")


def create_model(name: str | Path | Record, pretrained: bool = True, progress: bool = True) -> torch.nn.Module:
    """The PyTorch network of a model, in eval mode, with its weights (fetched on first use; float16 files load as
    float32); ``pretrained=False``: the architecture with random weights (seed 0).

    Raises:
        PosetrackError: an ONNX-only detector (it has no PyTorch network: ``model_file`` gives its file).
    """
    record = name if isinstance(name, (PoseRecord, DetectorRecord)) else get_model(name)
    if isinstance(record, PoseRecord):
        path = model_file(record, progress) if pretrained else None
        if path is None:
            with torch.random.fork_rng():
                torch.manual_seed(0)
                return hrnet(record.config, record.skeleton.num_joints).eval()
        return load_checkpoint(hrnet(record.config, record.skeleton.num_joints), path).eval()
    if record.weights is None:
        raise PosetrackError(f"{record.name} is an ONNX network without a PyTorch definition; its file is "
                             f"posetrack.models.model_file(...) ({record.onnx})")
    detector = PersonDetector()
    if pretrained:
        path = model_file(record, progress)
        assert path is not None
        detector.load_state_dict({k: v.float() for k, v in torch.load(path, weights_only=True).items()})
    return YoloLayout(detector.eval()).eval()


def random_pose(config: str, input_size: Size = Size(192, 256)) -> PoseRecord:
    """An HRNet architecture with random weights (seed 0), COCO-17: for speed measurements."""
    return PoseRecord(f"pose_{config}", config, input_size, COCO17, None)
