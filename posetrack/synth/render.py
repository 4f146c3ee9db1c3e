"""Drawing figures and backgrounds, and the exact visibility of every joint.

A frame is a list of primitives — capsules (limbs, neck; a circle is a capsule of zero length) and
convex polygons (torsos) — drawn in painter's order: farther people first, within a person farther parts
first. Visibility is decided on the same geometry: the topmost primitive covering a joint must be one of
that joint's own parts.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from posetrack.synth.figure import ALLOWED, EYE, PART, SHOE, Body, P, _shade, head_center_ratio

SHIFT = 4  # fixed-point bits for sub-pixel drawing
_ONE = 1 << SHIFT
POLY_VERTS = 8


@dataclass
class Primitives:
    """Drawable primitives of one frame, in draw order.

    Attributes:
        a, b: (M, 2) float capsule end points, image pixels (a == b for circles; unused for polygons).
        radius: (M,) capsule radius, pixels.
        poly: (M, 8, 2) convex polygon vertices (padded by repetition); NaN rows for capsules.
        is_poly: (M,) bool. person: (M,) int person slot. part: (M,) int part id. colour: (M, 3) uint8 BGR.
        lo, hi: (M, 2) bounding box corners of each primitive.
    """

    a: np.ndarray
    b: np.ndarray
    radius: np.ndarray
    poly: np.ndarray
    is_poly: np.ndarray
    person: np.ndarray
    part: np.ndarray
    colour: np.ndarray
    lo: np.ndarray
    hi: np.ndarray


class PrimitiveList:
    """Collects one person's primitives with their depths, then emits them sorted far to near."""

    def __init__(self) -> None:
        self.items: list[tuple[float, tuple]] = []

    def capsule(self, a, b, radius: float, depth: float, part: str, colour) -> None:
        self.items.append((depth, (np.asarray(a, float), np.asarray(b, float), max(radius, 0.5), None, PART[part], colour)))

    def circle(self, c, radius: float, depth: float, part: str, colour) -> None:
        self.capsule(c, c, radius, depth, part, colour)

    def polygon(self, verts: np.ndarray, depth: float, part: str, colour) -> None:
        hull = cv2.convexHull(verts.astype(np.float32)).reshape(-1, 2)
        hull = np.concatenate([hull, np.repeat(hull[-1:], POLY_VERTS - len(hull), 0)])
        self.items.append((depth, (None, None, 0.0, hull, PART[part], colour)))

    def sorted(self) -> list[tuple]:
        return [item for _, item in sorted(self.items, key=lambda t: t[0])]


def figure_primitives(body: Body, uv: np.ndarray, depth: np.ndarray, facing: np.ndarray, px_per_unit: float,
                      torso_box: np.ndarray, torso_depth: float, forward: np.ndarray) -> list[tuple]:
    """One person's primitives, far to near.

    Args:
        uv: (19, 2) image points. depth: (19,) towards the camera, pixels.
        facing: (19,) bool, surface points whose normal does not face away.
        px_per_unit: pixels per body height.
        torso_box: (8, 2) projected corners of the torso box.
        forward: (2,) image direction the person faces (unit length in 3D), for the feet.
    """
    out = PrimitiveList()
    arm_r = 0.5 * body.limb_width * px_per_unit
    leg_r = 0.65 * body.limb_width * px_per_unit
    head_r = body.head_radius * px_per_unit
    sleeve = body.shirt if body.long_sleeves else body.skin
    for s, side in (("l", "left"), ("r", "right")):
        sh, el, wr = (P[f"{side}_{j}"] for j in ("shoulder", "elbow", "wrist"))
        hip, kn, an = (P[f"{side}_{j}"] for j in ("hip", "knee", "ankle"))
        out.capsule(uv[sh], uv[el], arm_r, (depth[sh] + depth[el]) / 2, f"{s}_upper_arm", body.shirt)
        out.capsule(uv[el], uv[wr], arm_r * 0.9, (depth[el] + depth[wr]) / 2, f"{s}_forearm", sleeve)
        out.capsule(uv[hip], uv[kn], leg_r, (depth[hip] + depth[kn]) / 2, f"{s}_thigh", body.pants)
        out.capsule(uv[kn], uv[an], leg_r * 0.85, (depth[kn] + depth[an]) / 2, f"{s}_shin", _shade(body.pants, 0.6))
        toe = uv[an] + forward * (0.075 * px_per_unit) + [0.0, 0.3 * leg_r]
        out.capsule(uv[an], toe, leg_r * 0.6, depth[an] + 0.01, f"{s}_shin", SHOE)
        out.circle(uv[wr], arm_r * 1.15, (depth[el] + depth[wr]) / 2 + 0.01, f"{s}_forearm", body.skin)
    out.polygon(torso_box, torso_depth, "torso", body.shirt)
    neck, top = P["head_bottom"], P["head_top"]
    head_c = uv[top] + (uv[neck] - uv[top]) * head_center_ratio(body)
    head_depth = 0.5 * (depth[neck] + depth[top])
    out.capsule(uv[neck], head_c, head_r * 0.45, depth[neck] - 0.01, "neck", body.skin)
    for s, ear in (("l", P["left_ear"]), ("r", P["right_ear"])):
        out.circle(uv[ear], head_r * 0.28, depth[ear] - 0.3 * head_r, f"{s}_ear", _shade(body.skin, 0.8))
    out.circle(head_c, head_r, head_depth, "head", body.skin)
    nose_dir = depth[P["nose"]] - head_depth  # > 0 when the face turns towards the camera
    back = head_c - (uv[P["nose"]] - head_c) * 0.35 + (uv[top] - head_c) * 0.25
    out.circle(back, head_r * 0.92, head_depth - 0.6 * nose_dir + 0.01, "hair", body.hair)
    for j in ("left_eye", "right_eye"):
        if facing[P[j]]:
            out.circle(uv[P[j]], max(head_r * 0.14, 0.6), head_depth + head_r, "face", EYE)
    if facing[P["nose"]]:
        out.circle(uv[P["nose"]], max(head_r * 0.12, 0.6), head_depth + head_r, "face", _shade(body.skin, 0.8))
    return out.sorted()


