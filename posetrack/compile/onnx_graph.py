"""What the ONNX rewrites share: producer / consumer maps of a graph, the Q/DQ op names, the opset (and raising it),
dropping initializers nothing reads."""

from __future__ import annotations

from collections import defaultdict

import onnx
import onnx.version_converter

QDQ_OPS = ("QuantizeLinear", "DequantizeLinear")


class GraphIndex:
    """Producer / consumer maps of a graph (rebuilt after each edit)."""

    def __init__(self, graph: onnx.GraphProto):
        self.graph = graph
        self.producer = {o: n for n in graph.node for o in n.output}
        self.consumers: dict[str, list[tuple[onnx.NodeProto, int]]] = defaultdict(list)
        for n in graph.node:
            for i, name in enumerate(n.input):
                self.consumers[name].append((n, i))
        self.outputs = {o.name for o in graph.output}
        self.inputs = {i.name for i in graph.input}
        self.initializers = {t.name: t for t in graph.initializer}


def drop_unused_initializers(graph: onnx.GraphProto) -> None:
    used = {name for node in graph.node for name in node.input}
    keep = [t for t in graph.initializer if t.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def opset(model: onnx.ModelProto) -> int:
    """The model's default-domain opset."""
    return next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))


def with_opset(model: onnx.ModelProto, least: int) -> onnx.ModelProto:
    """``model`` raised to opset ``least`` where it is older (a detector exported at opset 11 cannot hold per-channel
    Q/DQ, which needs 13); tensor names stay, so calibration ranges still apply."""
    return onnx.version_converter.convert_version(model, least) if opset(model) < least else model
