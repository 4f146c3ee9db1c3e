"""Identity association: optical-flow propagation, similarity functions (OKS, IoU, your own), optimal assignment,
track lifecycle."""

from posetrack.track.flow import FlowConfig, propagate
from posetrack.track.oks import box_iou, oks
from posetrack.track.similarity import SIMILARITIES, Similarity, iou_similarity, motion_similarity, oks_similarity
from posetrack.track.smoothing import OneEuroConfig
from posetrack.track.state import Tracks
from posetrack.track.tracker import PoseTracker, Proposals, TrackerConfig, assign

__all__ = ["SIMILARITIES", "FlowConfig", "OneEuroConfig", "PoseTracker", "Proposals", "Similarity", "TrackerConfig", "Tracks",
           "assign", "box_iou", "iou_similarity", "motion_similarity", "oks", "oks_similarity", "propagate"]
