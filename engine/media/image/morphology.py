"""Mask morphology: connected regions, growing and shrinking by a disk, feathered edges.

Everything is numpy, works on the bounding box of what changes and visits no pixel in a
Python loop, so the operations stay fast on large images.
"""

from __future__ import annotations

import math

import numpy as np
import numpy.typing as npt

from engine.media.image.files import BoolArray
from engine.media.image.mask import Box, bounding_box

__all__ = ["feather_weights", "grow", "label_regions", "shrink"]

FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int32]


def expand_box(box: Box, margin: int, shape: tuple[int, ...]) -> Box:
    """``box`` grown by ``margin`` on every side, clipped to ``shape``."""
    rows, cols = box
    return (
        slice(max(rows.start - margin, 0), min(rows.stop + margin, shape[0])),
        slice(max(cols.start - margin, 0), min(cols.stop + margin, shape[1])),
    )


def label_regions(mask: BoolArray, connectivity: int = 8) -> tuple[LabelArray, int]:
    """Connected components: labels int32 [H, W] (0 = background, 1..n) and n.

    Works on horizontal runs, not pixels: runs in neighbouring rows that touch
    are joined by a vectorised union-find, so the cost follows the number of
    runs and no Python loop visits pixels.
    """
    if connectivity not in (4, 8):
        raise ValueError("connectivity must be 4 or 8")
    labels = np.zeros(mask.shape, dtype=np.int32)
    run_rows, starts, stops = _runs(mask)
    if run_rows.size == 0:
        return labels, 0
    first, second = _touching_runs(run_rows, starts, stops, mask.shape[1] + 2, connectivity == 8)
    roots = _union_find(run_rows.size, first, second)
    _, component = np.unique(roots, return_inverse=True)
    lengths = stops - starts
    flat = _run_pixels(run_rows * mask.shape[1] + starts, lengths)
    labels.reshape(-1)[flat] = np.repeat(component.astype(np.int32) + 1, lengths)
    return labels, int(component.max()) + 1


