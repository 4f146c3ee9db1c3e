"""Identity association: OKS similarity, optical-flow propagation, optimal assignment, track lifecycle."""

from posetrack.track.flow import FlowConfig, propagate
from posetrack.track.oks import box_iou, oks
from posetrack.track.smoothing import OneEuroConfig
from posetrack.track.tracker import PoseTracker, TrackerConfig, assign

__all__ = ["FlowConfig", "OneEuroConfig", "PoseTracker", "TrackerConfig", "assign", "box_iou", "oks", "propagate"]