def to_arrays(items: list[tuple[int, tuple]]) -> Primitives:
    """[(person slot, primitive)] in draw order → ``Primitives``."""
    m = len(items)
    a, b = np.zeros((m, 2)), np.zeros((m, 2))
    radius, poly = np.zeros(m), np.full((m, POLY_VERTS, 2), np.nan)
    is_poly, person, part = np.zeros(m, bool), np.zeros(m, np.int32), np.zeros(m, np.int32)
    colour = np.zeros((m, 3), np.uint8)
    for i, (slot, (pa, pb, r, hull, pid, col)) in enumerate(items):
        person[i], part[i], colour[i] = slot, pid, col
        if hull is None:
            a[i], b[i], radius[i] = pa, pb, r
        else:
            poly[i], is_poly[i] = hull, True
    lo = np.where(is_poly[:, None], np.nan_to_num(poly, nan=np.inf).min(1), np.minimum(a, b) - radius[:, None])
    hi = np.where(is_poly[:, None], np.nan_to_num(poly, nan=-np.inf).max(1), np.maximum(a, b) + radius[:, None])
    return Primitives(a, b, radius, poly, is_poly, person, part, colour, lo, hi)


def draw(image: np.ndarray, prims: Primitives, labels: np.ndarray | None = None) -> None:
    """Paint the primitives onto ``image`` in order.

    Args:
        image: (H, W, 3) uint8 BGR, painted with the primitives' colours, anti-aliased; or (H, W) uint16
            when ``labels`` is given, painted with ``labels[m]`` per primitive without anti-aliasing.
        labels: (M,) per-primitive label values (e.g. track id + 1) for instance masks.
    """
    line = cv2.LINE_AA if labels is None else cv2.LINE_8
    fa = np.round(prims.a * _ONE).astype(np.int64)
    fb = np.round(prims.b * _ONE).astype(np.int64)
    fpoly = np.round(np.nan_to_num(prims.poly) * _ONE).astype(np.int32)
    for i in range(len(prims.radius)):
        colour = tuple(int(c) for c in prims.colour[i]) if labels is None else int(labels[i])
        if prims.is_poly[i]:
            cv2.fillConvexPoly(image, fpoly[i], colour, line, SHIFT)
        elif (fa[i] == fb[i]).all():
            cv2.circle(image, tuple(fa[i]), int(round(prims.radius[i] * _ONE)), colour, -1, line, SHIFT)
        else:
            thickness = max(1, int(round(2 * prims.radius[i])))
            cv2.line(image, tuple(fa[i]), tuple(fb[i]), colour, thickness, line, SHIFT)


