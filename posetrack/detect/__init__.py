"""Person detection: any ``Detector`` gives ``detect(frame) -> Detections`` with boxes in image pixels.

``NetworkDetector`` runs a network of any common export layout (``layouts``: Ultralytics YOLOv8/11, YOLOv5/v7,
MMDeploy end2end such as RTMDet and YOLOX, post-NMS) with the preprocessing of its record; ``files`` holds
precomputed detections (COCO results) and ground-truth boxes.
"""

from posetrack.detect.files import GroundTruthDetections, PrecomputedDetections
from posetrack.detect.layouts import decode, infer_layout, nms
from posetrack.detect.network import Detector, NetworkDetector, prepare_frame

__all__ = ["Detector", "GroundTruthDetections", "NetworkDetector", "PrecomputedDetections", "decode", "infer_layout",
           "nms", "prepare_frame"]
