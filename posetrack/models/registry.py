"""The registry of models, as timm's: every model posetrack knows is one named record (``models.records``), the
shipped demo models included, and one function makes each.

``list_models(task)`` names them, ``get_model(name)`` returns a record (a registered name or alias, or a path:
a user's checkpoint or ONNX file becomes a record on the spot), ``create_model(name)`` the PyTorch network with
its weights (fetched on first use), ``model_file(name)`` the weights or ONNX file itself, and
``register_model(record)`` adds one (tests, and users with models of their own).

The built-in entries and where each fact comes from:
- pose: MMPose's HRNet top-down heatmap checkpoints, PoseTrack18 (COCO pre-train, PoseTrack18 fine-tune) and COCO,
  at 256x192 and 384x288. URLs, file names (whose 8 hex digits are the file's sha256 prefix) and results from the
  MMPose model pages cited in each record; the preprocessing from their configs (RGB, ImageNet mean / std, box
  padding 1.25, MSRA heatmaps decoded by argmax + quarter-pixel shift). The official HRNet release is on Google
  Drive and OneDrive only, without a direct URL: its files load by path (``--pose-model pose_hrnet_w32_256x192.pth``).
- detectors: the MMDeploy ONNX SDK zips that rtmlib downloads (``end2end.onnx`` with NMS inside, outputs
  ``dets (1, K, 5)`` and ``labels (1, K)``): RTMDet person models (BGR, mean 103.53 / 116.28 / 123.675, std 57.375
  / 57.12 / 58.395, keep-ratio resize padded bottom-right with 114, from their MMDetection configs) and YOLOX
  HumanArt models (BGR 0..255 unnormalised, the same letterbox, from rtmlib's ``yolox.py`` and MMPose's configs).
  The digits in a zip's name are those of the source checkpoint, not of the zip, so no zip digest is published:
  a zip is pinned on first download (``models.hub``), and its ``end2end.onnx`` is checked against the sha256 a
  public fetch script records where there is one (not verified on this project's machines, which have no network).
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path

import torch

from posetrack.errors import PosetrackError
from posetrack.models.checkpoints import load_checkpoint, read_state_dict
from posetrack.models.detector import PersonDetector, YoloLayout
from posetrack.models.hrnet import CONFIGS, hrnet
from posetrack.models.hub import Remote, fetch, is_cached
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.skeleton import COCO17, POSETRACK17, SKELETONS
from posetrack.transforms import Preprocess
from posetrack.types import Size

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"

# ------------------------------------------------------------------------------------------ preprocessing

# Detector preprocessing by name (``--detector-preprocess``, sidecar JSON ``"preprocess"``).
ULTRALYTICS = Preprocess("rgb", (0.0, 0.0, 0.0), (255.0, 255.0, 255.0), "centre", 114)  # RGB / 255, centred
YOLOX = Preprocess("bgr", (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), "top-left", 114)  # raw BGR 0..255
RTMDET = Preprocess("bgr", (103.53, 116.28, 123.675), (57.375, 57.12, 58.395), "top-left", 114)
DETECTOR_PREPROCESS = {"ultralytics": ULTRALYTICS, "yolox": YOLOX, "rtmdet": RTMDET, "imagenet": Preprocess()}

# ------------------------------------------------------------------------------------------ the entries

_MMPOSE = "https://download.openmmlab.com/mmpose/top_down/hrnet/"
_SDK = "https://download.openmmlab.com/mmpose/v1/projects/rtmposev1/onnx_sdk/"
_PT18_0X = ("https://github.com/open-mmlab/mmpose/blob/0.x/configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/"
            "posetrack18/hrnet_posetrack18.md")
_PT18_1X = ("https://github.com/open-mmlab/mmpose/blob/main/configs/body_2d_keypoint/topdown_heatmap/posetrack18/"
            "hrnet_posetrack18.md")
_COCO = ("https://github.com/open-mmlab/mmpose/blob/0.x/configs/body/2d_kpt_sview_rgb_img/topdown_heatmap/coco/"
         "hrnet_coco.md")
_RTMPOSE = "https://github.com/open-mmlab/mmpose/blob/main/projects/rtmpose/README.md"


def _mmpose_hrnet(name: str, file: str, size_mb: float, skeleton, page: str, reported: str) -> PoseRecord:
    """An MMPose HRNet checkpoint; ``size_mb``: its float32 weights (the architecture's parameter count x 4 bytes,
    as the pages state no size)."""
    config = "w48" if "w48" in name else "w32"
    h, w = (int(v) for v in name.rsplit("_", 1)[1].split("x"))
    return PoseRecord(name, config, Size(w, h), skeleton, Remote(file, _MMPOSE + file, file.split("-")[-1][:8],
                                                                   size_mb=size_mb),
                      refine="argmax", page=page, reported=reported)


def _sdk_detector(name: str, zip_name: str, side: int, preprocess: Preprocess, reported: str,
                  onnx_sha256: str | None = None, size_mb: float | None = None, **kw) -> DetectorRecord:
    return DetectorRecord(name, Size(side, side), onnx=Remote(zip_name, _SDK + zip_name, None, "end2end.onnx",
                                                              onnx_sha256, size_mb),
                          preprocess=preprocess, layout="mmdeploy", page=_RTMPOSE, reported=reported, **kw)


def _builtin() -> list[Record]:
    return [
        PoseRecord("pose_demo", "demo", Size(128, 192), POSETRACK17, WEIGHTS / "pose_demo.pth",
                   calib_name="pose-demo", calib_count=512, synthetic_calibration=True,
                   page="posetrack/weights/README.md", reported="synthetic held-out OKS AP 0.913 (ground-truth boxes)",
                   aliases=("demo",)),
        _mmpose_hrnet("hrnet_w32_posetrack18_256x192", "hrnet_w32_posetrack18_256x192-1ee951c4_20201028.pth", 114,
                      POSETRACK17, _PT18_0X, "PoseTrack18 val mAP 83.0 (ground-truth boxes; 76.9 with Cascade R-CNN "
                                             "boxes)"),
        _mmpose_hrnet("hrnet_w32_posetrack18_384x288", "hrnet_w32_posetrack18_384x288-806f00a3_20211130.pth", 114,
                      POSETRACK17, _PT18_1X, "PoseTrack18 val mAP 83.7 (ground-truth boxes)"),
        _mmpose_hrnet("hrnet_w48_posetrack18_256x192", "hrnet_w48_posetrack18_256x192-b5d9b3f1_20211130.pth", 255,
                      POSETRACK17, _PT18_1X, "PoseTrack18 val mAP 84.6 (ground-truth boxes)"),
        _mmpose_hrnet("hrnet_w48_posetrack18_384x288", "hrnet_w48_posetrack18_384x288-5fd6d3ff_20211130.pth", 255,
                      POSETRACK17, _PT18_1X, "PoseTrack18 val mAP 84.6 (ground-truth boxes)"),
        _mmpose_hrnet("hrnet_w32_coco_256x192", "hrnet_w32_coco_256x192-c78dce93_20200708.pth", 114, COCO17, _COCO,
                      "COCO val2017 AP 74.6 (detector with person AP 56.4)"),
        _mmpose_hrnet("hrnet_w32_coco_384x288", "hrnet_w32_coco_384x288-d9f0d786_20200708.pth", 114, COCO17, _COCO,
                      "COCO val2017 AP 76.0 (detector with person AP 56.4)"),
        _mmpose_hrnet("hrnet_w48_coco_256x192", "hrnet_w48_coco_256x192-b9e0b3ab_20200708.pth", 255, COCO17, _COCO,
                      "COCO val2017 AP 75.6 (detector with person AP 56.4)"),
        _mmpose_hrnet("hrnet_w48_coco_384x288", "hrnet_w48_coco_384x288-314c8528_20200708.pth", 255, COCO17, _COCO,
                      "COCO val2017 AP 76.7 (detector with person AP 56.4)"),
        DetectorRecord(
            "detector_demo", Size(448, 256), WEIGHTS / "detector_demo.pth",  # 640x360 frames letterbox to 448x252
            # tuned on the 150-frame validation clips (crossing 90001, crowd 90002): MOTA 73.3 at 0.3, 75.7 at 0.5,
            # 77.1 at 0.6, 77.3 at 0.7, 75.1 at 0.8
            conf_threshold=0.7, synthetic_calibration=True, layout="ultralytics", page="posetrack/weights/README.md",
            reported="synthetic held-out box AP50 0.909", aliases=("demo",),
            # outputs are box coordinates in input pixels (up to hundreds); PyTorch's own first call in a long
            # process can be 0.01 px off a float64 reference, so the parity bar is a tenth of a pixel
            export_atol=0.1),
        _sdk_detector("rtmdet_nano_person", "rtmdet_nano_8xb32-100e_coco-obj365-person-05d8511e.zip", 320, RTMDET,
                      "COCO person AP 40.3 (0.31 GFLOPs)", size_mb=4,
                      onnx_sha256="8297e829ccc5590c8e2d32d5a211f322a0585fb7467eec85eb12c9525b0b95d6"),
        _sdk_detector("rtmdet_m_person", "rtmdet_m_8xb32-100e_coco-obj365-person-235e8209.zip", 640, RTMDET,
                      "COCO person AP 62.5 (38.95 GFLOPs)"),
        _sdk_detector("yolox_nano_humanart", "yolox_nano_8xb8-300e_humanart-40f6f0d0.zip", 416, YOLOX,
                      "Human-Art person AP 38.9"),
        _sdk_detector("yolox_tiny_humanart", "yolox_tiny_8xb8-300e_humanart-6f3252f9.zip", 416, YOLOX,
                      "Human-Art person AP 47.7",
                      onnx_sha256="ceb11c07298f95c50d7c5abeb906d03340c85f23aa79e3e66966e7fb6c307250"),
        _sdk_detector("yolox_s_humanart", "yolox_s_8xb8-300e_humanart-3ef259a7.zip", 640, YOLOX,
                      "Human-Art person AP 54.6"),
        _sdk_detector("yolox_m_humanart", "yolox_m_8xb8-300e_humanart-c2c7a14a.zip", 640, YOLOX,
                      "Human-Art person AP 59.1",
                      onnx_sha256="3dea6513388889f0fff4b77bf7a26013600321b9eb9ceb0e9a400a82572f5f23"),
        _sdk_detector("yolox_l_humanart", "yolox_l_8xb8-300e_humanart-ce1d7a62.zip", 640, YOLOX,
                      "Human-Art person AP 60.2"),
        _sdk_detector("yolox_x_humanart", "yolox_x_8xb8-300e_humanart-a39d44ed.zip", 640, YOLOX,
                      "Human-Art person AP 61.3"),
    ]


_REGISTRY: dict[str, Record] = {}


def register_model(record: Record, overwrite: bool = False) -> Record:
    """Add ``record`` under its name (and aliases, within its task); returns it."""
    if record.name in _REGISTRY and not overwrite:
        raise ValueError(f"a model named {record.name!r} is registered already (overwrite=True replaces it)")
    _REGISTRY[record.name] = record
    return record


def unregister_model(name: str) -> None:
    _REGISTRY.pop(name, None)


for _record in _builtin():
    register_model(_record)



def list_models(task: str | None = None) -> list[str]:
    """Registered model names (of ``task``: ``"pose"`` or ``"detector"``), in registration order."""
    return [n for n, r in _REGISTRY.items() if task is None or r.task == task]


def _by_name(name: str, task: str | None) -> Record | None:
    record = _REGISTRY.get(name)
    if record is not None and (task is None or record.task == task):
        return record
    return next((r for r in _REGISTRY.values() if name in r.aliases and (task is None or r.task == task)), None)


def get_model(name: str | Path, task: str | None = None) -> Record:
    """The record of a registered model (name or alias) of ``task``, or of a file: a checkpoint (``.pth``/``.pt``:
    an HRNet whose width is read from its weights) or an ONNX detector (``.onnx``).

    Raises:
        PosetrackError: no such model or file (naming the closest registered names).
    """
    if isinstance(name, str):
        found = _by_name(name, task)
        if found is not None:
            return found
    path = Path(name)
    if path.suffix.lower() in (".pth", ".pt", ".onnx") or path.exists():
        if not path.is_file():
            raise PosetrackError(f"{path}: no such model file")
        if path.suffix.lower() == ".onnx":
            return onnx_detector(path)
        return checkpoint_pose(path)
    names = list_models(task)
    close = difflib.get_close_matches(str(name), names + [a for n in names for a in _REGISTRY[n].aliases], 3, 0.5)
    hint = f"; did you mean {' or '.join(close)}?" if close else f"; `posetrack models` lists the {len(names)} known"
    raise PosetrackError(f"unknown {task or ''} model {str(name)!r}{hint}".replace("  ", " "))


def pose_model(name: str | Path) -> PoseRecord:
    record = get_model(name, "pose")
    if not isinstance(record, PoseRecord):
        raise PosetrackError(f"{name}: a {record.task} model, not a pose model")
    return record


def detector_model(name: str | Path) -> DetectorRecord:
    record = get_model(name, "detector")
    if not isinstance(record, DetectorRecord):
        raise PosetrackError(f"{name}: a {record.task} model, not a person detector")
    return record


DEMO_POSE = pose_model("pose_demo")
DEMO_DETECTOR = detector_model("detector_demo")


def is_fetched(record: Record) -> bool:
    """Whether the record's files are on this machine (shipped, a user's file, or in the cache)."""
    source = record.source
    if isinstance(source, Remote):
        return is_cached(source)
    return source is None or Path(source).is_file()


def model_file(record: Record, progress: bool = True) -> Path | None:
    """The local weights (pose) or network (detector) file of ``record``, downloaded on first use; None for random
    weights."""
    source = record.source
    if isinstance(source, Remote):
        return fetch(source, record.name, progress)
    if source is not None and not Path(source).is_file():
        raise PosetrackError(f"{source}: {record.task} model file of {record.name} not found")
    return source


# ------------------------------------------------------------------------------------------ user files


def checkpoint_pose(path: Path, input_size: Size | None = None, skeleton: str | None = None,
                    config: str | None = None) -> PoseRecord:
    """The record of a user's HRNet checkpoint (official or MMPose format). The width (``w32`` / ``w48``) is read
    from the weights unless ``config`` says; the input defaults to the size in the file name (``..._384x288...``),
    else 256x192; the joints to COCO-17, or PoseTrack-17 when the name says ``posetrack``."""
    name = path.name.lower()
    if input_size is None:
        found = _sizes(name)
        h, w = (int(v) for v in found[0].split("x")) if found else (256, 192)
        input_size = Size(w, h)
    layout = SKELETONS[skeleton] if skeleton else (POSETRACK17 if "posetrack" in name else COCO17)
    return PoseRecord(path.stem, config or _width_of(path), input_size, layout, path, page=str(path))


def _sizes(name: str) -> list[str]:
    """Input sizes written in a file name as checkpoint names write them (``..._384x288...``: height x width)."""
    return re.findall(r"(?<!\d)(\d{3}x\d{3})(?!\d)", name)


def _width_of(path: Path) -> str:
    """The HRNet config whose branch-0 width the checkpoint's first transition has."""
    state = read_state_dict(path)
    weight = state.get("transition1.0.0.weight")
    width = int(weight.shape[0]) if weight is not None else None
    for config, extra in CONFIGS.items():
        if extra["STAGE2"]["NUM_CHANNELS"][0] == width and "STEM_INPLANES" not in extra:
            return config
    raise PosetrackError(f"{path}: not an HRNet-W32/W48 checkpoint (first-branch width {width}); name its config "
                         "with --pose-config")


