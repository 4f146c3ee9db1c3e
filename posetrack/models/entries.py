"""The models posetrack knows by name: one record each, and where each fact comes from.

- pose: MMPose's HRNet top-down heatmap checkpoints, PoseTrack18 (COCO pre-train, PoseTrack18 fine-tune) and COCO,
  at 256x192 and 384x288. URLs, file names (whose 8 hex digits are the file's sha256 prefix) and results from the
  MMPose model pages cited in each record; the preprocessing from their configs (RGB, ImageNet mean / std, box
  padding 1.25, MSRA heatmaps decoded by argmax + quarter-pixel shift). Every result MMPose reports was measured
  with flip test (``flip_test=True``, ``shift_heatmap=True`` in its configs): the ``reported`` text says so, and
  ``--flip-test`` runs it. The official HRNet release is on Google Drive and OneDrive only, without a direct URL:
  its files load by path (``--pose-model pose_hrnet_w32_256x192.pth``).
- detectors: the MMDeploy ONNX SDK zips that rtmlib downloads (``end2end.onnx`` with NMS inside, outputs
  ``dets (1, K, 5)`` and ``labels (1, K)``): RTMDet person models (BGR, mean 103.53 / 116.28 / 123.675, std 57.375
  / 57.12 / 58.395, keep-ratio resize padded bottom-right with 114, from their MMDetection configs) and YOLOX
  HumanArt models (BGR 0..255 unnormalised, the same letterbox, from rtmlib's ``yolox.py`` and MMPose's configs).
  The digits in a zip's name are those of the source checkpoint, not of the zip, so no zip digest is published:
  a zip is pinned on its first download that passes every check (``models.hub``), and its ``end2end.onnx`` is
  checked against the sha256 a public fetch script records where there is one (not verified on this project's
  machines, which have no network). Their exports are static: batch 1, one input size.
- the shipped demo models, trained on the synthetic world only (``posetrack/weights/README.md``).
"""

from __future__ import annotations

from pathlib import Path

from posetrack.models.hub import Remote
from posetrack.models.preprocess import RTMDET, YOLOX
from posetrack.models.records import DetectorRecord, PoseRecord, Record
from posetrack.skeleton import COCO17, POSETRACK17
from posetrack.transforms import Preprocess
from posetrack.types import Size, parse_hxw

WEIGHTS = Path(__file__).resolve().parent.parent / "weights"
FLIP = "with flip test"  # how MMPose measured every figure it reports

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
    size = parse_hxw(name.rsplit("_", 1)[1])
    assert size is not None, f"{name}: the name ends in its input size"
    remote = Remote(file, _MMPOSE + file, file.split("-")[-1][:8], size_mb=size_mb)
    return PoseRecord(name, config, size, skeleton, remote, refine="argmax", page=page, reported=f"{reported}, {FLIP}")


def _sdk_detector(name: str, zip_name: str, side: int, preprocess: Preprocess, reported: str,
                  onnx_sha256: str | None = None, size_mb: float | None = None, **kw) -> DetectorRecord:
    return DetectorRecord(name, Size(side, side), onnx=Remote(zip_name, _SDK + zip_name, None, "end2end.onnx",
                                                              onnx_sha256, size_mb),
                          preprocess=preprocess, layout="mmdeploy", batch=1, page=_RTMPOSE, reported=reported, **kw)


def builtin() -> list[Record]:
    """Every model posetrack knows by name, in the order ``posetrack models`` lists them."""
    return [
        PoseRecord("pose_demo", "demo", Size(128, 192), POSETRACK17, WEIGHTS / "pose_demo.pth",
                   calib_name="pose-demo", calib_count=512, synthetic_calibration=True,
                   page="posetrack/weights/README.md",
                   reported="synthetic held-out OKS AP 0.913 (ground-truth boxes, without flip test)",
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


