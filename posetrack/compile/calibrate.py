"""Calibration for INT8: representative inputs, activation statistics, and the range cache in ``calib/``.

A calibration set is a list of network inputs made by the model's real preprocessing: person crops for a pose
model, letterboxed frames for the detector, from the synthetic world (seeded, so the set is regenerated from its
manifest) or from a user's image folder. Two passes over it through ONNX Runtime record every activation that
may be quantized (``quantize.calibration_tensors``): first min/max, then a histogram. Ranges follow from the
histogram by three methods, all stored, so switching method never re-runs the model:

- ``max``: the observed min/max.
- ``percentile``: the 0.01 % / 99.99 % quantiles (clips rare outliers).
- ``entropy``: TensorRT's method — the |x| threshold whose 128-level quantized histogram has the smallest
  KL divergence from the full one.

The cache (``calib/<model>/manifest.json`` + ``ranges.json``) records the model key and a preprocessing hash;
loading it for a different model or preprocessing is refused with a message saying what changed.
"""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import onnx
from tqdm import tqdm

from posetrack.backends import OrtBackend, device_providers
from posetrack.compile.cache import digest
from posetrack.compile.quantize import Range, calibration_tensors
from posetrack.errors import PosetrackError
from posetrack.io.sources import open_source
from posetrack.synth.samples import frame_samples, person_samples

METHODS = ("max", "percentile", "entropy")
# best held-out accuracy of the shipped models (benchmarks/2026-11-29-cpu-2core.md, ONNX Runtime INT8): pose OKS AP
# 0.9114 / 0.9087 / 0.9101 and heatmap argmax agreement 0.94 / 0.88 / 0.84 for max / percentile / entropy,
# detector AP50 0.909 / 0.899 / 0.909 and AP 0.618 / 0.611 / 0.615
DEFAULT_METHOD = "max"
PERCENTILE = 99.99
HIST_BINS = 4096  # signed histogram over [-amax, amax]; folding it gives 2048 bins of |x|
CALIB_SEED = 7  # synthetic calibration clips use seeds 7 * 1_000_003 + i: no training, validation or test stream


class CalibrationError(PosetrackError):
    """A calibration cache that is missing, damaged, or belongs to another model or preprocessing."""


@dataclass(frozen=True)
class Manifest:
    """What a calibration was made from and for.

    Attributes:
        model: calibration folder name, e.g. ``pose-demo``.
        model_key: digest of the model's weights and description (the ONNX cache key).
        preprocessing: digest of the preprocessing settings.
        source: ``synthetic`` or the image folder.
        seed: synthetic seed (None for images). count: number of network inputs.
        tensors: number of calibrated activations. default_method: the method the runtime uses.
        created: UTC time stamp.
    """

    model: str
    model_key: str
    preprocessing: str
    source: str
    seed: int | None
    count: int
    tensors: int
    default_method: str = DEFAULT_METHOD
    created: str = field(default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()))


@dataclass(frozen=True)
class Calibration:
    """A loaded calibration: its manifest and, per method, tensor name → (min, max)."""

    manifest: Manifest
    ranges: dict[str, dict[str, Range]]

    def method_ranges(self, method: str | None = None) -> dict[str, Range]:
        method = method or self.manifest.default_method
        if method not in self.ranges:
            raise CalibrationError(f"calibration {self.manifest.model}: no {method!r} ranges (has {sorted(self.ranges)})")
        return self.ranges[method]

    def key(self, method: str | None = None) -> str:
        """Digest of the ranges a quantized model is built from (part of its cache name)."""
        return digest(self.method_ranges(method))

    def save(self, folder: Path) -> Path:
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "ranges.json").write_text(json.dumps(self.ranges, indent=0))
        (folder / "manifest.json").write_text(json.dumps(asdict(self.manifest), indent=2) + "\n")
        return folder