def _runs(
    mask: BoolArray,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Row, start column and stop column (exclusive) of every run of True, row-major."""
    padded = np.zeros((mask.shape[0], mask.shape[1] + 2), dtype=np.int8)
    padded[:, 1:-1] = mask
    edges = np.diff(padded, axis=1)
    rows, starts = np.nonzero(edges == 1)
    _, stops = np.nonzero(edges == -1)
    return rows.astype(np.int64), starts.astype(np.int64), stops.astype(np.int64)


def _touching_runs(
    rows: npt.NDArray[np.int64],
    starts: npt.NDArray[np.int64],
    stops: npt.NDArray[np.int64],
    stride: int,
    diagonal: bool,
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    """Pairs (i, j) of runs where j is in the next row and touches i.

    Runs of one row are sorted and disjoint, so the runs of the next row that
    touch run i form a contiguous range, found with two binary searches.
    """
    reach = 1 if diagonal else 0
    start_keys = rows * stride + starts
    stop_keys = rows * stride + stops
    low = np.searchsorted(stop_keys, (rows + 1) * stride + starts - reach + 1, side="left")
    high = np.searchsorted(start_keys, (rows + 1) * stride + stops + reach - 1, side="right")
    counts = np.maximum(high - low, 0)
    first = np.repeat(np.arange(rows.size), counts)
    second = _run_pixels(low, counts)
    return first, second


def _run_pixels(
    starts: npt.NDArray[np.int64], lengths: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Concatenate ``arange(s, s + n)`` for every (s, n), without a Python loop."""
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(np.cumsum(lengths) - lengths, lengths)
    return np.repeat(starts, lengths) + np.arange(total, dtype=np.int64) - offsets


def _union_find(
    count: int, first: npt.NDArray[np.int64], second: npt.NDArray[np.int64]
) -> npt.NDArray[np.int64]:
    """Root (smallest member) of each node's component, by hooking and pointer jumping."""
    parent = np.arange(count, dtype=np.int64)
    while True:
        low = np.minimum(parent[first], parent[second])
        hooked = parent.copy()
        np.minimum.at(hooked, parent[first], low)
        np.minimum.at(hooked, parent[second], low)
        while True:  # pointer jumping: point every node at its root
            jumped = hooked[hooked]
            if np.array_equal(jumped, hooked):
                break
            hooked = jumped
        if np.array_equal(hooked, parent):
            return parent
        parent = hooked


def grow(mask: BoolArray, pixels: int) -> BoolArray:
    """Dilate with a disk of radius ``pixels``; a new mask."""
    if pixels <= 0:
        return mask.copy()
    result = mask.copy()
    box = bounding_box(mask)
    if box is not None:
        box = expand_box(box, pixels, mask.shape)
        result[box] = _dilate_disk(mask[box], pixels)
    return result


def shrink(mask: BoolArray, pixels: int) -> BoolArray:
    """Erode with a disk of radius ``pixels``; a new mask.

    The image border does not erode: a mask painted up to the edge stays
    there, because there is nothing beyond the edge to blend with.
    """
    if pixels <= 0:
        return mask.copy()
    result = mask.copy()
    box = bounding_box(mask)
    if box is not None:
        box = expand_box(box, pixels, mask.shape)
        result[box] = ~_dilate_disk(~mask[box], pixels)
    return result


def _dilate_disk(mask: BoolArray, radius: int) -> BoolArray:
    """Dilation by a disk, as the union of one horizontal dilation per row offset.

    A disk is a stack of horizontal segments, so each row offset needs one
    segment dilation, and every segment is two shifted windows of a
    power-of-two length (built once by doubling): O(radius) boolean passes,
    not O(radius²). Outside the array counts as False.
    """
    height, width = mask.shape
    padded = np.zeros((height, width + 2 * radius), dtype=np.bool_)
    padded[:, radius : radius + width] = mask
    windows = _power_of_two_windows(padded, 2 * radius + 1)
    result = np.zeros_like(mask)
    for dy in range(-min(radius, height - 1), min(radius, height - 1) + 1):
        rows = _segment_dilation(windows, radius, math.isqrt(radius * radius - dy * dy), width)
        if dy >= 0:
            result[dy:] |= rows[: height - dy]
        else:
            result[:dy] |= rows[-dy:]
    return result


def _power_of_two_windows(padded: BoolArray, longest: int) -> dict[int, BoolArray]:
    """{n: OR of padded[:, x : x + n]} for n = 1, 2, 4, ... up to ``longest``, by doubling."""
    windows = {1: padded}
    span = 1
    while span * 2 <= longest:
        doubled = windows[span].copy()
        doubled[:, :-span] |= windows[span][:, span:]
        span *= 2
        windows[span] = doubled
    return windows


def _segment_dilation(
    windows: dict[int, BoolArray], radius: int, half: int, width: int
) -> BoolArray:
    """Horizontal dilation by ``half`` each side, from windows over an array padded by ``radius``.

    The segment [x - half, x + half] is covered by two windows of the largest
    power-of-two length that fits it, one flush with each end.
    """
    span = 1 << ((2 * half + 1).bit_length() - 1)
    first = radius - half
    second = radius + half - span + 1
    window = windows[span]
    return np.asarray(window[:, first : first + width] | window[:, second : second + width])


def feather_weights(mask: BoolArray, feather_px: int) -> FloatArray:
    """Blend weights float32 [H, W]: 0 outside the mask, ramping to 1 ``feather_px`` inside.

    The depth of each masked pixel is counted by repeated erosion
    (alternating 4- and 8-neighbour steps, an octagonal approximation of the
    Euclidean distance); weight = depth / (feather_px + 1), so even the edge
    pixels of the mask move a little toward the fill and no pixel outside the
    mask is ever touched. The image border is not an edge.
    """
    weights = mask.astype(np.float32)
    box = bounding_box(mask)
    if feather_px <= 0 or box is None:
        return weights
    box = expand_box(box, 1, mask.shape)  # a ring of outside pixels, except at the image border
    region = mask[box]
    depth = region.astype(np.int32)
    current = region
    for step in range(feather_px):
        current = _erode_once(current, diagonal=step % 2 == 1)
        if not current.any():
            break
        depth += current
    weights[box] = depth / np.float32(feather_px + 1)
    return weights


def _erode_once(mask: BoolArray, diagonal: bool) -> BoolArray:
    """One erosion step; pixels beyond the array count as inside (the border is no edge)."""
    padded = np.pad(mask, 1, constant_values=True)
    height, width = mask.shape
    result = mask.copy()
    offsets = [(-1, 0), (1, 0), (0, -1), (0, 1)]
    if diagonal:
        offsets += [(-1, -1), (-1, 1), (1, -1), (1, 1)]
    for dy, dx in offsets:
        result &= padded[1 + dy : 1 + dy + height, 1 + dx : 1 + dx + width]
    return result
