import contextlib
import io
import json
import os
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import pytest
import torch

from posetrack.models.hrnet import HRNet, official_extra

# Tests never reach the network: model downloads only from servers the tests start on 127.0.0.1, into a model cache of
# their own; and every session exports its own engines, so what the checkout has cached changes no result or time
# (subprocesses inherit all three).
os.environ["POSETRACK_OFFLINE"] = "1"
os.environ["POSETRACK_HOME"] = tempfile.mkdtemp(prefix="posetrack-home-")
os.environ["POSETRACK_ENGINES"] = tempfile.mkdtemp(prefix="posetrack-engines-")
os.environ.pop("POSETRACK_MIRROR", None)


SCHEMAS = Path(__file__).parents[1] / "schemas"
# Real footage, ground truth and models beside the project (../shared/real; its README gives every format). Never
# copied into the project: tests that read it skip where it is absent (a user's clone).
REAL = Path(os.environ.get("POSETRACK_REAL_DATA") or Path(__file__).resolve().parents[2] / "shared" / "real")


def real_data() -> Path:
    """The real-data folder, or the calling test skipped where it is absent."""
    if not (REAL / "README.md").is_file():
        pytest.skip(f"no real data at {REAL}")
    return REAL


DEMO_MODELS = ("--pose-model", "demo", "--detector", "demo")


def posetrack_command(*args: object) -> list[str]:
    """The command line of ``posetrack ARGS`` (for ``subprocess.Popen``: a run the test signals or reads live)."""
    return [sys.executable, "-m", "posetrack.cli", *map(str, args)]


def posetrack_cli(*args: object, timeout: float = 300, env: dict | None = None, cwd: Path | None = None,
                  **kwargs) -> subprocess.CompletedProcess:
    """``posetrack ARGS`` run as a user runs it (a process of its own, text output captured); ``env``: variables
    set on top of this process's."""
    return subprocess.run(posetrack_command(*args), capture_output=True, text=True, timeout=timeout,
                          env={**os.environ, **env} if env else None, cwd=cwd, **kwargs)


@pytest.fixture
def cli():
    """The command-line runner (``posetrack_cli``)."""
    return posetrack_cli


def posetrack_here(capsys, *args: object) -> subprocess.CompletedProcess:
    """``posetrack ARGS`` run in this process (what it prints and returns are the same; no interpreter start-up
    and no imports to wait for): a ``CompletedProcess`` of its status and output."""
    from posetrack.cli import main

    try:
        code = main([str(a) for a in args])
    except SystemExit as exc:  # argparse's own exit on a bad option
        code = exc.code
    out = capsys.readouterr()
    return subprocess.CompletedProcess(args, code, out.out, out.err)


@pytest.fixture
def here(capsys):
    """The command-line runner in this process (``posetrack_here``): for tests that read what a run writes and
    prints, not how a separate process starts, stops or is signalled."""
    return lambda *args: posetrack_here(capsys, *args)


@pytest.fixture(scope="session")
def clip_factory(tmp_path_factory):
    """``make(preset, frames, size=(320, 192), seed=1) → (video, truth JSON)``: synthetic clips rendered once per
    session and shared by every test that asks for the same one (named as ``synth.files.clip_name`` names them)."""
    from posetrack.synth import preset as preset_config
    from posetrack.synth.files import clip_name, write_clip

    made: dict[tuple, tuple[Path, Path]] = {}

    def make(preset: str = "easy", frames: int = 8, size: tuple[int, int] = (320, 192), seed: int = 1):
        key = (preset, frames, tuple(size), seed)
        if key not in made:
            folder = tmp_path_factory.mktemp(f"clip-{preset}-{frames}")
            made[key] = write_clip(preset_config(preset, frames=frames, size=size), seed, folder,
                                   clip_name(preset, seed))
        return made[key]

    return make


def schema(name: str) -> dict:
    """The JSON Schema ``schemas/<name>.schema.json`` (what an output promises its readers)."""
    return json.loads((SCHEMAS / f"{name}.schema.json").read_text())


def validate(instance: object, name: str) -> None:
    """Check ``instance`` against ``schemas/<name>.schema.json``, whose ``$ref``s may name the other schemas by
    their ``$id``."""
    import jsonschema
    from referencing import Registry, Resource

    documents = [json.loads(p.read_text()) for p in SCHEMAS.glob("*.schema.json")]
    registry = Registry().with_resources((d["$id"], Resource.from_contents(d)) for d in documents)
    jsonschema.Draft202012Validator(schema(name), registry=registry).validate(instance)


