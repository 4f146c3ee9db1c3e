"""The device-resident data path, in torch: the same code on CPU tensors (tested against the OpenCV/NumPy path)
and on CUDA tensors, so that on a GPU a frame goes up once and only keypoints come back.

``frames`` (a frame uploaded once through pinned buffers; the detector's letterbox), ``crops`` (all persons of a
frame, one batched affine resample, normalised), ``decode`` (heatmaps → image keypoints: argmax + quarter pixel
or DARK, flip-test merge, inverse transform), ``pose_step`` (crops → network → keypoints as one function of fixed
shapes), ``graphs`` (CUDA graphs of such a function, one per shape), ``buckets`` (batch sizes padded to a
CUDA-graph bucket, batches larger than an engine profile cut into chunks), ``streams`` (a CUDA stream per network
stage).

``is_cuda`` is the one place that decides whether a device is a CUDA device.
"""


def is_cuda(device: object) -> bool:
    """Whether ``device`` (``"cuda"``, ``"cuda:N"``, a ``torch.device``; None: no) is a CUDA device: the one place
    posetrack asks."""
    return device is not None and str(device).split(":", 1)[0] == "cuda"
