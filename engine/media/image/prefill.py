"""Pre-filling the holes of a window before it is encoded.

The encoder must not see what the user erased, so the hole's pixels are replaced by
something neutral built from the known pixels around it; pixels outside the hole are
passed on untouched.
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import numpy.typing as npt

from engine.media.image.files import BoolArray, UInt8Array
from engine.media.image.mask import bounding_box
from engine.media.image.morphology import grow, label_regions

__all__ = ["Prefill", "prefill", "push_pull"]

FloatArray = npt.NDArray[np.float32]
Prefill = Literal["ring_mean", "diffuse"]


def prefill(
    rgb: UInt8Array, hole: BoolArray, method: Prefill = "ring_mean", ring_px: int = 3
) -> UInt8Array:
    """Replace the hole's pixels before encoding, so the encoder does not see what the user erased.

    ``"ring_mean"`` paints each connected hole with the mean colour of the
    ring of known pixels around it (``ring_px`` wide); NOTES-training.md found
    this helps the transformer. ``"diffuse"`` fills smoothly from the hole's
    border (push-pull pyramid, then a few smoothing passes), which suits
    gradients such as sky. Pixels outside the hole are untouched.
    """
    if not hole.any():
        return rgb.copy()
    if method == "ring_mean":
        return _ring_mean_fill(rgb, hole, ring_px)
    if method == "diffuse":
        return _diffuse_fill(rgb, hole)
    raise ValueError(f"unknown pre-fill {method!r}; use 'ring_mean' or 'diffuse'")


def _ring_mean_fill(rgb: UInt8Array, hole: BoolArray, ring_px: int) -> UInt8Array:
    result = rgb.copy()
    labels, count = label_regions(hole)
    fallback = _fallback_colour(rgb, hole)
    for label in range(1, count + 1):
        region = labels == label
        box = bounding_box(region)
        if box is None:  # labels are 1..count, so never; keeps the types honest
            continue
        rows, cols = box
        box = (
            slice(max(rows.start - ring_px, 0), rows.stop + ring_px),
            slice(max(cols.start - ring_px, 0), cols.stop + ring_px),
        )
        ring = grow(region[box], ring_px) & ~hole[box]
        colour = rgb[box][ring].mean(axis=0) if ring.any() else fallback
        result[box][region[box]] = np.rint(colour).astype(np.uint8)
    return result


def _fallback_colour(rgb: UInt8Array, hole: BoolArray) -> FloatArray:
    """Mean of all known pixels, or mid-grey when nothing is known."""
    known = rgb[~hole]
    if known.size == 0:
        return np.full(3, 127.5, dtype=np.float32)
    return np.asarray(known.mean(axis=0), dtype=np.float32)


def _diffuse_fill(rgb: UInt8Array, hole: BoolArray, smoothing_passes: int = 8) -> UInt8Array:
    filled = push_pull(rgb.astype(np.float32), ~hole)
    for _ in range(smoothing_passes):  # soften the pyramid's blocks inside the hole only
        padded = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
        average = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]) / 4
        filled[hole] = average[hole]
    result = rgb.copy()
    result[hole] = np.clip(np.rint(filled[hole]), 0, 255).astype(np.uint8)
    return result


def push_pull(values: FloatArray, known: BoolArray) -> FloatArray:
    """Fill unknown pixels from a pyramid of known-weighted averages (push-pull).

    ``values`` float32 [H, W, C]; only ``known`` pixels are read (the others may hold
    anything), so what was under a hole never reaches the result.
    """
    if known.all() or not known.any():
        return values if known.any() else np.full_like(values, 127.5)
    height, width = known.shape
    even_h, even_w = height + height % 2, width + width % 2
    weights = np.zeros((even_h, even_w), dtype=np.float32)
    weights[:height, :width] = known
    sums = np.zeros((even_h, even_w, values.shape[2]), dtype=np.float32)
    sums[:height, :width] = values * known[:, :, None]
    coarse_w = weights.reshape(even_h // 2, 2, even_w // 2, 2).sum(axis=(1, 3))
    coarse_sum = sums.reshape(even_h // 2, 2, even_w // 2, 2, -1).sum(axis=(1, 3))
    coarse = coarse_sum / np.maximum(coarse_w, 1e-6)[:, :, None]
    coarse = push_pull(coarse.astype(np.float32), coarse_w > 0)
    upsampled = coarse.repeat(2, axis=0).repeat(2, axis=1)[:height, :width]
    return np.where(known[:, :, None], values, upsampled).astype(np.float32)
