"""Procedural multi-person scenes with exact ground truth.

People walk on a ground plane seen by a pinhole camera (farther = smaller and higher in the image),
with walking cycles, stops, turns, arm gestures and crouches; they enter and leave the view, cross and
occlude each other. The camera may pan, zoom and shake. Everything random comes from the seed, so a
seed gives the same frames and ground truth every time.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import cv2
import numpy as np

from posetrack.errors import PosetrackError
from posetrack.skeleton import POSETRACK17, Skeleton
from posetrack.synth import figure as fig
from posetrack.synth.render import draw, figure_primitives, make_background, to_arrays, visibility
from posetrack.types import Frame

MIN_VISIBLE = 3  # a person is annotated in a frame when at least this many joints are visible


@dataclass(frozen=True)
class SceneConfig:
    """Difficulty knobs of a synthetic clip.

    Attributes:
        size: (width, height) pixels. fps: frames per second. frames: clip length. people: persons in view
            at a time (those who leave are replaced by newcomers).
        min_height: smallest person height, pixels. max_height: tallest, as a fraction of the frame height.
        speed: walking speed multiplier (1 = 1.0-1.6 m/s).
        crossing: chance that a newcomer walks towards someone already in view, at a similar depth.
        occlusion: how close in depth crossing people walk (1: nearly the same lane, so they overlap).
        stops / gestures / crouches / turns: events per person per 10 s.
        camera_pan: peak pan speed, pixels per frame. camera_zoom: relative zoom amplitude.
        camera_shake: jitter, pixels. clutter: background distractors (0..2).
        blur: Gaussian blur sigma. noise: pixel noise std (0-255 scale). brightness: relative flicker amplitude.
    """

    size: tuple[int, int] = (640, 360)
    fps: float = 25.0
    frames: int = 150
    people: int = 4
    min_height: float = 40.0
    max_height: float = 0.7
    speed: float = 1.0
    crossing: float = 0.3
    occlusion: float = 0.5
    stops: float = 1.0
    gestures: float = 1.5
    crouches: float = 0.5
    turns: float = 1.0
    camera_pan: float = 0.0
    camera_zoom: float = 0.0
    camera_shake: float = 0.0
    clutter: float = 0.6
    blur: float = 0.0
    noise: float = 0.0
    brightness: float = 0.0

    def __post_init__(self) -> None:
        tallest = self.max_height * self.size[1]
        if tallest < self.min_height:
            need = int(np.ceil(self.min_height / self.max_height))
            raise PosetrackError(f"frame height {self.size[1]} is too small for people {self.min_height:g} px tall "
                                 f"or more (this preset needs a height of at least {need})")


PRESETS: dict[str, SceneConfig] = {
    "easy": SceneConfig(people=3, crossing=0.0, occlusion=0.0, min_height=90, stops=0.5, gestures=1.0,
                        crouches=0.0, clutter=0.3),
    "crossing": SceneConfig(people=4, crossing=1.0, occlusion=0.9, min_height=70),
    "crowd": SceneConfig(people=10, crossing=0.5, occlusion=0.7, min_height=40, max_height=0.55, clutter=1.0),
    "pan": SceneConfig(people=4, crossing=0.5, occlusion=0.6, min_height=70, camera_pan=10.0, camera_shake=2.0,
                       camera_zoom=0.1),
    "hard": SceneConfig(people=6, crossing=0.7, occlusion=0.8, min_height=40, camera_pan=4.0, camera_shake=1.5,
                        camera_zoom=0.1, clutter=1.5, blur=0.8, noise=6.0, brightness=0.15),
}


@dataclass
class FrameTruth:
    """Ground truth of the people annotated in one frame (those with ≥ MIN_VISIBLE visible joints).

    Attributes:
        index: frame index.
        track_ids: (N,) int64 identities, stable over the clip; a newcomer gets a new id.
        keypoints: (N, K, 2) float32 image pixels, exactly where the joints were drawn.
        visibility: (N, K) int8: 2 visible, 1 occluded (by someone or by the own body), 0 outside the frame.
        occluded_by_other: (N, K) bool, joints hidden behind another person.
        boxes: (N, 4) float32 x1, y1, x2, y2 of the drawn figure, clipped to the frame.
        head_boxes: (N, 4) float32 x1, y1, x2, y2 around the skull.
        skeleton: joint layout of axis K.
        masks: (H, W) uint16 instance labels (track id + 1, 0 = background) when the video was made with
            ``masks=True``, else None. Every drawn person is in it, annotated or not.
    """

    index: int
    track_ids: np.ndarray
    keypoints: np.ndarray
    visibility: np.ndarray
    occluded_by_other: np.ndarray
    boxes: np.ndarray
    head_boxes: np.ndarray
    skeleton: Skeleton
    masks: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.track_ids)


@dataclass
class _Person:
    track_id: int
    body: fig.Body
    rng: np.random.Generator
    x: float  # ground position, metres (camera x = 0 at the view centre of frame 0)
    z: float  # distance, metres
    vx: float  # metres per frame
    vz: float
    posture: fig.Posture = field(default_factory=fig.Posture)
    walking: bool = True
    event_left: int = 0  # frames left in the current stop / gesture / crouch
    arm_target: tuple = (np.zeros(2), np.full(2, 0.12), np.full(2, 0.25))
    crouch_target: float = 0.0
    wave: float = 0.0


class _Camera:
    """Pinhole camera over the ground plane, plus a 2D pan / zoom / shake of the whole view."""

    def __init__(self, cfg: SceneConfig, rng: np.random.Generator):
        w, h = cfg.size
        self.size = cfg.size
        self.horizon = h * 0.3
        self.focal = cfg.max_height * h / 1.8  # a 1.8 m person at 1 m fills max_height of the frame
        self.cam_h = (0.97 * h - self.horizon) / self.focal  # feet of the nearest people near the bottom
        self.z_near, self.z_far = 1.0, self.focal * 1.6 / cfg.min_height
        self.margin = np.array([w * 0.5, h * 0.25]) if (cfg.camera_pan or cfg.camera_zoom or cfg.camera_shake) else np.zeros(2)
        self.pan_period = 2 * np.pi * self.margin[0] / cfg.camera_pan if cfg.camera_pan else None
        self.zoom_amp, self.shake = cfg.camera_zoom, cfg.camera_shake
        self.rng = rng

    def view(self, t: int) -> np.ndarray:
        """(2, 3) affine map: canvas pixels (frame-0 view) → image pixels at frame t."""
        w, h = self.size
        pan = self.margin[0] * 0.8 * np.sin(2 * np.pi * t / self.pan_period) if self.pan_period else 0.0
        zoom = 1.0 + self.zoom_amp * np.sin(2 * np.pi * t / 200.0)
        shake = self.rng.normal(0, self.shake, 2) if self.shake else np.zeros(2)
        c = np.array([w / 2, h / 2])
        offset = c - zoom * (c + np.array([pan, 0.0])) + shake
        return np.array([[zoom, 0, offset[0]], [0, zoom, offset[1]]])

    def project(self, x: float, z: float) -> tuple[np.ndarray, float]:
        """Ground point → canvas foot position (pixels) and pixels per metre."""
        ppm = self.focal / z
        return np.array([self.size[0] / 2 + x * ppm, self.horizon + self.cam_h * ppm]), ppm


class SyntheticVideo:
    """Iterate ``(Frame, FrameTruth)`` pairs of a procedural clip, in memory.

    Args:
        config: a ``SceneConfig`` (e.g. ``PRESETS["crossing"]``).
        seed: everything random derives from it.
        skeleton: joint layout of the ground truth (PoseTrack-17 by default; COCO-17 works too).
        masks: also rasterise instance masks (``FrameTruth.masks``), at about twice the drawing cost.
    """

    def __init__(self, config: SceneConfig, seed: int = 0, skeleton: Skeleton = POSETRACK17, masks: bool = False):
        self.config, self.seed, self.skeleton, self.masks = config, seed, skeleton, masks
        self._joint_index = np.array([fig.P[name] for name in skeleton.joints])

    def __len__(self) -> int:
        return self.config.frames

    def __iter__(self) -> Iterator[tuple[Frame, FrameTruth]]:
        cfg = self.config
        seeds = np.random.SeedSequence(self.seed)
        scene_rng, people_seeds = np.random.default_rng(seeds.spawn(1)[0]), seeds.spawn(1)[0]
        self._people_seeds = people_seeds
        camera = _Camera(cfg, np.random.default_rng(scene_rng.integers(1 << 63)))
        w, h = cfg.size
        mx, my = camera.margin.astype(int)
        canvas = make_background(scene_rng, (w + 2 * mx, h + 2 * my), cfg.clutter)
        noise = scene_rng.normal(0, cfg.noise, (h + 64, w + 64, 1)).astype(np.float32) if cfg.noise else None
        self._next_id = 0
        people: list[_Person] = []
        for _ in range(cfg.people):
            people.append(self._spawn(camera, people, initial=True))
        for t in range(cfg.frames):
            view = camera.view(t)
            image = self._background(canvas, view, (mx, my))
            truth = self._render(image, t, people, camera, view)
            image = self._post(image, t, noise, scene_rng)
            yield Frame(t, t / cfg.fps, image), truth
            people = self._step(people, camera, view)

    # -- people ---------------------------------------------------------------------------------

    def _spawn(self, camera: _Camera, people: list[_Person], initial: bool) -> _Person:
        cfg = self.config
        prng = np.random.default_rng(self._people_seeds.spawn(1)[0])
        body = fig.Body.random(prng)
        h_px = np.exp(prng.uniform(np.log(cfg.min_height), np.log(cfg.max_height * cfg.size[1])))  # more far than near
        z = float(np.clip(camera.focal * body.height_m / h_px, camera.z_near, camera.z_far))
        speed = prng.uniform(1.0, 1.6) * cfg.speed / cfg.fps
        half_width = cfg.size[0] / 2 / (camera.focal / z)  # metres from the view centre to its edge
        target = None
        if people and prng.random() < cfg.crossing:
            target = people[int(prng.integers(len(people)))]
        if target is not None:  # walk towards someone, in nearly the same lane
            spread = (1.0 - cfg.occlusion) * 0.6 + 0.05
            z = float(np.clip(target.z * (1 + prng.choice([-1, 1]) * prng.uniform(0.03, spread)), camera.z_near, camera.z_far))
            half_width = cfg.size[0] / 2 / (camera.focal / z)
            direction = -1.0 if target.vx > 0 else 1.0  # head-on, from the side the target walks to
            if initial:  # already in view, between the target and the edge it walks to
                x = float(np.clip(target.x - direction * prng.uniform(0.4, 1.2) * half_width, -0.9 * half_width,
                                  0.9 * half_width))
            else:
                x = -direction * (half_width + 0.4)
        elif initial and prng.random() < 0.6:  # already in view
            direction = prng.choice([-1.0, 1.0])
            x = prng.uniform(-0.8, 0.8) * half_width
        else:  # enters from a side
            direction = prng.choice([-1.0, 1.0])
            x = -direction * (half_width + prng.uniform(0.3, 1.5))
        vz = speed * prng.uniform(-0.25, 0.25) if target is None else 0.0
        person = _Person(self._next_id, body, prng, x, z, direction * speed, vz)
        person.posture = fig.Posture(yaw=float(np.arctan2(person.vx, -person.vz)), phase=prng.uniform(0, 2 * np.pi),
                                     stride=1.0)
        self._next_id += 1
        return person

    def _step(self, people: list[_Person], camera: _Camera, view: np.ndarray) -> list[_Person]:
        cfg = self.config
        kept = []
        for p in people:
            self._behave(p)
            if p.walking:
                p.x += p.vx
                p.z = float(np.clip(p.z + p.vz, camera.z_near, camera.z_far))
                if p.z in (camera.z_near, camera.z_far):
                    p.vz = -p.vz
            if not self._gone(p, camera, view):
                kept.append(p)
        while len(kept) < cfg.people:
            kept.append(self._spawn(camera, kept, initial=False))
        return kept

    def _gone(self, p: _Person, camera: _Camera, view: np.ndarray) -> bool:
        """Outside the view and walking away from it."""
        foot, ppm = camera.project(p.x, p.z)
        u = view[0, 0] * foot[0] + view[0, 2]
        half = 0.5 * ppm * p.body.height_m
        w = self.config.size[0]
        return (u + half < -5 and p.vx <= 0) or (u - half > w + 5 and p.vx >= 0)

    def _behave(self, p: _Person) -> None:
        """Advance one person's events (stop, gesture, crouch, turn) and posture by one frame."""
        cfg, rng, post = self.config, p.rng, p.posture
        per_frame = 1.0 / (10.0 * cfg.fps)
        if p.event_left > 0:
            p.event_left -= 1
            if p.event_left == 0:
                p.walking, p.crouch_target, p.wave = True, 0.0, 0.0
                p.arm_target = (np.zeros(2), np.full(2, 0.12), np.full(2, 0.25))
        else:
            roll = rng.random()
            if roll < cfg.stops * per_frame:
                p.walking, p.event_left = False, int(rng.uniform(1.0, 3.0) * cfg.fps)
            elif roll < (cfg.stops + cfg.gestures) * per_frame:
                p.event_left = int(rng.uniform(1.0, 2.5) * cfg.fps)
                p.arm_target, p.wave = _gesture(rng)
            elif roll < (cfg.stops + cfg.gestures + cfg.crouches) * per_frame:
                p.walking, p.event_left = False, int(rng.uniform(1.0, 2.0) * cfg.fps)
                p.crouch_target = rng.uniform(0.4, 0.9)
            elif roll < (cfg.stops + cfg.gestures + cfg.crouches + cfg.turns) * per_frame:
                p.vz = rng.uniform(-0.6, 0.6) * abs(p.vx)  # change course towards / away from the camera
        speed = np.hypot(p.vx, p.vz)
        post.stride += ((1.0 if p.walking else 0.0) - post.stride) * 0.15
        post.phase += 2 * np.pi * speed / (0.8 * p.body.height_m) * post.stride  # one cycle per ~0.8 heights walked
        post.crouch += (p.crouch_target - post.crouch) * 0.12
        yaw_target = np.arctan2(p.vx, -p.vz) if p.walking else (0.0 if p.crouch_target == 0 else post.yaw)
        post.yaw += np.angle(np.exp(1j * (yaw_target - post.yaw))) * 0.12
        flex, abd, elbow = p.arm_target
        if p.wave:
            elbow = elbow + np.array([0.0, 0.6 * np.sin(post.phase * 2.5)]) * p.wave
        post.arm_flex += (flex - post.arm_flex) * 0.2
        post.arm_abduct += (abd - post.arm_abduct) * 0.2
        post.elbow += (elbow - post.elbow) * 0.2

    # -- rendering ------------------------------------------------------------------------------

    def _background(self, canvas: np.ndarray, view: np.ndarray, margin: tuple[int, int]) -> np.ndarray:
        w, h = self.config.size
        if not margin[0] and not margin[1]:
            return canvas.copy()
        shifted = view.copy()  # canvas pixel c is frame-0 view pixel c - margin
        shifted[:, 2] -= view[:, :2] @ np.array(margin, float)
        return cv2.warpAffine(canvas, shifted, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)

    def _render(self, image: np.ndarray, t: int, people: list[_Person], camera: _Camera, view: np.ndarray) -> FrameTruth:
        order = sorted(range(len(people)), key=lambda i: -people[i].z)  # far first
        items: list[tuple[int, tuple]] = []
        points, facing, heads = [], [], []
        for slot in order:
            p = people[slot]
            pts3 = fig.joints_3d(p.body, p.posture)
            rot = fig.yaw_matrix(p.posture.yaw)
            cam = pts3 @ rot.T
            corners = fig.torso_corners(p.body, pts3) @ rot.T
            foot, ppm = camera.project(p.x, p.z)
            scale = ppm * p.body.height_m * view[0, 0]
            origin = view[:, :2] @ foot + view[:, 2]
            uv = origin + cam[:, :2] * [scale, -scale]
            torso_uv = origin + corners[:, :2] * [scale, -scale]
            normals = fig.outward_normals(p.body, pts3) @ rot.T
            face_ok = normals[:, 2] >= -0.1
            depth = cam[:, 2] * scale
            forward = np.array([rot[0, 2], 0.0])
            torso_depth = float(corners[:, 2].mean() * scale)
            figure = figure_primitives(p.body, uv, depth, face_ok, scale, torso_uv, torso_depth, forward)
            items += [(slot, prim) for prim in figure]
            points.append(uv)
            facing.append(face_ok)
            r = p.body.head_radius * scale
            centre = uv[fig.P["head_top"]] + (uv[fig.P["head_bottom"]] - uv[fig.P["head_top"]]) * fig.head_center_ratio(p.body)
            heads.append(np.concatenate([centre - r, centre + r]))
        prims = to_arrays(items)
        draw(image, prims)
        slots = np.array(order)
        points_arr, facing_arr = np.array(points), np.array(facing)
        vis, by_other = visibility(points_arr, slots, facing_arr, prims, self.config.size)
        boxes = _extents(prims, slots, self.config.size)
        j = self._joint_index
        keep = (vis[:, j] == 2).sum(1) >= MIN_VISIBLE
        keep &= (boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])
        ids = np.array([people[s].track_id for s in order], np.int64)
        masks = None
        if self.masks:
            masks = np.zeros(image.shape[:2], np.uint16)
            by_slot = np.zeros(len(people), np.int64)
            by_slot[slots] = ids + 1
            draw(masks, prims, labels=by_slot[prims.person])
        sel = np.argsort(ids[keep], kind="stable")  # annotations listed by track id
        return FrameTruth(
            index=t, track_ids=ids[keep][sel],
            keypoints=points_arr[keep][sel][:, j].astype(np.float32),
            visibility=vis[keep][sel][:, j], occluded_by_other=by_other[keep][sel][:, j],
            boxes=boxes[keep][sel].astype(np.float32), head_boxes=np.array(heads, np.float32).reshape(-1, 4)[keep][sel],
            skeleton=self.skeleton, masks=masks,
        )

    def _post(self, image: np.ndarray, t: int, noise: np.ndarray | None, rng: np.random.Generator) -> np.ndarray:
        cfg = self.config
        if cfg.blur:
            image = cv2.GaussianBlur(image, (0, 0), cfg.blur)
        if cfg.brightness or noise is not None:
            out = image.astype(np.float32)
            if cfg.brightness:
                out *= 1.0 + cfg.brightness * np.sin(2 * np.pi * t / 90.0)
            if noise is not None:
                dy, dx = rng.integers(0, 64, 2)
                out += noise[dy:dy + image.shape[0], dx:dx + image.shape[1]]
            image = np.clip(out, 0, 255).astype(np.uint8)
        return image


