"""Tiny but real ONNX masked-token models, built with ``onnx.helper`` in tests.

The graph is a genuine (if small) bidirectional token model: token embedding +
position embedding + the mean of all embeddings (so every output depends on
the whole context), projected to logits. Weights come from a seeded RNG so a
test can rebuild the same model.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper


def build_tiny_transformer(
    vocab_size: int,
    length: int,
    dim: int = 16,
    seed: int = 0,
    with_condition: bool = False,
    side_inputs: Mapping[str, tuple[int, ...]] | None = None,
) -> onnx.ModelProto:
    """Return an ONNX model mapping int64 tokens [B, N] to float logits [B, N, V].

    The mask id is ``vocab_size``, so the embedding table has V + 1 rows.
    With ``with_condition`` the model also takes int64 ``condition`` [B]
    (0 = unconditional), added as a class embedding, for guidance tests.
    ``side_inputs`` adds float inputs [B, *shape] by name; the sum of each row's values
    times a random vector is added to every position, so the logits depend on them.
    """
    rng = np.random.default_rng(seed)
    embed = rng.normal(0, 1, (vocab_size + 1, dim)).astype(np.float32)
    pos = rng.normal(0, 1, (1, length, dim)).astype(np.float32)
    proj = rng.normal(0, 1, (dim, vocab_size)).astype(np.float32)
    inits = [
        numpy_helper.from_array(embed, "embed"),
        numpy_helper.from_array(pos, "pos"),
        numpy_helper.from_array(proj, "proj"),
    ]
    nodes = [
        helper.make_node("Gather", ["embed", "tokens"], ["tok_e"]),
        helper.make_node("Add", ["tok_e", "pos"], ["h0"]),
        helper.make_node("ReduceMean", ["h0"], ["ctx"], axes=[1], keepdims=1),
        helper.make_node("Add", ["h0", "ctx"], ["h1"]),
    ]
    inputs = [helper.make_tensor_value_info("tokens", TensorProto.INT64, ["batch", length])]
    last = "h1"
    if with_condition:
        cond_embed = rng.normal(0, 1, (4, dim)).astype(np.float32)
        inits.append(numpy_helper.from_array(cond_embed, "cond_embed"))
        inits.append(numpy_helper.from_array(np.array([1], dtype=np.int64), "axis_u"))
        nodes += [
            helper.make_node("Gather", ["cond_embed", "condition"], ["c_e"]),
            helper.make_node("Unsqueeze", ["c_e", "axis_u"], ["c_e3"]),
            helper.make_node("Add", ["h1", "c_e3"], ["h2"]),
        ]
        inputs.append(helper.make_tensor_value_info("condition", TensorProto.INT64, ["batch"]))
        last = "h2"
    for index, (name, shape) in enumerate((side_inputs or {}).items()):
        weight = rng.normal(0, 1, (1, 1, dim)).astype(np.float32)
        inits.append(numpy_helper.from_array(weight, f"{name}_w"))
        axes = list(range(1, len(shape) + 1))
        nodes += [
            helper.make_node("ReduceSum", [name, f"{name}_axes"], [f"{name}_sum"], keepdims=0),
            helper.make_node("Reshape", [f"{name}_sum", "col3"], [f"{name}_b"]),
            helper.make_node("Mul", [f"{name}_b", f"{name}_w"], [f"{name}_e"]),
            helper.make_node("Add", [last, f"{name}_e"], [f"side{index}"]),
        ]
        inits.append(numpy_helper.from_array(np.array(axes, dtype=np.int64), f"{name}_axes"))
        inputs.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, ["batch", *shape]))
        last = f"side{index}"
    if side_inputs:
        inits.append(numpy_helper.from_array(np.array([-1, 1, 1], dtype=np.int64), "col3"))
    nodes.append(helper.make_node("MatMul", [last, "proj"], ["logits"]))
    graph = helper.make_graph(
        nodes,
        "tiny_masked_transformer",
        inputs,
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", length, vocab_size])],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.checker.check_model(model)
    return model


def _fitting_facts(medium: str, vocab_size: int) -> dict[str, object]:
    """Facts a medium's model check accepts for a small vocabulary: a MIDI model's pitch range
    and rest token must fit inside it (the production contract needs 67 tokens)."""
    if medium == "midi" and vocab_size < 67:
        return {"pitch_min": 60, "pitch_max": 60 + vocab_size - 2, "rest_token": vocab_size - 1}
    return {}


def write_tiny_model(
    models_dir: Path,
    name: str = "tiny",
    medium: str = "tokens",
    vocab_size: int = 12,
    shape: tuple[int, ...] = (4, 8),
    seed: int = 0,
    with_condition: bool = False,
    medium_facts: dict[str, object] | None = None,
    side_inputs: Mapping[str, tuple[int, ...]] | None = None,
) -> Path:
    """Write ``models_dir/name/{transformer.onnx,manifest.json}``; return the folder."""
    folder = models_dir / name
    folder.mkdir(parents=True, exist_ok=True)
    length = int(np.prod(shape))
    model = build_tiny_transformer(
        vocab_size, length, seed=seed, with_condition=with_condition, side_inputs=side_inputs
    )
    onnx.save(model, str(folder / "transformer.onnx"))
    manifest = {
        "schema_version": 1,
        "name": name,
        "medium": medium,
        "description": "tiny test model",
        "files": {"transformer": "transformer.onnx"},
        "tokens": {"vocab_size": vocab_size, "mask_id": vocab_size, "shape": list(shape)},
        "io": {
            "tokens": "tokens",
            "logits": "logits",
            "condition": "condition" if with_condition else None,
            **({"side_inputs": list(side_inputs)} if side_inputs else {}),
        },
        "sampling": {"steps": 6, "schedule": "cosine", "selector": "confidence"},
        "medium_facts": medium_facts
        if medium_facts is not None
        else _fitting_facts(medium, vocab_size),
        "license": "MIT",
        "data": "none (random weights)",
    }
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2))
    return folder
