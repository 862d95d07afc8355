"""In-betweening on held-out takes: the shipped model (ONNX + MotionCodec) vs interpolation.

For each gap length (15, 30, 60 frames) ``count`` gaps are drawn from the held-out
Bandai-Namco takes, each with at least ``context`` kept frames on both sides. Both
methods fill exactly those frames (full body); the metrics of
``engine.media.motion.metrics.motion_metrics`` are averaged over gaps.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engine.media.motion.clip import Clip
from engine.media.motion.codec import MotionCodec, MotionPayload
from engine.media.motion.editing import interpolate_range
from engine.media.motion.metrics import motion_metrics
from engine.media.motion.skeleton import map_skeleton
from engine.models import load_manifest
from engine.runtime import Transformer, load_transformer
from engine.sampling import sample
from engine.sampling.types import SamplerSettings
from engine.train.motion.data import held_out_clips

GAPS = (15, 30, 60)
METRICS = ("position_error_cm", "rotation_error_deg", "foot_skating_cm")


@dataclass(frozen=True)
class Gap:
    name: str
    first: int
    last: int


def choose_gaps(
    clips: Sequence[tuple[str, Clip]], gap: int, count: int, context: int, rng: np.random.Generator
) -> list[Gap]:
    eligible = [(n, c) for n, c in clips if c.n_frames >= gap + 2 * context]
    if not eligible:
        return []
    gaps = []
    for index in range(count):
        name, clip = (
            eligible[index % len(eligible)]
            if index < len(eligible)
            else eligible[int(rng.integers(len(eligible)))]
        )
        first = int(rng.integers(context, clip.n_frames - context - gap + 1))
        gaps.append(Gap(name, first, first + gap - 1))
    return gaps


def _model_fill(
    codec: MotionCodec, model: Transformer, clip: Clip, gap: Gap, settings: SamplerSettings
) -> Clip:
    payload = MotionPayload(clip, gap.first, gap.last, "full", map_skeleton(clip))
    problem = codec.encode(payload)
    final = None
    for step in sample(
        model.logits_fn(problem.condition, problem.side_inputs),
        problem.tokens,
        problem.editable_mask,
        codec.mask_id,
        settings,
        problem.grid_shape,
    ):
        final = step.tokens
    assert final is not None
    return codec.decode(payload, final)[0]


def evaluate(
    model_dir: Path,
    data: Path,
    *,
    count: int = 50,
    context: int = 20,
    seed: int = 0,
    settings_overrides: dict[str, object] | None = None,
    gaps: Sequence[int] = GAPS,
) -> dict[int, dict[str, dict[str, float]]]:
    """{gap: {"model"|"interpolation": {metric: mean}}} over ``count`` gaps per length."""
    manifest = load_manifest(model_dir)
    codec = MotionCodec(manifest)
    model = load_transformer(manifest)
    clips = held_out_clips(data)
    rng = np.random.default_rng(seed)
    results: dict[int, dict[str, dict[str, float]]] = {}
    for gap_len in [g for g in gaps if g <= codec.max_range_frames]:  # tiny smoke models
        rows: dict[str, list[list[float]]] = {"model": [], "interpolation": []}
        by_name = dict(clips)
        for index, gap in enumerate(choose_gaps(clips, gap_len, count, context, rng)):
            clip = by_name[gap.name]
            smap = map_skeleton(clip)
            settings = manifest.default_settings(
                seed=seed + index, variations=1, **(settings_overrides or {})
            )
            frames = np.arange(gap.first, gap.last + 1)
            for method, filled in (
                ("model", _model_fill(codec, model, clip, gap, settings)),
                ("interpolation", interpolate_range(clip, gap.first, gap.last, "full", smap)),
            ):
                m = motion_metrics(clip, filled, frames, smap, cm_per_unit=1.0)
                rows[method].append(
                    [getattr(m, k) for k in METRICS] + [m.reference_foot_skating_cm]
                )
        results[gap_len] = {
            method: dict(
                zip(
                    [*METRICS, "reference_foot_skating_cm", "gaps"],
                    [*np.mean(values, axis=0).tolist(), float(len(values))],
                    strict=True,
                )
            )
            for method, values in rows.items()
            if values
        }
    return results


def table(results: dict[int, dict[str, dict[str, float]]]) -> str:
    lines = [
        "| gap (frames) | method | position error (cm) | rotation error (deg) "
        "| foot skating (cm/frame) | gaps |",
        "|---|---|---|---|---|---|",
    ]
    for gap, methods in results.items():
        for method, m in methods.items():
            lines.append(
                f"| {gap} | {method} | {m['position_error_cm']:.2f} "
                f"| {m['rotation_error_deg']:.2f} "
                f"| {m['foot_skating_cm']:.3f} | {int(m['gaps'])} |"
            )
        if {"model", "interpolation"} <= methods.keys():
            ratio = (
                1
                - methods["model"]["position_error_cm"]
                / methods["interpolation"]["position_error_cm"]
            )
            lines.append(
                f"| {gap} | model vs interpolation "
                f"| {100 * ratio:+.1f}% lower position error | | | |"
            )
    ref = next(iter(results.values()), {}).get("interpolation", {}).get("reference_foot_skating_cm")
    if ref is not None:
        lines.append(f"\nReference (mocap) foot skating on the first gap set: {ref:.3f} cm/frame.")
    return "\n".join(lines)
