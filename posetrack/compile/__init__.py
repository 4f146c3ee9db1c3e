"""Compilation as explicit steps, one module each: ``export`` (verified ONNX) → ``calibrate`` (activation ranges
in ``calib/``) → ``quantize`` (Q/DQ INT8, FP16, TensorRT's Q/DQ rules) → ``precision`` (the cached file of a
precision) → ``tensorrt`` (engine build and cache); ``cache`` holds the folders, digests and verified saves they
share."""
