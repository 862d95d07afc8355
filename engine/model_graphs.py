"""A model's ONNX graphs read once and checked against its manifest's ``io`` section.

Opening each graph when a model is found (not when it first generates) lets a
wrong input name, element type or rank be reported in one line that names the
file, and keeps the graphs' facts (``GraphInfo``) for the medium's own checks.
onnxruntime parses the files: ``onnx`` is a training-only dependency.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import onnxruntime as ort

from engine.manifest import FLOAT_TENSORS, GraphInfo, ModelError, TensorInfo
from engine.providers import CPU_PROVIDER

_ORT_ERROR = re.compile(
    r"\[ONNXRuntimeError\] : \d+ : (?P<code>\w+) : (?:Load model from .* failed:)?(?P<rest>.*)"
)


class ModelIO(NamedTuple):
    """The transformer graph's input and output names (manifest ``io``)."""

    tokens: str
    logits: str
    condition: str | None
    side_inputs: tuple[str, ...]  # float inputs the codec fills per window (kept frames, say)


def _open_onnx(file: Path) -> ort.InferenceSession:
    """Parse an ONNX file with onnxruntime (``onnx`` is not a runtime dependency)."""
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    options.log_severity_level = 4  # errors come back as the exception below
    options.intra_op_num_threads = 1
    try:
        return ort.InferenceSession(str(file), sess_options=options, providers=[CPU_PROVIDER])
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises many pybind11 types
        raise ModelError(file, f"not a loadable ONNX model ({_ort_reason(exc)})") from None


def _ort_reason(exc: BaseException) -> str:
    """onnxruntime's first error line without its prefix and the path we already print."""
    lines = str(exc).strip().splitlines() or [type(exc).__name__]
    match = _ORT_ERROR.match(lines[0])
    reason = f"{match['code']}: {match['rest'].strip()}" if match else lines[0]
    return reason[:200]


def _check_tokens_input(file: Path, inputs: Mapping[str, Any], name: str, length: int) -> None:
    node = inputs.get(name)
    if node is None:
        raise ModelError(file, f"has no input {name!r} (io.tokens); inputs: {', '.join(inputs)}")
    if node.type != "tensor(int64)" or len(node.shape) != 2:
        raise ModelError(
            file, f"input {name!r} is {node.type} rank {len(node.shape)}, expected int64 [B, N]"
        )
    n = node.shape[1]
    if isinstance(n, int) and n != length:
        raise ModelError(
            file, f"input {name!r} has N = {n} but tokens.shape multiplies to {length}"
        )


def _check_side_inputs(file: Path, inputs: Mapping[str, Any], io: ModelIO) -> None:
    extra = [n for n in inputs if n not in (io.tokens, io.condition, *io.side_inputs)]
    if extra:
        raise ModelError(file, f"input {extra[0]!r} is not declared in the manifest io")
    for name in io.side_inputs:
        node = inputs.get(name)
        if node is None:
            raise ModelError(
                file, f"has no input {name!r} (io.side_inputs); inputs: {', '.join(inputs)}"
            )
        if node.type not in FLOAT_TENSORS:
            raise ModelError(file, f"input {name!r} is {node.type}, expected a float tensor")


def _check_condition_input(file: Path, inputs: Mapping[str, Any], condition: str | None) -> None:
    if condition is None:
        return
    node = inputs.get(condition)
    if node is None:
        raise ModelError(
            file, f"has no input {condition!r} (io.condition); inputs: {', '.join(inputs)}"
        )
    if node.type != "tensor(int64)" or len(node.shape) != 1:
        raise ModelError(
            file, f"input {condition!r} is {node.type} rank {len(node.shape)}, expected int64 [B]"
        )


def _check_logits_output(
    file: Path, outputs: Mapping[str, Any], name: str, vocab_size: int
) -> None:
    node = outputs.get(name)
    if node is None:
        raise ModelError(file, f"has no output {name!r} (io.logits); outputs: {', '.join(outputs)}")
    if node.type not in FLOAT_TENSORS or len(node.shape) != 3:
        raise ModelError(
            file, f"output {name!r} is {node.type} rank {len(node.shape)}, expected float [B, N, V]"
        )
    v = node.shape[2]
    if isinstance(v, int) and v != vocab_size:
        raise ModelError(file, f"output {name!r} has V = {v} but tokens.vocab_size is {vocab_size}")


def graph_info(file: Path) -> GraphInfo:
    """Open an ONNX file once and keep its inputs' and outputs' names, types and shapes."""
    session = _open_onnx(file)

    def info(nodes: Sequence[Any]) -> tuple[TensorInfo, ...]:
        return tuple(TensorInfo(n.name, str(n.type), tuple(n.shape or ())) for n in nodes)

    return GraphInfo(info(session.get_inputs()), info(session.get_outputs()))


def check_transformer_graph(
    file: Path, graph: GraphInfo, io: ModelIO, vocab_size: int, length: int
) -> None:
    inputs = {node.name: node for node in graph.inputs}
    outputs = {node.name: node for node in graph.outputs}
    _check_tokens_input(file, inputs, io.tokens, length)
    _check_side_inputs(file, inputs, io)
    _check_condition_input(file, inputs, io.condition)
    _check_logits_output(file, outputs, io.logits, vocab_size)
