"""COCO keypoint AP (OKS), computed as pycocotools' ``COCOeval(iouType="keypoints")`` does.

Inputs are COCO dicts: ground truth ``{"images", "annotations", "categories"}`` and a detection list
``[{"image_id", "category_id", "keypoints", "score"}]``. The rules, as in COCOeval:

* a ground truth with ``num_keypoints == 0`` or ``iscrowd`` is ignored; a detection's area is the area of
  its keypoints' bounding box;
* OKS uses the ground-truth ``area`` and only its labelled joints (v > 0); against a ground truth with no
  labelled joint, distances are measured to a box twice the ground-truth box;
* per image the top ``max_dets`` (20) detections by score are matched greedily to the best unmatched
  ground truth, for each OKS threshold 0.50:0.05:0.95;
* precision is made monotone and read at 101 recall points; AP averages over thresholds and recall.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

THRESHOLDS = np.linspace(0.5, 0.95, 10)
RECALLS = np.linspace(0.0, 1.0, 101)
AREAS = {"all": (0.0, 1e10), "medium": (32.0**2, 96.0**2), "large": (96.0**2, 1e10)}
STAT_NAMES = ("AP", "AP50", "AP75", "AP_medium", "AP_large", "AR", "AR50", "AR75", "AR_medium", "AR_large")


def _oks(dts: list[dict], gts: list[dict], sigmas: np.ndarray) -> np.ndarray:
    """(D, G) OKS between score-sorted detections and ground truths (COCOeval.computeOks)."""
    ious = np.zeros((len(dts), len(gts)))
    var = (2 * sigmas) ** 2
    for j, gt in enumerate(gts):
        g = np.asarray(gt["keypoints"], np.float64)
        xg, yg, vg = g[0::3], g[1::3], g[2::3]
        k1 = np.count_nonzero(vg > 0)
        bx, by, bw, bh = gt["bbox"]
        x0, x1, y0, y1 = bx - bw, bx + bw * 2, by - bh, by + bh * 2
        for i, dt in enumerate(dts):
            d = np.asarray(dt["keypoints"], np.float64)
            xd, yd = d[0::3], d[1::3]
            if k1 > 0:
                dx, dy = xd - xg, yd - yg
            else:
                z = np.zeros(len(sigmas))
                dx = np.maximum(z, x0 - xd) + np.maximum(z, xd - x1)
                dy = np.maximum(z, y0 - yd) + np.maximum(z, yd - y1)
            e = (dx**2 + dy**2) / var / (gt["area"] + np.spacing(1)) / 2
            if k1 > 0:
                e = e[vg > 0]
            ious[i, j] = np.sum(np.exp(-e)) / e.shape[0]
    return ious


def _box_iou(dts: list[dict], gts: list[dict]) -> np.ndarray:
    """(D, G) IoU of x, y, w, h boxes; a crowd ground truth counts intersection over the detection's area."""
    d = np.array([x["bbox"] for x in dts], np.float64).reshape(-1, 4)
    g = np.array([x["bbox"] for x in gts], np.float64).reshape(-1, 4)
    lo = np.maximum(d[:, None, :2], g[None, :, :2])
    hi = np.minimum(d[:, None, :2] + d[:, None, 2:], g[None, :, :2] + g[None, :, 2:])
    inter = np.prod(np.clip(hi - lo, 0, None), axis=-1)
    crowd = np.array([bool(x.get("iscrowd", 0)) for x in gts])
    union = np.where(crowd[None], d[:, None, 2] * d[:, None, 3], (d[:, 2] * d[:, 3])[:, None] + g[:, 2] * g[:, 3] - inter)
    return inter / np.maximum(union, np.spacing(1))


def _evaluate_image(gts: list[dict], dts: list[dict], area: tuple[float, float], max_dets: int,
                    similarity) -> dict | None:
    if not gts and not dts:
        return None
    ignore = np.array([g["_ignore"] or not (area[0] <= g["area"] <= area[1]) for g in gts], bool)
    g_order = np.argsort(ignore, kind="mergesort")
    gts = [gts[i] for i in g_order]
    ignore = ignore[g_order]
    d_order = np.argsort([-d["score"] for d in dts], kind="mergesort")[:max_dets]
    dts = [dts[i] for i in d_order]
    crowd = np.array([bool(g.get("iscrowd", 0)) for g in gts], bool)
    ious = similarity(dts, gts) if gts and dts else np.zeros((len(dts), len(gts)))
    gt_matched = np.zeros((len(THRESHOLDS), len(gts)), bool)
    dt_matched = np.zeros((len(THRESHOLDS), len(dts)), bool)
    dt_ignore = np.zeros((len(THRESHOLDS), len(dts)), bool)
    for t, threshold in enumerate(THRESHOLDS):
        for d in range(len(dts)):
            best, m = min(threshold, 1 - 1e-10), -1
            for g in range(len(gts)):
                if gt_matched[t, g] and not crowd[g]:
                    continue
                if m > -1 and not ignore[m] and ignore[g]:
                    break  # ground truths are sorted: only ignored ones follow
                if ious[d, g] < best:
                    continue
                best, m = ious[d, g], g
            if m == -1:
                continue
            dt_ignore[t, d] = ignore[m]
            dt_matched[t, d] = gt_matched[t, m] = True
    outside = np.array([not (area[0] <= d["area"] <= area[1]) for d in dts], bool)
    dt_ignore |= ~dt_matched & outside[None, :]
    return {"scores": np.array([d["score"] for d in dts]), "matched": dt_matched, "ignored": dt_ignore,
            "gt_ignored": ignore}


