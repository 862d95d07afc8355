"""What an image model must declare for :class:`~engine.media.image.codec.ImageCodec` to use it.

Run once when the model is found (``MediumSpec.check_model``): a zero patch size, a
window that is not a multiple of it, a pixel range that divides by zero, or an
encoder/decoder whose inputs the codec cannot feed would otherwise fail mid-edit
(or produce garbage); here they make the model broken, reported in one line.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from engine.manifest import FLOAT_TENSORS, INT_TENSORS, GraphInfo, ModelManifest, check_tensor
from engine.media.image.codec import ImageCodec

MAX_PATCH = 256
MAX_WINDOW = 4096
"""Largest window side in pixels a model may declare (a window is decoded whole)."""


def _whole(value: Any, where: str, high: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= high:
        raise ValueError(f"{where} must be a whole number 1..{high}, got {value!r}")
    return value


def _window(facts: Mapping[str, Any]) -> tuple[int, int]:
    raw = facts.get("window")
    sides = [raw, raw] if not isinstance(raw, list) else raw
    if len(sides) != 2:
        raise ValueError(f"medium_facts.window must be a size or [height, width], got {raw!r}")
    return _whole(sides[0], "medium_facts.window", MAX_WINDOW), _whole(
        sides[1], "medium_facts.window", MAX_WINDOW
    )


def _pixel_range(facts: Mapping[str, Any]) -> None:
    raw = facts.get("pixel_range", [-1.0, 1.0])
    numbers = isinstance(raw, list) and len(raw) == 2
    if not numbers or not all(isinstance(v, int | float) and math.isfinite(v) for v in raw):
        raise ValueError(f"medium_facts.pixel_range must be [low, high], got {raw!r}")
    if not raw[0] < raw[1]:
        raise ValueError(f"medium_facts.pixel_range {raw} must have low < high")


def _either_rank(where: str, graph: GraphInfo, index: int, types: Sequence[str]) -> None:
    """The tokens of an encoder output or decoder input: [B, h·w] or [B, h, w]."""
    nodes = graph.outputs if where.startswith("encoder") else graph.inputs
    node = nodes[index] if len(nodes) > index else None
    if node is not None and len(node.shape) == 2:
        check_tensor(where, node, types, [None, None])
    else:
        check_tensor(where, node, types, [None, None, None])


def _check_graphs(manifest: ModelManifest, window: tuple[int, int]) -> None:
    encoder, decoder = manifest.graph("encoder"), manifest.graph("decoder")
    first_in = encoder.inputs[0] if encoder.inputs else None
    check_tensor("encoder input", first_in, FLOAT_TENSORS, [None, 3, None, None])
    _either_rank("encoder output", encoder, 0, INT_TENSORS)
    _either_rank("decoder input", decoder, 0, ("tensor(int64)",))
    extra = {node.name for node in decoder.inputs[1:]}
    if extra and extra != {"context", "hole"}:
        raise ValueError(f"decoder inputs {sorted(extra)}: expected none or 'context' and 'hole'")
    for name, planes in (("context", 3), ("hole", 1)):
        if extra:
            check_tensor(
                f"decoder input {name!r}",
                decoder.input(name),
                FLOAT_TENSORS,
                [None, planes, None, None],
            )
        if name in manifest.side_inputs:
            node = manifest.graph("transformer").input(name)
            check_tensor(
                f"transformer input {name!r}", node, FLOAT_TENSORS, [None, planes, *window]
            )
    first_out = decoder.outputs[0] if decoder.outputs else None
    check_tensor("decoder output", first_out, FLOAT_TENSORS, [None, 3, None, None])


def check_model(manifest: ModelManifest) -> None:
    """Raise ValueError (one line) unless patch, window, pixel range and graphs fit the codec."""
    facts = manifest.medium_facts
    _whole(facts.get("patch_size"), "medium_facts.patch_size", MAX_PATCH)
    window = _window(facts)
    _pixel_range(facts)
    ImageCodec(manifest)  # the window is a multiple of the patch, and the grid is tokens.shape
    _check_graphs(manifest, window)