def _gesture(rng: np.random.Generator) -> tuple[tuple[np.ndarray, np.ndarray, np.ndarray], float]:
    """Arm targets (flexion, abduction, elbow) for a random gesture, and the wave amplitude."""
    kind = rng.integers(0, 4)
    side = rng.integers(0, 2)
    flex, abd, elbow = np.zeros(2), np.full(2, 0.12), np.full(2, 0.25)
    wave = 0.0
    if kind == 0:  # wave one hand overhead
        abd[side], elbow[side], wave = 2.5, 0.6, 1.0
    elif kind == 1:  # both arms up
        abd[:] = 2.7
    elif kind == 2:  # point forward
        flex[side], elbow[side] = 1.45, 0.05
    else:  # hands on hips
        abd[:], elbow[:] = 0.55, 1.9
        flex[:] = -0.3
    return (flex, abd, elbow), wave


def _extents(prims, slots: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """(N, 4) box of each person's drawn primitives, clipped to the frame."""
    boxes = np.empty((len(slots), 4))
    for i, slot in enumerate(slots):
        mine = prims.person == slot
        boxes[i, :2], boxes[i, 2:] = prims.lo[mine].min(0), prims.hi[mine].max(0)
    w, h = size
    return np.clip(boxes, 0, [w, h, w, h])


def preset(name: str, **overrides) -> SceneConfig:
    """A named preset, with any field overridden (``preset("crossing", frames=300)``)."""
    if name not in PRESETS:
        raise KeyError(f"unknown preset {name!r}; known: {', '.join(PRESETS)}")
    return replace(PRESETS[name], **overrides)