def _accumulate(images: list[dict | None]) -> tuple[np.ndarray, np.ndarray]:
    """Precision (T, R) and recall (T,) over images; -1 where there is no ground truth."""
    precision = -np.ones((len(THRESHOLDS), len(RECALLS)))
    recall = -np.ones(len(THRESHOLDS))
    results = [r for r in images if r is not None]
    if not results:
        return precision, recall
    scores = np.concatenate([r["scores"] for r in results])
    order = np.argsort(-scores, kind="mergesort")
    matched = np.concatenate([r["matched"] for r in results], axis=1)[:, order]
    ignored = np.concatenate([r["ignored"] for r in results], axis=1)[:, order]
    positives = np.count_nonzero(~np.concatenate([r["gt_ignored"] for r in results]))
    if positives == 0:
        return precision, recall
    tp = np.cumsum(matched & ~ignored, axis=1).astype(np.float64)
    fp = np.cumsum(~matched & ~ignored, axis=1).astype(np.float64)
    for t in range(len(THRESHOLDS)):
        rc = tp[t] / positives
        pr = tp[t] / (fp[t] + tp[t] + np.spacing(1))
        recall[t] = rc[-1] if len(rc) else 0.0
        pr = np.maximum.accumulate(pr[::-1])[::-1] if len(pr) else pr
        idx = np.searchsorted(rc, RECALLS, side="left")
        q = np.zeros(len(RECALLS))
        valid = idx < len(pr)
        q[valid] = pr[idx[valid]]
        precision[t] = q
    return precision, recall


def evaluate_keypoints(gt: dict, detections: list[dict], sigmas: np.ndarray, max_dets: int = 20) -> dict[str, float]:
    """COCO keypoint AP / AR (``STAT_NAMES``) of ``detections`` against the ground-truth dict ``gt``."""
    def prepare(d: dict) -> dict:
        kp = np.asarray(d["keypoints"], np.float64)
        x, y = kp[0::3], kp[1::3]
        return {**d, "area": float((x.max() - x.min()) * (y.max() - y.min()))}

    return _evaluate(gt, [prepare(d) for d in detections], lambda d, g: _oks(d, g, sigmas), max_dets,
                     lambda g: g.get("num_keypoints", 1) == 0)


def evaluate_boxes(gt: dict, detections: list[dict], max_dets: int = 100) -> dict[str, float]:
    """COCO box AP / AR (``STAT_NAMES``: AP50 is the PASCAL-style metric) of ``[{"image_id", "category_id",
    "bbox": [x, y, w, h], "score"}]`` against ``gt``."""
    prepared = [{**d, "area": float(d["bbox"][2] * d["bbox"][3])} for d in detections]
    return _evaluate(gt, prepared, _box_iou, max_dets, lambda g: False)


def _evaluate(gt: dict, detections: list[dict], similarity, max_dets: int, extra_ignore) -> dict[str, float]:
    cat_ids = sorted(c["id"] for c in gt.get("categories", [{"id": 1}]))
    image_ids = sorted(img["id"] for img in gt["images"])
    gts, dts = defaultdict(list), defaultdict(list)
    for g in gt["annotations"]:
        g = {**g, "_ignore": bool(g.get("iscrowd", 0)) or extra_ignore(g)}
        gts[g["image_id"], g["category_id"]].append(g)
    for d in detections:
        dts[d["image_id"], d["category_id"]].append(d)
    stats = {}
    for area_name, area in AREAS.items():
        per_cat = [_accumulate([_evaluate_image(gts[i, c], dts[i, c], area, max_dets, similarity) for i in image_ids])
                   for c in cat_ids]
        stats[area_name] = (np.stack([p for p, _ in per_cat], axis=-1), np.stack([r for _, r in per_cat], axis=-1))

    def mean(values: np.ndarray) -> float:
        values = values[values > -1]
        return float(values.mean()) if values.size else -1.0

    p_all, r_all = stats["all"]
    t50, t75 = 0, 5
    return dict(zip(STAT_NAMES, (
        mean(p_all), mean(p_all[t50]), mean(p_all[t75]), mean(stats["medium"][0]), mean(stats["large"][0]),
        mean(r_all), mean(r_all[t50]), mean(r_all[t75]), mean(stats["medium"][1]), mean(stats["large"][1]),
    )))
