"""`make bench`: ONNX path vs torch eager on the same weights, side by side in one run.

Timed tests are banned (these machines are noisy); this prints ratios measured
in one process, interleaving the two paths so that background load hits both.
For every shipped model that has a torch loader it reports per-step latency
(one batched forward), per-edit latency (a full ``engine.sampling.sample`` run
with the medium's benchmark settings), their ratio, this CPU's GEMM
throughput, and the share of it the transformer step reaches.
"""

from __future__ import annotations

import argparse
import importlib
import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from engine.models import ModelManifest, ModelRegistry
from engine.runtime import load_transformer
from engine.sampling import sample
from engine.sampling.types import FloatArray, LogitsFn
from engine.train.common import INT8_TOLERANCE, is_int8, relative_error, torch_logits_fn

TORCH_LOADERS: dict[str, str] = {
    "midi": "engine.train.midi.chorale:load_torch_model",
    "motion": "engine.train.motion.model:load_torch_model",
    "image": "engine.train.image.maskgit:load_torch_model",
}
"""Medium -> ``module:function`` rebuilding a shipped model's torch module from its folder."""

EDIT_STEPS: dict[str, int] = {"midi": 16, "image": 12, "motion": 10}
"""Steps per edit named by each medium's issue."""


@dataclass(frozen=True)
class Timing:
    median_ms: float
    runs: int


def gemm_gflops(size: int = 1024, repeats: int = 10) -> float:
    """float32 GEMM throughput of this CPU through torch (what the model's MatMuls see)."""
    a = torch.randn(size, size)
    b = torch.randn(size, size)
    torch.mm(a, b)
    start = time.perf_counter()
    for _ in range(repeats):
        torch.mm(a, b)
    seconds = (time.perf_counter() - start) / repeats
    return 2.0 * size**3 / seconds / 1e9


def matmul_flops(manifest: ModelManifest) -> float:
    """FLOPs of the MatMul/Gemm nodes (int8 ones too) for one batch-1 forward, from ONNX shapes."""
    import onnx
    from onnx import shape_inference

    model = onnx.load(str(manifest.path("transformer")))
    for graph_input in model.graph.input:  # tokens and any side inputs share the batch axis
        for dim in graph_input.type.tensor_type.shape.dim:
            if dim.dim_param:
                dim.dim_value = 1
    inferred = shape_inference.infer_shapes(model, data_prop=True)  # resolves Reshape dims
    shapes = {
        v.name: [d.dim_value for d in v.type.tensor_type.shape.dim]
        for v in list(inferred.graph.value_info) + list(inferred.graph.input)
    }
    shapes.update({i.name: list(i.dims) for i in model.graph.initializer})
    total = 0.0
    for node in inferred.graph.node:
        matmul = node.op_type in ("MatMul", "Gemm", "MatMulInteger")
        if matmul and all(n in shapes for n in node.input[:2]):
            a, b = shapes[node.input[0]], shapes[node.input[1]]
            if a and b:
                total += 2.0 * float(np.prod(a)) * b[-1]
    return total


def time_pair(
    paths: dict[str, Callable[[], object]], runs: int, warmup: int = 2
) -> dict[str, Timing]:
    """Median wall time of each path, runs interleaved so background load hits both alike.

    Warm-up calls are not timed: torch builds its kernels on the first calls of a shape.
    """
    for fn in paths.values():
        for _ in range(warmup):
            fn()
    samples: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(runs):
        for name, fn in paths.items():
            start = time.perf_counter()
            fn()
            samples[name].append((time.perf_counter() - start) * 1e3)
    return {name: Timing(statistics.median(values), runs) for name, values in samples.items()}


def load_torch(manifest: ModelManifest) -> torch.nn.Module:
    module_name, func = TORCH_LOADERS[manifest.medium].split(":")
    loader = getattr(importlib.import_module(module_name), func)
    module: torch.nn.Module = loader(manifest.folder)
    return module.eval()


def edit_fn(logits_fn: LogitsFn, manifest: ModelManifest, steps: int) -> Callable[[], object]:
    """One edit: every token editable (the worst case), ``steps`` iterations."""
    tokens = np.zeros(manifest.length, dtype=np.int64)
    editable = np.ones(manifest.length, dtype=bool)
    settings = manifest.default_settings(steps=steps, seed=0, variations=1)

    def run() -> object:
        return list(sample(logits_fn, tokens, editable, manifest.mask_id, settings, manifest.shape))

    return run


def check_same_weights(onnx_logits: FloatArray, torch_logits: FloatArray, int8: bool) -> None:
    """Both paths must compute the same model: equal logits, or for an int8 file (torch runs its
    dequantized weights in float32) logits within the export's int8 tolerance."""
    if not int8:
        np.testing.assert_allclose(onnx_logits, torch_logits, atol=1e-3, rtol=1e-3)
        return
    error = relative_error(onnx_logits, torch_logits)
    if error > INT8_TOLERANCE:
        raise AssertionError(f"int8 ONNX logits are {error:.1%} off torch's")