def load_calibration(folder: Path, model_key: str, preprocessing: str) -> Calibration:
    """The cached calibration in ``folder``, checked against the model and preprocessing it is used for.

    Raises:
        CalibrationError: missing, unreadable, or made for another model / preprocessing.
    """
    try:
        manifest = Manifest(**json.loads((folder / "manifest.json").read_text()))
        ranges = {m: {k: tuple(v) for k, v in r.items()} for m, r in json.loads((folder / "ranges.json").read_text()).items()}
    except FileNotFoundError:
        raise CalibrationError(f"{folder}: no calibration (run `posetrack calibrate`)") from None
    except (ValueError, TypeError) as exc:
        raise CalibrationError(f"{folder}: damaged calibration cache ({exc}); run `posetrack calibrate` again") from None
    if manifest.model_key != model_key:
        raise CalibrationError(f"{folder}: calibrated for model {manifest.model_key}, not this model ({model_key}); "
                               f"run `posetrack calibrate --model {manifest.model.split('-')[0]}` again")
    if manifest.preprocessing != preprocessing:
        raise CalibrationError(f"{folder}: calibrated with other preprocessing ({manifest.preprocessing} ≠ "
                               f"{preprocessing}); run `posetrack calibrate` again")
    return Calibration(manifest, ranges)


# --------------------------------------------------------------------------------------------- statistics


