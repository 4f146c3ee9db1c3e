"""Fuzzing the parsers of every file a user hands over: random and mutated inputs give a result or a
``PosetrackError``, never another exception (which the CLI would print as a traceback).

Inputs are valid files with parts replaced, deleted or cut, and plain random documents and bytes. The examples
are derandomised so CI runs the same ones each time; a wider random campaign runs with ``POSETRACK_FUZZ=N``
(N examples per parser).
"""

import io
import json
import os
import string
from itertools import islice
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from posetrack.detect import PrecomputedDetections
from posetrack.errors import PosetrackError
from posetrack.io.posetrack_json import read_sequence
from posetrack.io.sources import open_source
from posetrack.models.checkpoints import load_checkpoint
from posetrack.models.hrnet import hrnet
from posetrack.sinks import recover
from posetrack.train.data import coco_person_samples, posetrack_person_samples
from posetrack.types import Frame

CAMPAIGN = int(os.environ.get("POSETRACK_FUZZ", "0"))
FUZZ = settings(max_examples=CAMPAIGN or 60, deadline=None, derandomize=not CAMPAIGN, database=None,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])

SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-10**6, 10**6), st.floats(allow_nan=True),
                    st.text(string.printable, max_size=8))
JSON = st.recursive(SCALARS, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                     st.dictionaries(st.text(max_size=6), inner, max_size=4)),
                    max_leaves=12)


def _paths(doc, prefix=()):
    """Every path to a value inside a JSON document."""
    yield prefix
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _paths(v, (*prefix, k))
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _paths(v, (*prefix, i))


def _mutate(doc, data):
    """``doc`` with 1-3 values replaced by random JSON or deleted."""
    doc = json.loads(json.dumps(doc))
    for _ in range(data.draw(st.integers(1, 3))):
        paths = [p for p in _paths(doc) if p]
        if not paths:
            return data.draw(JSON)
        path = data.draw(st.sampled_from(paths))
        parent = doc
        for key in path[:-1]:
            parent = parent[key]
        if data.draw(st.booleans()):
            parent[path[-1]] = data.draw(JSON)
        elif isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    return doc


def _document(valid, data):
    """A mutated ``valid`` document, a random one, or the text of either cut short."""
    kind = data.draw(st.sampled_from(["mutated", "mutated", "random", "cut"]))
    doc = data.draw(JSON) if kind == "random" else _mutate(valid, data)
    text = json.dumps(doc)
    if kind == "cut":
        text = json.dumps(valid)[: data.draw(st.integers(0, len(json.dumps(valid))))]
    return text


def _damaged(blob: bytes, data, kind: str, flips: int, random_size: int) -> bytes:
    """``blob`` as it is (``keep``), cut short (``cut``), with up to ``flips`` bytes overwritten (``flipped``), or
    replaced by up to ``random_size`` random bytes (``random``)."""
    damaged = bytearray(blob)
    if kind == "cut":
        damaged = damaged[: data.draw(st.integers(0, len(damaged)))]
    elif kind == "flipped":
        for _ in range(data.draw(st.integers(1, flips))):
            damaged[data.draw(st.integers(0, len(damaged) - 1))] = data.draw(st.integers(0, 255))
    elif kind == "random":
        damaged = bytearray(data.draw(st.binary(max_size=random_size)))
    return bytes(damaged)


def _accepts_or_explains(fn):
    try:
        fn()
    except PosetrackError:
        pass