def bench_model(manifest: ModelManifest, runs: int, gflops: float) -> None:
    steps = EDIT_STEPS.get(manifest.medium, manifest.default_settings().steps)
    onnx_model = load_transformer(manifest)
    side = onnx_model.blank_side_inputs()
    onnx_fn = onnx_model.logits_fn(None, side or None)
    torch_fn = torch_logits_fn(load_torch(manifest), side_inputs=list(side.values()))
    rng = np.random.default_rng(0)
    batch = rng.integers(0, manifest.vocab_size, (1, manifest.length)).astype(np.int64)
    int8 = is_int8(manifest.path("transformer"))
    check_same_weights(onnx_fn(batch), torch_fn(batch), int8)
    step = time_pair({"onnx": lambda: onnx_fn(batch), "torch": lambda: torch_fn(batch)}, runs * 5)
    edit = time_pair(
        {"onnx": edit_fn(onnx_fn, manifest, steps), "torch": edit_fn(torch_fn, manifest, steps)},
        runs,
    )
    flops = matmul_flops(manifest)
    share = flops / (step["onnx"].median_ms / 1e3) / 1e9 / gflops
    print(
        f"\n{manifest.name} ({manifest.medium}, tokens {list(manifest.shape)}, "
        f"{steps} steps per edit, provider {load_transformer(manifest).provider})"
    )
    print(f"  {'':10}{'onnx ms':>10}{'torch ms':>10}{'torch/onnx':>12}")
    for label, pair in (("per step", step), ("per edit", edit)):
        ratio = pair["torch"].median_ms / pair["onnx"].median_ms
        print(
            f"  {label:10}{pair['onnx'].median_ms:10.1f}{pair['torch'].median_ms:10.1f}"
            f"{ratio:11.2f}x"
        )
    print(
        f"  MatMul work per step {flops / 1e6:.1f} MFLOP -> "
        f"{share * 100:.1f}% of this CPU's float32 GEMM throughput"
    )
    if int8:
        print("  int8 weights: onnxruntime runs integer GEMMs; torch the dequantized weights")


MOTION_EDIT_FRAMES = 240
"""Issue 19's motion edit: a 240-frame clip, its middle 120 frames (the most one edit
regenerates) in-betweened, full body, one variation."""


def motion_edit_fn(manifest: ModelManifest) -> tuple[Callable[[], object], dict[str, float]]:
    """One in-between through the real codec: encode, sample, decode and repair the fill.

    The clip is one the model generated from nothing (no data files needed); returns the
    edit and a one-off split of its time (ms) into codec and sampler parts.
    """
    from engine.media.motion.codec import MotionCodec, MotionPayload

    codec = MotionCodec(manifest)  # type: ignore[arg-type]  # its dict is a Mapping
    model = load_transformer(manifest)
    settings = manifest.default_settings(seed=0, variations=1)
    clip = codec.generate_clip(MOTION_EDIT_FRAMES, model, settings)[0]
    first = (MOTION_EDIT_FRAMES - codec.max_range_frames) // 2
    last = first + codec.max_range_frames - 1
    parts: dict[str, float] = {}

    def run() -> object:
        start = time.perf_counter()
        payload = MotionPayload(clip, first, last, "full")
        problem = codec.encode(payload)
        encoded = time.perf_counter()
        logits = model.logits_fn(problem.condition, problem.side_inputs)
        final = problem.tokens
        args = (problem.editable_mask, codec.mask_id, settings, problem.grid_shape)
        for step in sample(logits, problem.tokens, *args):
            final = step.tokens
        sampled = time.perf_counter()
        codec.decode(payload, final)
        parts.update(
            encode=(encoded - start) * 1e3,
            sample=(sampled - encoded) * 1e3,
            decode=(time.perf_counter() - sampled) * 1e3,
        )
        return final

    return run, parts


def bench_motion_edit(manifest: ModelManifest, runs: int) -> None:
    run, parts = motion_edit_fn(manifest)
    timing = time_pair({"edit": run}, runs)["edit"]
    split = ", ".join(f"{k} {v:.0f}" for k, v in parts.items())
    print(
        f"  {MOTION_EDIT_FRAMES}-frame clip, middle "
        f"{MOTION_EDIT_FRAMES // 2} frames in-betweened through the codec (onnx): "
        f"{timing.median_ms:.0f} ms per edit, median of {runs} (last run: {split} ms)"
    )


def default_model_names(registry: ModelRegistry) -> list[str]:
    """Every model found, shipped and user-installed alike."""
    return sorted(registry.models)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="remask-bench", description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", help="model name (default: all)")
    parser.add_argument("--runs", type=int, default=5, help="timed edits per path")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    registry = ModelRegistry.discover()
    names = args.model or default_model_names(registry)
    gflops = gemm_gflops()
    print(
        f"CPU GEMM throughput (float32, torch, {torch.get_num_threads()} threads): "
        f"{gflops:.1f} GFLOP/s"
    )
    for name in names:
        manifest = registry.get(name)
        if manifest.medium not in TORCH_LOADERS:
            print(f"\n{name}: no torch loader for medium {manifest.medium!r}, skipped")
            continue
        bench_model(manifest, args.runs, gflops)
        if manifest.medium == "motion":
            bench_motion_edit(manifest, args.runs)
        if manifest.medium == "image":
            from engine.train.image.edit_bench import bench_image_edit

            bench_image_edit(manifest, args.runs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
