"""An articulated human figure: body shape, posture → 3D joints → image points and drawable parts.

The body lives in a local frame measured in body heights: x to the person's left, y up, z forward,
feet on y = 0. A posture (walk phase, arm angles, crouch, yaw) places 19 named points — the COCO-17
joints plus ``head_bottom`` and ``head_top`` — and the figure is drawn from capsules (limbs), a convex
torso and circles (head, hair, ears, face) around exactly those points, so the ground truth is where the
renderer drew the joints.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from posetrack.skeleton import COCO17

POINTS = (*COCO17.joints, "head_bottom", "head_top")
P = {name: i for i, name in enumerate(POINTS)}

# Drawable part ids (per person). A joint counts as visible when the topmost primitive over it is one of
# its own parts (``JOINT_PARTS``) and, for surface points, its outward normal does not face away.
PARTS = ("torso", "neck", "head", "hair", "face", "l_ear", "r_ear",
         "l_upper_arm", "l_forearm", "r_upper_arm", "r_forearm",
         "l_thigh", "l_shin", "r_thigh", "r_shin")
PART = {name: i for i, name in enumerate(PARTS)}

JOINT_PARTS: dict[str, tuple[str, ...]] = {
    "nose": ("head", "face"), "left_eye": ("head", "face"), "right_eye": ("head", "face"),
    "left_ear": ("head", "l_ear"), "right_ear": ("head", "r_ear"),
    "left_shoulder": ("torso", "l_upper_arm"), "right_shoulder": ("torso", "r_upper_arm"),
    "left_elbow": ("l_upper_arm", "l_forearm"), "right_elbow": ("r_upper_arm", "r_forearm"),
    "left_wrist": ("l_forearm",), "right_wrist": ("r_forearm",),
    "left_hip": ("torso", "l_thigh"), "right_hip": ("torso", "r_thigh"),
    "left_knee": ("l_thigh", "l_shin"), "right_knee": ("r_thigh", "r_shin"),
    "left_ankle": ("l_shin",), "right_ankle": ("r_shin",),
    "head_bottom": ("neck", "torso", "head"), "head_top": ("head", "hair"),
}
# (J, len(PARTS)) bool: which parts may carry each joint.
ALLOWED = np.array([[p in JOINT_PARTS[j] for p in PARTS] for j in POINTS])


@dataclass(frozen=True)
class Body:
    """Constant shape and look of one person (lengths in body heights, colours BGR uint8 triples)."""

    height_m: float
    shin: float
    thigh: float
    torso: float
    upper_arm: float
    forearm: float
    shoulder_width: float
    hip_width: float
    head_radius: float
    limb_width: float  # arm capsule diameter; legs are 1.3x
    skin: tuple[int, int, int]
    shirt: tuple[int, int, int]
    pants: tuple[int, int, int]
    hair: tuple[int, int, int]
    long_sleeves: bool

    @classmethod
    def random(cls, rng: np.random.Generator) -> Body:
        v = lambda x: x * rng.uniform(0.93, 1.07)  # noqa: E731 - per-segment variation
        skin_tone = rng.uniform(0.25, 1.0)
        skin = _rgb(np.array([95, 130, 190]) * skin_tone + np.array([40, 40, 50]) * (1 - skin_tone))
        return cls(
            height_m=rng.uniform(1.5, 1.95), shin=v(0.235), thigh=v(0.245), torso=v(0.30), upper_arm=v(0.175),
            forearm=v(0.165), shoulder_width=v(0.25), hip_width=v(0.17), head_radius=v(0.068),
            limb_width=v(0.055), skin=skin, shirt=_colour(rng), pants=_colour(rng, dark=True),
            hair=_rgb(rng.integers(10, 90, 3)), long_sleeves=bool(rng.random() < 0.4),
        )

    def palette(self) -> set[tuple[int, int, int]]:
        """Every flat colour this body is drawn with."""
        return {self.skin, self.shirt, self.pants, self.hair, _shade(self.skin, 0.8), EYE, SHOE, _shade(self.pants, 0.6)}


EYE = (30, 25, 20)
SHOE = (35, 35, 40)
HEAD_TOP_INSET = 0.92  # head_top sits just inside the drawn skull, so it lies on figure pixels
NECK_GAP = 0.01  # body heights between head_bottom and the bottom of the skull


def head_center_ratio(body: Body) -> float:
    """Where the skull centre lies on the head_top → head_bottom segment (fraction from head_top)."""
    r = body.head_radius
    return HEAD_TOP_INSET * r / (HEAD_TOP_INSET * r + r + NECK_GAP)


def _rgb(values: np.ndarray) -> tuple[int, int, int]:
    """Three numbers → an integer colour triple."""
    r, g, b = (int(v) for v in values)
    return r, g, b


def _colour(rng: np.random.Generator, dark: bool = False) -> tuple[int, int, int]:
    return _rgb(rng.integers(20, 140 if dark else 250, 3))


def _shade(colour: tuple[int, int, int], f: float) -> tuple[int, int, int]:
    return _rgb(np.array(colour) * f)


@dataclass
class Posture:
    """Time-varying posture parameters (angles in radians).

    Attributes:
        yaw: facing direction; 0 faces the camera, +pi/2 faces image right, pi shows the back.
        phase: walk cycle phase. stride: walk amplitude 0 (standing) .. 1 (brisk).
        crouch: 0 standing .. 1 deep crouch.
        arm_flex / arm_abduct / elbow: (2,) left, right shoulder flexion (forward), abduction (outward) and
            elbow flexion, added to the walking swing.
    """

    yaw: float = 0.0
    phase: float = 0.0
    stride: float = 0.0
    crouch: float = 0.0
    arm_flex: np.ndarray = field(default_factory=lambda: np.full(2, 0.0))
    arm_abduct: np.ndarray = field(default_factory=lambda: np.full(2, 0.12))
    elbow: np.ndarray = field(default_factory=lambda: np.full(2, 0.25))


def joints_3d(body: Body, posture: Posture) -> np.ndarray:
    """(19, 3) joint positions in the body frame (body heights; x left, y up, z forward)."""
    pts = np.zeros((len(POINTS), 3))
    side = np.array([1.0, -1.0])  # left, right
    swing = 0.45 * posture.stride * np.sin(posture.phase + np.array([0.0, np.pi]))
    knee = 0.6 * posture.stride * np.maximum(0.0, np.sin(posture.phase + np.array([0.0, np.pi]) + 1.2))
    thigh_a = swing + 1.1 * posture.crouch
    shin_a = thigh_a - knee - 2.0 * posture.crouch
    thigh = np.stack([np.zeros(2), -np.cos(thigh_a), np.sin(thigh_a)], 1) * body.thigh
    shin = np.stack([np.zeros(2), -np.cos(shin_a), np.sin(shin_a)], 1) * body.shin
    ankle_height = 0.035
    pelvis_y = ankle_height - (thigh[:, 1] + shin[:, 1]).min()  # the lower foot stands on the ground
    hips = np.stack([side * body.hip_width / 2, np.full(2, pelvis_y), np.zeros(2)], 1)
    lean = 0.35 * posture.crouch  # the torso leans forward when crouching
    up = np.array([0.0, np.cos(lean), np.sin(lean)])
    shoulders = hips * [body.shoulder_width / body.hip_width, 1, 1] + up * body.torso
    pts[[P["left_hip"], P["right_hip"]]] = hips
    pts[[P["left_knee"], P["right_knee"]]] = hips + thigh
    pts[[P["left_ankle"], P["right_ankle"]]] = hips + thigh + shin
    pts[[P["left_shoulder"], P["right_shoulder"]]] = shoulders

    flex = posture.arm_flex - 0.8 * swing  # arms swing against the legs
    abd = posture.arm_abduct
    upper = np.stack([side * np.sin(abd), -np.cos(abd) * np.cos(flex), np.cos(abd) * np.sin(flex)], 1)
    fore_flex = flex + posture.elbow
    fore = np.stack([side * np.sin(abd), -np.cos(abd) * np.cos(fore_flex), np.cos(abd) * np.sin(fore_flex)], 1)
    elbows = shoulders + upper * body.upper_arm
    pts[[P["left_elbow"], P["right_elbow"]]] = elbows
    pts[[P["left_wrist"], P["right_wrist"]]] = elbows + fore * body.forearm

    neck = shoulders.mean(0) + up * 0.035
    r = body.head_radius
    head = neck + up * (r + NECK_GAP)
    pts[P["head_bottom"]] = neck
    pts[P["head_top"]] = head + up * (HEAD_TOP_INSET * r)
    pts[P["nose"]] = head + np.array([0, -0.1 * r, 0.95 * r])
    pts[[P["left_eye"], P["right_eye"]]] = head + np.stack([side * 0.38 * r, np.full(2, 0.2 * r), np.full(2, 0.78 * r)], 1)
    pts[[P["left_ear"], P["right_ear"]]] = head + np.stack([side * 0.92 * r, np.zeros(2), np.zeros(2)], 1)
    return pts


def torso_corners(body: Body, pts: np.ndarray) -> np.ndarray:
    """(8, 3) corners of the torso box: a little wider than the shoulders and hips, chest-deep, from
    just above the shoulders to just below the hips (so those joints lie inside it)."""
    top = pts[[P["left_shoulder"], P["right_shoulder"]]].mean(0)
    bottom = pts[[P["left_hip"], P["right_hip"]]].mean(0)
    up = (top - bottom) / np.linalg.norm(top - bottom)
    forward = np.cross([1.0, 0, 0], up)
    half_depth = 0.06
    corners = []
    for centre, half_width, dy in ((top, 0.58 * body.shoulder_width, 0.02), (bottom, 0.62 * body.hip_width, -0.03)):
        for sx in (-1, 1):
            for sz in (-1, 1):
                corners.append(centre + up * dy + [sx * half_width, 0, 0] + sz * half_depth * forward)
    return np.array(corners)


def outward_normals(body: Body, pts: np.ndarray) -> np.ndarray:
    """(19, 3) unit outward normals of surface points (head features, shoulders, hips); zero for limb joints,
    which are visible from every side."""
    normals = np.zeros_like(pts)
    head = pts[P["head_top"]] + (pts[P["head_bottom"]] - pts[P["head_top"]]) * head_center_ratio(body)
    for name in ("nose", "left_eye", "right_eye", "left_ear", "right_ear"):
        d = pts[P[name]] - head
        normals[P[name]] = d / np.linalg.norm(d)
    for name, sign in (("left_shoulder", 1), ("left_hip", 1), ("right_shoulder", -1), ("right_hip", -1)):
        normals[P[name]] = [sign, 0, 0]
    return normals


def yaw_matrix(yaw: float) -> np.ndarray:
    """Rotation body frame → camera frame (x image-right, y up, z towards the camera)."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, 0, s], [0, 1, 0], [-s, 0, c]])
