"""Run one third-party tracker on a recording of per-frame poses (``compare.py`` writes them). This script runs in
the peers' own environments (``setup_peers.sh``) and imports nothing from posetrack.

    python peers.py boxmot-bytetrack clip-detector.npz out.npz

Writes ``ids`` (one track id per recorded pose; -1 = the tracker gave that pose no output), ``ms_per_frame`` (its
own update calls) and ``threshold`` (the box score from which the tracker may output a pose: what counts as held
back). Every tracker runs with its documented defaults, at 25 fps where it takes a frame rate, without ReID.
"""

from __future__ import annotations

import sys
import time

import numpy as np


def boxmot_run(name: str):
    import boxmot

    if name == "boxmot-bytetrack":
        tracker, threshold = boxmot.ByteTrack(frame_rate=25), 0.45  # track_thresh default
    elif name == "boxmot-ocsort":
        tracker, threshold = boxmot.OcSort(), 0.3  # det_thresh default (min_conf 0.1 is its second stage)
    else:
        tracker = boxmot.BotSort(use_embeddings=False, frame_rate=25, device="cpu", half=False)
        threshold = 0.6  # new_track_thresh default

    def update(boxes, scores, keypoints, kp_scores, image) -> dict[int, int]:
        dets = np.concatenate([boxes, scores[:, None], np.zeros((len(boxes), 1))], 1).astype(np.float32)
        out = tracker.update(dets, image)
        return {int(row[7]): int(row[4]) for row in out}  # detection index -> track id

    return update, threshold


def supervision_run():
    import supervision as sv

    tracker = sv.ByteTrack(frame_rate=25)

    def update(boxes, scores, keypoints, kp_scores, image) -> dict[int, int]:
        dets = sv.Detections(xyxy=boxes.astype(np.float32), confidence=scores.astype(np.float32),
                             class_id=np.zeros(len(boxes), int), data={"index": np.arange(len(boxes))})
        out = tracker.update_with_detections(dets)
        if len(out) == 0:  # an empty result carries no data columns
            return {}
        return {int(i): int(t) for i, t in zip(out.data["index"], out.tracker_id)}

    return update, 0.25  # track_activation_threshold default


def norfair_run(height: int):
    from norfair import Detection, Tracker
    from norfair.distances import create_keypoints_voting_distance

    # norfair's pose demos: a keypoint votes within frame height / 30, detection threshold 0.2, distance 0.3
    tracker = Tracker(distance_function=create_keypoints_voting_distance(height / 30, 0.2), distance_threshold=0.3,
                      detection_threshold=0.2)

    def update(boxes, scores, keypoints, kp_scores, image) -> dict[int, int]:
        dets = [Detection(points=kp.astype(np.float64), scores=s.astype(np.float64), data=i)
                for i, (kp, s) in enumerate(zip(keypoints, kp_scores))]
        out = tracker.update(detections=dets)
        return {int(o.last_detection.data): int(o.id) for o in out if o.last_detection in dets}

    return update, 0.0


def main() -> None:
    name, recording, out = sys.argv[1:4]
    import cv2

    rec = np.load(recording)
    video = cv2.VideoCapture(str(rec["video"]))
    if name.startswith("boxmot"):
        update, threshold = boxmot_run(name)
    elif name == "supervision-bytetrack":
        update, threshold = supervision_run()
    elif name == "norfair-keypoints":
        update, threshold = norfair_run(int(rec["height"]))
    else:
        raise SystemExit(f"unknown tracker {name}")
    ids = np.full(len(rec["frame"]), -1, np.int64)
    elapsed = 0.0
    for i in range(int(rec["frames"])):
        ok, image = video.read()
        if not ok:
            raise SystemExit(f"{rec['video']}: frame {i} unreadable")
        rows = np.flatnonzero(rec["frame"] == i)
        start = time.perf_counter()
        given = update(rec["boxes"][rows], rec["box_scores"][rows], rec["keypoints"][rows], rec["kp_scores"][rows],
                       image)
        elapsed += time.perf_counter() - start
        for index, track in given.items():
            ids[rows[index]] = track
    np.savez(out, ids=ids, ms_per_frame=elapsed / int(rec["frames"]) * 1e3, threshold=threshold)


if __name__ == "__main__":
    main()
