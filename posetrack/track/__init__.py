"""Identity association: optical-flow propagation, similarity functions (OKS, IoU, your own), optimal assignment,
track lifecycle (``tracker``: one ``update`` a frame), and the keyframe policy (``follow``). The settings are
``options``' (``TrackerConfig``, ``FlowConfig``, ``OneEuroConfig``, ``KeyframeOptions``), re-exported here."""

from posetrack.options import FlowConfig, OneEuroConfig, TrackerConfig
from posetrack.track.flow import propagate
from posetrack.track.oks import box_iou, oks
from posetrack.track.similarity import SIMILARITIES, Similarity, iou_similarity, motion_similarity, oks_similarity
from posetrack.track.state import Tracks
from posetrack.track.tracker import PoseTracker, Prediction, Proposals, TrackUpdate, assign

__all__ = ["SIMILARITIES", "FlowConfig", "OneEuroConfig", "PoseTracker", "Prediction", "Proposals", "Similarity",
           "TrackUpdate", "TrackerConfig", "Tracks", "assign", "box_iou", "iou_similarity", "motion_similarity", "oks",
           "oks_similarity", "propagate"]
