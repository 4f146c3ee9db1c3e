"""TensorRT engines: build from ONNX, cache in ``engines/``, refuse stale ones.

Precision comes from the ONNX file (FP32 export, FP16 conversion, INT8 Q/DQ in the TensorRT flavour), never from
builder flags: TensorRT 11 builds every network strongly typed and removed the FP16/INT8 flags, and on 10.x the
STRONGLY_TYPED creation flag gives the same behaviour. The build follows TensorRT's samples step by step:
parse → optimisation profile for a dynamic batch (none for a static export: its shape is the engine's) →
workspace limit and timing cache → serialize.

Everything decided without a GPU lives in plain dataclasses (``ShapeProfile``, ``EngineSpec``: names, cache keys,
metadata, staleness) and is tested on the CPU; the TensorRT calls are the thin rest.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import onnx

from posetrack.compile.cache import digest, engine_dir, file_digest, slug
from posetrack.compile.precision import ExportedModel, precision_onnx
from posetrack.compile.qdq_rules import check_tensorrt_qdq
from posetrack.compile.quantize import TENSORRT
from posetrack.errors import PosetrackError
from posetrack.models.onnx_files import read_signature
from posetrack.types import Size

DEFAULT_MAX_BATCH = 32
OPT_BATCH = 16  # the pose stage's usual batch: 8-16 people per frame, twice that with flip test
DEFAULT_WORKSPACE = 2 << 30


class EngineError(PosetrackError):
    """An engine that cannot be built or loaded, or a cached one made for something else."""


@dataclass(frozen=True)
class ShapeProfile:
    """A TensorRT optimisation profile for one input: (min, opt, max) shapes; all three equal for a static export
    (``fixed``), which TensorRT builds as it is."""

    input_name: str
    min: tuple[int, ...]
    opt: tuple[int, ...]
    max: tuple[int, ...]

    @classmethod
    def for_batch(cls, input_name: str, item_shape: tuple[int, ...], max_batch: int = DEFAULT_MAX_BATCH,
                  opt_batch: int | None = None) -> ShapeProfile:
        """Batch 1 … ``max_batch``, tuned for ``opt_batch`` (default: ``OPT_BATCH``, or ``max_batch`` if smaller)."""
        if max_batch < 1:
            raise EngineError(f"max batch must be ≥ 1, got {max_batch}")
        opt = min(opt_batch or OPT_BATCH, max_batch)
        return cls(input_name, (1, *item_shape), (opt, *item_shape), (max_batch, *item_shape))

    @classmethod
    def fixed(cls, input_name: str, shape: tuple[int, ...]) -> ShapeProfile:
        """The one shape of a static export (MMDeploy's SDK detectors, most YOLOX and Ultralytics exports)."""
        return cls(input_name, shape, shape, shape)

    @property
    def dynamic(self) -> bool:
        """Whether the engine takes more than one shape (then the build adds this profile)."""
        return self.min != self.max

    def admits(self, shape: tuple[int, ...]) -> bool:
        """``shape`` lies inside the profile (element-wise between min and max)."""
        return len(shape) == len(self.min) and all(lo <= s <= hi for lo, s, hi in zip(self.min, shape, self.max))


def onnx_profile(path: Path, max_batch: int = DEFAULT_MAX_BATCH, opt_batch: int | None = None,
                 input_size: tuple[int, int] | None = None) -> ShapeProfile:
    """The profile for an ONNX file with one (batch, C, H, W) input: a fixed batch as it is (a static export: the
    detector then runs one frame at a time), a dynamic one over 1 … ``max_batch``. A dynamic height and width take
    ``input_size`` (width, height: the model record's).

    Raises:
        EngineError: not one 4-D input, or a dynamic size without ``input_size``.
    """
    try:
        sig = read_signature(path)
    except PosetrackError as exc:
        raise EngineError(str(exc)) from None
    if sig.channels is None:
        raise EngineError(f"{path}: input {sig.input_name} has a dynamic channel count")
    size = sig.input_size or (Size(*input_size) if input_size is not None else None)
    if size is None:
        raise EngineError(f"{path}: input {sig.input_name} has a dynamic height and width and no input size was given")
    item = (sig.channels, size.height, size.width)
    if sig.batch is not None:
        return ShapeProfile.fixed(sig.input_name, (sig.batch, *item))
    return ShapeProfile.for_batch(sig.input_name, item, max_batch, opt_batch)


@dataclass(frozen=True)
class Gpu:
    """The device an engine is built for: name and compute capability (major, minor)."""

    name: str
    compute_capability: tuple[int, int]

    @property
    def slug(self) -> str:
        return slug(self.name)


@dataclass(frozen=True)
class EngineSpec:
    """Everything an engine plan depends on; two specs with the same ``key`` give interchangeable plans.

    Attributes:
        model: model name (file stem), e.g. ``pose_demo_192x128``.
        onnx_digest: digest of the ONNX file the engine is built from (weights, precision, quantization).
        precision: ``fp32``, ``fp16`` or ``int8`` (as carried by the ONNX file).
        profile: dynamic-batch shape profile.
        gpu: target device. tensorrt_version: e.g. ``10.16.1``.
        workspace: builder workspace limit in bytes.
    """

    model: str
    onnx_digest: str
    precision: str
    profile: ShapeProfile
    gpu: Gpu
    tensorrt_version: str
    workspace: int = DEFAULT_WORKSPACE

    @property
    def key(self) -> str:
        return digest(asdict(self))

    @property
    def filename(self) -> str:
        """E.g. ``pose_demo_192x128-int8-b1-32-nvidia-h100-sm90-trt10.16.1-3f2a9c0d1e4b.plan``."""
        major, minor = self.gpu.compute_capability
        return (f"{self.model}-{self.precision}-b{self.profile.min[0]}-{self.profile.max[0]}-{self.gpu.slug}"
                f"-sm{major}{minor}-trt{self.tensorrt_version}-{self.key}.plan")

    def metadata(self) -> dict:
        return {**asdict(self), "key": self.key}


def stale_reason(plan: Path, spec: EngineSpec) -> str | None:
    """Why the cached ``plan`` cannot serve ``spec`` (None: it can). Reads the JSON sidecar written at build time;
    a plan without one is never trusted."""
    meta_path = plan.with_suffix(".json")
    if not plan.is_file():
        return "not built yet"
    try:
        meta = json.loads(meta_path.read_text())
    except (FileNotFoundError, ValueError):
        return "no readable metadata next to the plan"
    want = json.loads(json.dumps(spec.metadata()))  # tuples → lists, as stored
    for field in want:
        if meta.get(field) != want[field]:
            return f"{field} differs (cached {meta.get(field)!r}, wanted {want[field]!r})"
    return None


def engine_spec(onnx_path: Path, model: str, precision: str, gpu: Gpu, tensorrt_version: str,
                max_batch: int = DEFAULT_MAX_BATCH, input_size: tuple[int, int] | None = None) -> EngineSpec:
    return EngineSpec(model, file_digest(onnx_path), precision, onnx_profile(onnx_path, max_batch,
                                                                             input_size=input_size), gpu,
                      tensorrt_version)


# ------------------------------------------------------------------------------------- TensorRT calls


def _trt():
    try:
        import tensorrt as trt
    except ImportError:
        raise EngineError("TensorRT is not installed (pip install 'posetrack[tensorrt]' on a machine with an NVIDIA "
                          "GPU)") from None
    return trt


def current_gpu(device: str = "cuda:0") -> Gpu:
    import torch

    if not torch.cuda.is_available():
        raise EngineError("no CUDA GPU visible to torch: TensorRT engines need one")
    index = torch.device(device).index or 0
    return Gpu(torch.cuda.get_device_name(index), torch.cuda.get_device_capability(index))


def build_engine(onnx_path: Path, spec: EngineSpec, plan_path: Path, timing_cache: Path | None = None) -> Path:
    """Build ``onnx_path`` into a serialized plan at ``plan_path`` (+ JSON metadata sidecar).

    Raises:
        EngineError: the parser rejects the model, the profile is invalid, or the build fails.
    """
    trt = _trt()
    logger = trt.Logger(trt.Logger.WARNING)
    try:
        builder = trt.Builder(logger)
    except TypeError:  # the bindings' factory returns nullptr without a usable CUDA driver
        raise EngineError("TensorRT cannot create a builder: no usable CUDA GPU") from None
    # strongly typed: precision comes from the ONNX file (flag required on 10.x, ignored on 11.x)
    network = builder.create_network(1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED))
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(onnx_path)):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise EngineError(f"{onnx_path}: TensorRT's ONNX parser rejects it: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, spec.workspace)
    p = spec.profile
    if p.dynamic:  # a static network's shape is its own; a profile is for dynamic inputs only
        profile = builder.create_optimization_profile()
        profile.set_shape(p.input_name, p.min, p.opt, p.max)
        if config.add_optimization_profile(profile) < 0:
            raise EngineError(f"{onnx_path}: invalid optimisation profile {p}")
    old = timing_cache.read_bytes() if timing_cache is not None and timing_cache.is_file() else b""
    cache = config.create_timing_cache(old)
    config.set_timing_cache(cache, ignore_mismatch=False)
    plan = builder.build_serialized_network(network, config)
    if plan is None:
        raise EngineError(f"{onnx_path}: TensorRT failed to build the {spec.precision} engine (see its log above)")
    plan_path.parent.mkdir(parents=True, exist_ok=True)
    plan_path.write_bytes(bytes(plan))
    plan_path.with_suffix(".json").write_text(json.dumps(spec.metadata(), indent=2) + "\n")
    if timing_cache is not None:
        timing_cache.write_bytes(bytes(config.get_timing_cache().serialize()))
    return plan_path


def ensure_engine(onnx_path: Path, model: str, precision: str, max_batch: int = DEFAULT_MAX_BATCH,
                  rebuild: bool = True, device: str = "cuda:0", input_size: tuple[int, int] | None = None
                  ) -> tuple[Path, EngineSpec]:
    """The cached plan for this model, precision, batch range (a static export: its own batch), GPU (``device``) and
    TensorRT version; built on that device when missing, rebuilt when stale (or refused with the reason when
    ``rebuild`` is False). ``input_size`` (width, height) serves an export with a dynamic height and width."""
    import torch

    trt = _trt()
    spec = engine_spec(onnx_path, model, precision, current_gpu(device), trt.__version__, max_batch, input_size)
    plan = engine_dir() / spec.filename
    reason = stale_reason(plan, spec)
    if reason is not None:
        if plan.is_file() and not rebuild:
            raise EngineError(f"{plan}: cached engine is stale ({reason}); run `posetrack build` again")
        gpu_cache = engine_dir() / f"timing-{spec.gpu.slug}-trt{spec.tensorrt_version}.cache"
        with torch.cuda.device(torch.device(device)):  # TensorRT builds on the current CUDA device
            build_engine(onnx_path, spec, plan, gpu_cache)
    return plan, spec


def tensorrt_onnx(model: ExportedModel, precision: str) -> Path:
    """The ONNX file TensorRT builds ``model``'s engine at ``precision`` from; an INT8 one is checked against
    TensorRT's Q/DQ rules first.

    Raises:
        PosetrackError: the INT8 model breaks a rule (the first is named).
    """
    path = precision_onnx(model, precision, TENSORRT)
    if precision == "int8":
        problems = check_tensorrt_qdq(onnx.load(str(path)))
        if problems:
            raise PosetrackError(f"{path}: not buildable by TensorRT: {problems[0]} (+{len(problems) - 1} more)")
    return path


def tensorrt_backend(onnx_path: Path, model: str, precision: str, max_batch: int = DEFAULT_MAX_BATCH,
                     device: str = "cuda:0", input_size: tuple[int, int] | None = None):
    """A ``TrtBackend`` on ``device`` over the cached (or freshly built) engine of ``onnx_path``."""
    import torch

    from posetrack.backends.trt_backend import TrtBackend

    plan, spec = ensure_engine(onnx_path, model, precision, max_batch, device=device, input_size=input_size)
    trt = _trt()
    with torch.cuda.device(torch.device(device)):
        runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
        engine = runtime.deserialize_cuda_engine(plan.read_bytes())
        if engine is None:
            raise EngineError(f"{plan}: TensorRT cannot deserialize the plan; delete it to rebuild")
        return TrtBackend(engine, runtime=runtime, name=f"trt:{spec.gpu.name}:{precision}", device=device)
