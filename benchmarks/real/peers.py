"""One box tracker of the peers on a real recording's boxes (``poses-*.npz``: frames, boxes, scores), writing
MOTChallenge text whose boxes are the input boxes each track was given (as the baselines were scored), or with
``own`` the tracker's own output boxes (boxmot's Kalman estimates; supervision outputs the input boxes). Runs in
the peers' own environment (``setup_peers.sh``) and imports nothing from posetrack.

    python peers.py boxmot-botsort RECORDING.npz FRAMES(dir|video) OUT.txt [own]

Every tracker runs with its documented defaults at 25 fps, without ReID.
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np


def tracker_of(name: str):
    if name.startswith("boxmot"):
        import boxmot

        tracker = {"boxmot-bytetrack": lambda: boxmot.ByteTrack(frame_rate=25), "boxmot-ocsort": lambda: boxmot.OcSort(),
                   "boxmot-botsort": lambda: boxmot.BotSort(use_embeddings=False, frame_rate=25, device="cpu",
                                                            half=False)}[name]()

        def update(boxes, scores, image) -> dict[int, tuple[int, np.ndarray]]:
            dets = np.concatenate([boxes, scores[:, None], np.zeros((len(boxes), 1))], 1).astype(np.float32)
            out = tracker.update(dets, image)
            return {int(row[7]): (int(row[4]), row[:4]) for row in out}  # detection index -> track id, own box

        return update
    import supervision as sv

    tracker = sv.ByteTrack(frame_rate=25)

    def update_sv(boxes, scores, image) -> dict[int, tuple[int, np.ndarray]]:
        dets = sv.Detections(xyxy=boxes.astype(np.float32), confidence=scores.astype(np.float32),
                             class_id=np.zeros(len(boxes), int), data={"index": np.arange(len(boxes))})
        out = tracker.update_with_detections(dets)
        return {} if len(out) == 0 else {int(i): (int(t), box) for i, t, box in
                                         zip(out.data["index"], out.tracker_id, out.xyxy)}

    return update_sv


def frames(source: Path):
    if source.is_dir():
        for path in sorted(source.glob("*.jpg")):
            yield cv2.imread(str(path))
        return
    video = cv2.VideoCapture(str(source))
    while True:
        ok, image = video.read()
        if not ok:
            return
        yield image


def main() -> None:
    name, recording, source, out = sys.argv[1], np.load(sys.argv[2]), Path(sys.argv[3]), Path(sys.argv[4])
    own = sys.argv[5:] == ["own"]
    update = tracker_of(name)
    lines = []
    for i, image in enumerate(frames(source)):
        rows = np.flatnonzero(recording["frame"] == i)
        boxes, scores = recording["boxes"][rows], recording["box_scores"][rows]
        for index, (track, box) in sorted(update(boxes, scores, image).items()):
            x1, y1, x2, y2 = (float(v) for v in (box if own else boxes[index]))
            lines.append(f"{i + 1},{track},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{scores[index]:.4f},-1,-1,-1")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("".join(line + "\n" for line in lines))


if __name__ == "__main__":
    main()
