"""The device-resident data path, in torch: the same code on CPU tensors (tested against the OpenCV/NumPy path)
and on CUDA tensors, so that on a GPU a frame goes up once and only keypoints come back.

``crops`` (all persons of a frame, one batched affine resample, normalised), ``decode`` (heatmaps → image
keypoints: argmax + quarter pixel or DARK, flip-test merge, inverse transform), ``buckets`` (batch sizes padded to
a CUDA-graph bucket, batches larger than an engine profile cut into chunks).
"""