class ActivationStats:
    """Running min/max (pass 1) and signed histograms over [-amax, amax] (pass 2) of named activations."""

    def __init__(self, names: list[str]):
        self.names = list(names)
        self.lo = dict.fromkeys(names, np.inf)
        self.hi = dict.fromkeys(names, -np.inf)
        self.hist: dict[str, np.ndarray] = {}

    def observe_range(self, outputs: dict[str, np.ndarray]) -> None:
        for name in self.names:
            x = outputs[name]
            self.lo[name] = min(self.lo[name], float(x.min()))
            self.hi[name] = max(self.hi[name], float(x.max()))

    def observe_histogram(self, outputs: dict[str, np.ndarray]) -> None:
        for name in self.names:
            amax = self.amax(name)
            idx = ((outputs[name].ravel() + amax) * (HIST_BINS / (2 * amax))).astype(np.int32)
            counts = np.bincount(np.clip(idx, 0, HIST_BINS - 1), minlength=HIST_BINS)
            self.hist[name] = self.hist.get(name, 0) + counts

    def amax(self, name: str) -> float:
        return max(abs(self.lo[name]), abs(self.hi[name]), 1e-8)

    def ranges(self) -> dict[str, dict[str, Range]]:
        """method → tensor → (min, max)."""
        out: dict[str, dict[str, Range]] = {m: {} for m in METHODS}
        for name in self.names:
            lo, hi, amax, hist = self.lo[name], self.hi[name], self.amax(name), self.hist[name]
            out["max"][name] = (lo, hi)
            out["percentile"][name] = percentile_range(hist, amax, PERCENTILE, lo, hi)
            t = entropy_threshold(hist[HIST_BINS // 2:] + hist[:HIST_BINS // 2][::-1], amax)
            out["entropy"][name] = (max(lo, -t), min(hi, t))
        return out


def percentile_range(hist: np.ndarray, amax: float, pct: float, lo: float, hi: float) -> Range:
    """(lower, upper) quantiles at (100 - pct) % and pct % of a signed histogram over [-amax, amax], within
    the observed [lo, hi]."""
    cdf = np.cumsum(hist) / max(hist.sum(), 1)
    width = 2 * amax / len(hist)
    lower = -amax + width * np.searchsorted(cdf, 1 - pct / 100)
    upper = -amax + width * (np.searchsorted(cdf, pct / 100) + 1)
    return max(lo, float(lower)), min(hi, float(upper))


def entropy_threshold(abs_hist: np.ndarray, amax: float, levels: int = 128, stride: int = 16) -> float:
    """TensorRT's entropy calibration on a histogram of |x| over [0, amax]: the clipping threshold whose
    ``levels``-bin requantization loses the least information (KL divergence), searched in steps of ``stride``
    bins. The first bin is left out."""
    hist = abs_hist.astype(np.float64)
    hist[0] = 0  # (near-)zeros, half of every post-ReLU tensor, are exact at any threshold: they would dominate KL
    n = len(hist)
    if hist[levels:].sum() == 0:
        return amax * (np.nonzero(hist)[0].max() + 1) / n if hist.any() else amax
    best, best_i = np.inf, n
    for i in range(levels, n + 1, stride):
        p = hist[:i].copy()
        p[-1] += hist[i:].sum()  # outliers clip into the last bin
        # requantize the first i bins to `levels` bins, spreading each level's mass over its non-empty bins
        edges = np.linspace(0, i, levels + 1).astype(int)
        used = hist[:i] > 0
        sums = np.add.reduceat(hist[:i], edges[:-1])
        counts = np.add.reduceat(used.astype(np.float64), edges[:-1])
        q = np.repeat(sums / np.maximum(counts, 1), np.diff(edges)) * used
        mask = p > 0
        ps, qs = p / p.sum(), q / max(q.sum(), 1e-12)
        kl = np.sum(ps[mask] * np.log(ps[mask] / np.maximum(qs[mask], 1e-12)))
        if kl < best:
            best, best_i = kl, i
    return amax * best_i / n


def collect_ranges(onnx_path: Path, inputs: np.ndarray, batch: int = 16, progress: bool = True,
                   threads: int | None = None, device: str = "cpu") -> dict[str, dict[str, Range]]:
    """Run ``inputs`` ((N, 3, H, W) float32) through ``onnx_path`` twice (min/max, then histograms) in batches of
    ``batch`` (of the network's own fixed batch where it has one: a static export takes nothing else), in ONNX
    Runtime on ``device`` (``device_providers``), and return method → tensor → (min, max) for every
    ``calibration_tensors`` activation."""
    model = onnx.load(str(onnx_path))
    names = calibration_tensors(model)
    known = {o.name for o in model.graph.output}
    for name in names:
        if name not in known:
            model.graph.output.append(onnx.helper.make_empty_tensor_value_info(name))
            model.graph.output[-1].type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    runner = OrtBackend(model.SerializeToString(), device_providers(device), threads)
    stats = ActivationStats(names)
    input_name = runner.input_names[0]
    fixed = fixed_batch(model)
    batch = fixed or batch
    usable = len(inputs) - len(inputs) % fixed if fixed else len(inputs)  # a static batch takes whole batches only
    if usable == 0:
        raise CalibrationError(f"{onnx_path}: takes batches of {fixed}, but only {len(inputs)} calibration inputs")
    starts = range(0, usable, batch)
    for step, observe in (("ranges", stats.observe_range), ("histograms", stats.observe_histogram)):
        for start in tqdm(starts, desc=f"calibrating ({step})", unit="batch", disable=not progress, leave=False):
            observe(runner.run({input_name: inputs[start:start + batch]}))
    return stats.ranges()


def fixed_batch(model: onnx.ModelProto) -> int | None:
    """The fixed batch of the model's first input (a static export's), or None when it is dynamic."""
    dims = model.graph.input[0].type.tensor_type.shape.dim
    return dims[0].dim_value if dims and dims[0].HasField("dim_value") and dims[0].dim_value > 0 else None


# ----------------------------------------------------------------------------------------- input sets


def _images(count: int | None, seed: int, images: Path | None) -> Iterator[np.ndarray]:
    """BGR images from a user's image folder, else synthetic frames."""
    if images is not None:
        with open_source(images) as frames:
            yield from (frame.image for frame in itertools.islice(frames, count))
    else:
        yield from (sample.image for sample in itertools.islice(frame_samples(seed), count))


def pose_inputs(crop: Callable[[np.ndarray, np.ndarray], np.ndarray], count: int, seed: int = CALIB_SEED,
                images: Path | None = None, find_people: Callable[[np.ndarray], np.ndarray] | None = None) -> np.ndarray:
    """(count, 3, H, W) float32 person crops through the estimator's own preprocessing: ``crop(image, boxes)``
    gives the (N, 3, H, W) network input of the (N, 4) boxes of a BGR image.

    Synthetic persons come with their true boxes; in a user's ``images`` folder ``find_people(image) → (N, 4)``
    boxes (the detector) finds them.
    """
    if images is None:
        samples = itertools.islice(person_samples(seed), count)
        crops = [crop(s.image, s.box[None]) for s in samples]
    else:
        if find_people is None:
            raise CalibrationError(f"{images}: calibrating on an image folder needs a person detector")
        crops = []
        for image in _images(None, seed, images):
            boxes = find_people(image)
            if len(boxes):
                crops.append(crop(image, boxes))
            if sum(map(len, crops)) >= count:
                break
    if not crops:
        raise CalibrationError(f"{images}: no person found for calibration")
    return np.concatenate(crops)[:count]


def detector_inputs(prepare: Callable[[np.ndarray], np.ndarray], count: int, seed: int = CALIB_SEED,
                    images: Path | None = None) -> np.ndarray:
    """(count, 3, H, W) float32 frames through the detector's own preprocessing (``prepare``: letterbox +
    normalisation)."""
    return np.concatenate([prepare(image) for image in _images(count, seed, images)])