def covers(points: np.ndarray, prims: Primitives) -> np.ndarray:
    """(N, M) bool: primitive m covers point n (capsule distance or inside the convex polygon).

    Only point/primitive pairs whose bounding boxes meet are tested exactly.
    """
    cand = ((points[:, None] >= prims.lo) & (points[:, None] <= prims.hi)).all(-1)
    n_idx, m_idx = np.nonzero(cand)
    q = points[n_idx]
    a, ab = prims.a[m_idx], prims.b[m_idx] - prims.a[m_idx]
    t = np.clip(((q - a) * ab).sum(1) / np.maximum((ab * ab).sum(1), 1e-12), 0.0, 1.0)
    in_capsule = np.linalg.norm(q - (a + t[:, None] * ab), axis=1) <= prims.radius[m_idx]
    verts = prims.poly[m_idx]
    edges = np.roll(verts, -1, axis=1) - verts
    rel = q[:, None, :] - verts
    cross = edges[..., 0] * rel[..., 1] - edges[..., 1] * rel[..., 0]
    in_poly = (cross >= -1e-9).all(-1) | (cross <= 1e-9).all(-1)
    out = np.zeros(cand.shape, bool)
    out[n_idx, m_idx] = np.where(prims.is_poly[m_idx], in_poly, in_capsule)
    return out


def visibility(points: np.ndarray, slots: np.ndarray, facing: np.ndarray, prims: Primitives,
               size: tuple[int, int]) -> tuple[np.ndarray, np.ndarray]:
    """Visibility of joints: 2 visible, 1 occluded (by another person or by the own body), 0 outside.

    Args:
        points: (N, J, 2) image pixels of N people. slots: (N,) their person slots in ``prims``.
        facing: (N, J) bool, surface points not facing away. size: (width, height).
    Returns:
        visibility (N, J) int8 and occluded_by_other (N, J) bool.
    """
    n, j = points.shape[:2]
    flat = points.reshape(-1, 2)
    cover = covers(flat, prims)
    m = cover.shape[1]
    top = np.where(cover.any(1), m - 1 - np.argmax(cover[:, ::-1], axis=1), -1)  # last drawn = topmost
    owner = np.repeat(slots, j)
    top_person = np.where(top >= 0, prims.person[np.maximum(top, 0)], -1)
    top_part = prims.part[np.maximum(top, 0)]
    joint_ids = np.tile(np.arange(j), n)
    own = (top_person == owner) & ALLOWED[joint_ids, top_part]
    by_other = (top >= 0) & (top_person != owner)
    w, h = size
    inside = (flat[:, 0] >= 0) & (flat[:, 0] <= w - 1) & (flat[:, 1] >= 0) & (flat[:, 1] <= h - 1)
    vis = np.where(inside, np.where(own & facing.reshape(-1), 2, 1), 0).astype(np.int8)
    return vis.reshape(n, j), (by_other & inside).reshape(n, j)


def make_background(rng: np.random.Generator, size: tuple[int, int], clutter: float) -> np.ndarray:
    """A textured scene (H, W, 3) uint8: two-tone ground/wall gradient, low-frequency colour noise,
    and ``clutter`` x 60 random shapes (rectangles, discs, lines, limb-like bars) as distractors."""
    w, h = size
    horizon = int(h * rng.uniform(0.25, 0.5))
    base = np.empty((h, w, 3), np.float32)
    wall, ground = rng.uniform(40, 220, 3), rng.uniform(30, 180, 3)
    ramp = np.linspace(0, 1, h, dtype=np.float32)[:, None, None]
    base[:] = np.where(np.arange(h)[:, None, None] < horizon, wall * (0.8 + 0.4 * ramp), ground * (0.7 + 0.5 * ramp))
    noise = rng.normal(0, 1, (max(h // 40, 2), max(w // 40, 2), 3)).astype(np.float32)
    base += 25 * cv2.resize(noise, (w, h), interpolation=cv2.INTER_CUBIC)
    fine = rng.normal(0, 1, (h // 4, w // 4, 1)).astype(np.float32)
    base += 6 * cv2.resize(fine, (w, h), interpolation=cv2.INTER_LINEAR)[..., None]
    img = np.clip(base, 0, 255).astype(np.uint8)
    for _ in range(int(60 * clutter)):
        colour = tuple(int(c) for c in rng.integers(0, 256, 3))
        x, y = int(rng.integers(0, w)), int(rng.integers(0, h))
        kind = rng.integers(0, 4)
        if kind == 0:
            cv2.rectangle(img, (x, y), (x + int(rng.integers(5, w // 6)), y + int(rng.integers(5, h // 6))), colour, -1)
        elif kind == 1:
            cv2.circle(img, (x, y), int(rng.integers(3, h // 12)), colour, -1, cv2.LINE_AA)
        elif kind == 2:
            end = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(img, (x, y), end, colour, int(rng.integers(1, 4)), cv2.LINE_AA)
        else:  # a limb-sized bar: a hard negative for the detector and pose model
            length, angle = rng.uniform(10, h / 5), rng.uniform(0, np.pi)
            end = (int(x + length * np.cos(angle)), int(y + length * np.sin(angle)))
            cv2.line(img, (x, y), end, colour, int(rng.integers(3, 9)), cv2.LINE_AA)
    return img