@pytest.fixture(scope="module")
def valid(tmp_path_factory):
    """Valid files of each kind, written by the project itself (a synthetic clip and its truth)."""
    from posetrack.synth import preset
    from posetrack.synth.files import coco_keypoints, truth_detections, write_clip

    root = tmp_path_factory.mktemp("valid")
    clip, truth = write_clip(preset("easy", frames=3, size=(320, 192)), 2, root, "100002_mpii_test")
    images, coco = coco_keypoints(preset("easy", frames=2, size=(320, 192)), 2)
    (root / "images").mkdir()
    for k, img in enumerate(coco["images"]):
        cv2.imwrite(str(root / "images" / img["file_name"]), images[k])
    frames = root / "frames"
    frames.mkdir()
    posetrack = json.loads(truth.read_text())
    capture = cv2.VideoCapture(str(clip))
    for image in posetrack["images"]:  # at the names the PoseTrack file gives, for the training reader
        frame = capture.read()[1]
        (root / image["file_name"]).parent.mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / image["file_name"]), frame)
        cv2.imwrite(str(frames / Path(image["file_name"]).name), frame)
    return {"root": root, "posetrack": posetrack, "detections": truth_detections(truth), "coco": coco,
            "frames": frames}


@FUZZ
@given(data=st.data())
def test_detection_files(valid, tmp_path, data):
    path = tmp_path / "dets.json"
    path.write_text(_document(valid["detections"], data))
    frame = Frame(0, 0.0, np.zeros((192, 320, 3), np.uint8))
    _accepts_or_explains(lambda: PrecomputedDetections(path).detect(frame))


@FUZZ
@given(data=st.data())
def test_posetrack_files(valid, tmp_path, data):
    path = tmp_path / "100002_mpii_test.json"
    path.write_text(_document(valid["posetrack"], data))
    _accepts_or_explains(lambda: read_sequence(path))
    _accepts_or_explains(lambda: list(islice(posetrack_person_samples(path, valid["root"], repeat=False), 5)))


@FUZZ
@given(data=st.data())
def test_coco_keypoint_files(valid, tmp_path, data):
    path = tmp_path / "person_keypoints.json"
    path.write_text(_document(valid["coco"], data))
    _accepts_or_explains(lambda: list(islice(coco_person_samples(path, valid["root"] / "images", repeat=False), 5)))


@FUZZ
@given(data=st.data())
def test_journals(valid, tmp_path, data):
    header = {"kind": data.draw(st.sampled_from(["posetrack", "coco", "other"])), "output": "x.json"}
    lines = [header, *[data.draw(JSON) for _ in range(data.draw(st.integers(0, 3)))]]
    text = "".join(json.dumps(line) + "\n" for line in lines)
    (tmp_path / "x.json.journal").write_text(text[: data.draw(st.integers(0, len(text)))])
    _accepts_or_explains(lambda: recover(tmp_path))


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    """A valid ``posetrack train``-style checkpoint file (a path: hypothesis prints the arguments it fails on)."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("ckpt") / "valid.pth"
    torch.save({"state_dict": hrnet("demo").state_dict(), "epoch": 3}, path)
    return path


@settings(FUZZ, max_examples=CAMPAIGN or 25)
@given(data=st.data())
def test_checkpoints(checkpoint, tmp_path, data):
    kind = data.draw(st.sampled_from(["cut", "flipped", "random", "object"]))
    if kind == "object":
        buffer = io.BytesIO()
        torch.save(data.draw(st.recursive(SCALARS, lambda inner: st.dictionaries(
            st.one_of(st.text(max_size=6), st.integers()), st.one_of(inner, st.just(torch.zeros(2)))), max_leaves=6)),
            buffer)
        blob = buffer.getvalue()
    else:
        blob = _damaged(checkpoint.read_bytes(), data, kind, flips=8, random_size=256)
    path = tmp_path / "weights.pth"
    path.write_bytes(blob)
    _accepts_or_explains(lambda: load_checkpoint(hrnet("demo"), path))


@settings(FUZZ, max_examples=CAMPAIGN or 25)
@given(data=st.data())
def test_image_folders(valid, tmp_path, data):
    folder = tmp_path / "frames"
    folder.mkdir(exist_ok=True)
    for old in folder.iterdir():
        old.unlink()
    originals = sorted(valid["frames"].iterdir())
    for source in originals:
        kind = data.draw(st.sampled_from(["keep", "cut", "flipped", "random"]))
        (folder / source.name).write_bytes(_damaged(source.read_bytes(), data, kind, flips=16, random_size=64))
    _accepts_or_explains(lambda: [f.image.shape for f in open_source(folder)])