def validate_table(path: Path, name: str) -> list[dict]:
    """Check the CSV file ``path`` against the Frictionless Table Schema ``schemas/<name>.tableschema.json``: the
    header is its fields in order, every value parses as its field's type and meets its constraints (required,
    minimum, maximum, enum), and the primary key is unique. Returns the rows, values parsed."""
    import csv

    table = json.loads((SCHEMAS / f"{name}.tableschema.json").read_text())
    fields = table["fields"]
    kinds = {"integer": int, "number": float, "string": str}
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        assert next(reader) == [fd["name"] for fd in fields], f"{path}: header"
        rows = []
        for n, values in enumerate(reader, 2):
            row = {}
            for fd, text in zip(fields, values, strict=True):
                rules = fd.get("constraints", {})
                if text == "":
                    assert not rules.get("required"), f"{path}:{n}: {fd['name']} is required"
                    row[fd["name"]] = None
                    continue
                value = kinds[fd["type"]](text)
                assert value >= rules.get("minimum", value) and value <= rules.get("maximum", value), (n, fd, text)
                assert "enum" not in rules or value in rules["enum"], (n, fd, text)
                row[fd["name"]] = value
            rows.append(row)
    keys = [tuple(r[k] for k in table["primaryKey"]) for r in rows]
    assert len(set(keys)) == len(keys), f"{path}: primary key {table['primaryKey']} repeats"
    return rows


def _cuda_available() -> bool:
    return torch.cuda.is_available()


def pytest_collection_modifyitems(config, items):
    if _cuda_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none on this machine")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


def tiny_extra() -> dict:
    """A small HRNet of the official schema (plus STAGE1/STEM_INPLANES) for fast tests."""
    extra = official_extra(8)
    extra["STAGE1"] = {"BLOCK": "BOTTLENECK", "NUM_BLOCKS": [1], "NUM_CHANNELS": [16]}
    extra["STEM_INPLANES"] = 32
    for s in ("STAGE3", "STAGE4"):
        extra[s]["NUM_MODULES"] = 1
    return extra


def randomize_bn(model: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Give every BatchNorm non-trivial affine parameters and running statistics."""
    g = torch.Generator().manual_seed(seed)
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            n = m.num_features
            m.weight.data = 0.5 + torch.rand(n, generator=g)
            m.bias.data = 0.1 * torch.randn(n, generator=g)
            m.running_mean = 0.1 * torch.randn(n, generator=g)
            m.running_var = 0.5 + torch.rand(n, generator=g)
    return model


@pytest.fixture(scope="session")
def tiny_model() -> HRNet:
    torch.manual_seed(0)
    return randomize_bn(HRNet.from_official_config(tiny_extra())).eval()


@pytest.fixture(scope="session")
def tiny_onnx(tiny_model, tmp_path_factory):
    from posetrack.compile.export import export_onnx

    return export_onnx(tiny_model, tmp_path_factory.mktemp("onnx") / "tiny.onnx", (96, 128))


@pytest.fixture
def no_tf32():
    """float32 means float32 on a GPU for the test: cuDNN's and cuBLAS's TF32 (on by default for convolutions) would
    put an fp32 parity test 1e-3 off for reasons of no code of ours."""
    saved = torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32
    torch.backends.cudnn.allow_tf32 = torch.backends.cuda.matmul.allow_tf32 = False
    yield
    torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


def cocoeval(gt: dict, detections: list[dict], iou_type: str, sigmas: np.ndarray | None = None) -> np.ndarray:
    """pycocotools' COCOeval summary (the 10 or 12 stats) of ``detections`` on ``gt`` — the reference our AP must
    equal; ``sigmas`` are the per-joint OKS sigmas for ``iou_type="keypoints"``."""
    pycoco = pytest.importorskip("pycocotools.cocoeval")
    from pycocotools.coco import COCO

    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = json.loads(json.dumps(gt))
        coco_gt.createIndex()
        ev = pycoco.COCOeval(coco_gt, coco_gt.loadRes(json.loads(json.dumps(detections))), iou_type)
        if sigmas is not None:
            ev.params.kpt_oks_sigmas = np.asarray(sigmas, np.float64)
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    return ev.stats


def as_from_a_terminal(*ignored: int):
    """A ``preexec_fn`` for a command the tests signal: the stop signals as a terminal gives them, whatever the test
    runner inherited (``nohup`` ignores SIGHUP, a shell's background job Ctrl-C, and an ignored signal stays
    ignored), then ``ignored`` signals ignored."""

    def prepare() -> None:
        for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(signum, signal.SIG_DFL)
        for signum in ignored:
            signal.signal(signum, signal.SIG_IGN)

    return prepare