def onnx_detector(path: Path, preprocess: Preprocess | None = None, input_size: Size | None = None) -> DetectorRecord:
    """The record of a user's ONNX detector. Its output layout is read from the network when it runs; its
    preprocessing comes from ``preprocess``, else a sidecar (``<file>.json`` or an MMDeploy ``pipeline.json``
    beside it), else Ultralytics' (RGB / 255, centred letterbox, fill 114), and its input size from the file."""
    from posetrack.models.sidecar import read_sidecar

    side = read_sidecar(path)
    prep = preprocess or side.preprocess or ULTRALYTICS
    return DetectorRecord(path.stem, input_size or side.input_size or _onnx_input_size(path), onnx=path,
                          preprocess=prep, layout=side.layout or "auto",
                          conf_threshold=side.conf if side.conf is not None else 0.3, page=str(path))


def _onnx_input_size(path: Path) -> Size:
    import onnx

    try:
        graph = onnx.load(str(path), load_external_data=False).graph
    except Exception as exc:  # onnx raises DecodeError and friends for damaged files
        raise PosetrackError(f"{path}: not a readable ONNX file ({type(exc).__name__})") from None
    dims = [d.dim_value if d.HasField("dim_value") else None for d in graph.input[0].type.tensor_type.shape.dim]
    if len(dims) != 4 or not dims[2] or not dims[3]:
        raise PosetrackError(f"{path}: input shape {dims} has no fixed (N, 3, H, W) size; give one with --imgsz")
    return Size(int(dims[3]), int(dims[2]))


# ------------------------------------------------------------------------------------------ networks


def create_model(name: str | Path | Record, pretrained: bool = True, progress: bool = True) -> torch.nn.Module:
    """The PyTorch network of a model, in eval mode, with its weights (fetched on first use; float16 files load as
    float32); ``pretrained=False``: the architecture with random weights (seed 0).

    Raises:
        PosetrackError: an ONNX-only detector (it has no PyTorch network: ``model_file`` gives its file).
    """
    record = name if isinstance(name, (PoseRecord, DetectorRecord)) else get_model(name)
    if isinstance(record, PoseRecord):
        net = hrnet(record.config, record.skeleton.num_joints)
        path = model_file(record, progress) if pretrained else None
        if path is None:
            with torch.random.fork_rng():
                torch.manual_seed(0)
                return hrnet(record.config, record.skeleton.num_joints).eval()
        return load_checkpoint(net, path).eval()
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
