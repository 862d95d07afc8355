"""Masks for the image editor: files, brush and selection tools, morphology, feathering.

A mask is ``bool [H, W]`` with True = "regenerate this pixel". Points are
``(x, y)`` floats in image pixels, pixel (row r, column c) having its centre at
``(c, r)``. Boxes are ``(rows, cols)`` slices, the same convention as
``engine.undo.Bbox``, so the app can open an undo ``edit(box)`` before a tool
writes into the mask in place.

Everything is numpy (plus Pillow for polygon rasterising and mask files) and
works on the bounding box of what changes, so tools stay fast on large images.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from engine.media.image.files import (
    BoolArray,
    ImageError,
    UInt8Array,
    decode_image,
    luma,
    save_image,
)
from engine.media.image.files import LoadedImage as _LoadedImage

__all__ = [
    "MASK_THRESHOLD",
    "Box",
    "Point",
    "bounding_box",
    "cleared",
    "decode_mask",
    "feather_weights",
    "fill_polygon",
    "fill_rectangle",
    "grow",
    "invert",
    "label_regions",
    "load_mask",
    "paint_stroke",
    "polygon_footprint",
    "save_mask",
    "shrink",
    "similar_region",
    "stroke_box",
    "validate_mask",
]

Box = tuple[slice, slice]
"""(rows, cols) with concrete non-negative bounds."""
Point = tuple[float, float]
"""(x, y) in image pixels; pixel centres are at integer coordinates."""
FloatArray = npt.NDArray[np.float32]
LabelArray = npt.NDArray[np.int32]

MASK_THRESHOLD = 128
"""A mask file's pixel fills when its gray (or alpha) value is at least this."""


# --------------------------------------------------------------------------- files and checks


def load_mask(
    path: str | os.PathLike[str], shape: tuple[int, int], *, require_fill: bool = True
) -> BoolArray:
    """Read a mask image for an image of ``shape`` (height, width); white = fill.

    See :func:`decode_mask` for how modes and alpha are read.
    """
    name = Path(path).name
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(f"{name}: cannot be read ({exc.strerror or exc})") from None
    return decode_mask(data, shape, name=name, require_fill=require_fill)


def decode_mask(
    data: bytes, shape: tuple[int, int], *, name: str = "mask", require_fill: bool = True
) -> BoolArray:
    """Mask from image file bytes (any mode), thresholded at :data:`MASK_THRESHOLD`.

    With an alpha channel whose colour is uniform (an "alpha-only" mask, as
    some editors export), alpha alone decides; otherwise a pixel fills when it
    is bright *and* not transparent. 16-bit masks are reduced to 8 bits first.
    """
    image = decode_image(data, name)
    gray = luma(image.rgb)
    if image.alpha is None:
        mask = gray >= MASK_THRESHOLD
    elif _is_uniform(image.rgb):
        mask = image.alpha >= MASK_THRESHOLD
    else:
        mask = (gray >= MASK_THRESHOLD) & (image.alpha >= MASK_THRESHOLD)
    return validate_mask(mask, shape, name=name, require_fill=require_fill)


def _is_uniform(rgb: UInt8Array) -> bool:
    return bool((rgb == rgb[:1, :1]).all())


def validate_mask(
    mask: BoolArray,
    shape: tuple[int, int] | None = None,
    *,
    name: str = "mask",
    require_fill: bool = True,
) -> BoolArray:
    """Check a mask before use; returns it unchanged or raises :class:`ImageError`.

    A full mask is refused because the codec inpaints from context and a
    window with no known pixel has none; generating beyond the picture is the
    outpainting path (``engine.media.image.codec.extend_canvas``).
    """
    if mask.ndim != 2:
        raise ImageError(f"{name}: a mask must be two-dimensional, got shape {mask.shape}")
    if shape is not None and mask.shape != tuple(shape):
        raise ImageError(
            f"{name}: the mask is {mask.shape[1]}×{mask.shape[0]} pixels "
            f"but the image is {shape[1]}×{shape[0]}"
        )
    if require_fill and not mask.any():
        raise ImageError(f"{name}: the mask is empty: paint the area to regenerate")
    if require_fill and mask.all():
        raise ImageError(
            f"{name}: the mask covers the whole image, so there is no context to inpaint from; "
            "to generate beyond the picture, extend the canvas (outpainting)"
        )
    return mask.astype(np.bool_, copy=False)


def save_mask(mask: BoolArray, path: str | os.PathLike[str]) -> None:
    """Write an 8-bit gray PNG, white = fill (readable by any editor and by :func:`load_mask`)."""
    if Path(path).suffix.lower() != ".png":
        raise ImageError(f"{Path(path).name}: save masks as .png (lossless)")
    white = np.where(mask, 255, 0).astype(np.uint8)
    save_image(_LoadedImage(rgb=np.repeat(white[:, :, None], 3, axis=2), mode="L"), path)


# --------------------------------------------------------------------------- boxes


def bounding_box(mask: BoolArray) -> Box | None:
    """The tight box of the True pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def _expand(box: Box, margin: int, shape: tuple[int, ...]) -> Box:
    rows, cols = box
    return (
        slice(max(rows.start - margin, 0), min(rows.stop + margin, shape[0])),
        slice(max(cols.start - margin, 0), min(cols.stop + margin, shape[1])),
    )


def _box_of_points(
    points: npt.NDArray[np.float64], margin: float, shape: tuple[int, ...]
) -> Box | None:
    """Pixels whose centres may lie within ``margin`` of the points' hull; None if off-image."""
    x0 = max(math.floor(points[:, 0].min() - margin), 0)
    x1 = min(math.ceil(points[:, 0].max() + margin) + 1, shape[1])
    y0 = max(math.floor(points[:, 1].min() - margin), 0)
    y1 = min(math.ceil(points[:, 1].max() + margin) + 1, shape[0])
    if x0 >= x1 or y0 >= y1:
        return None
    return slice(y0, y1), slice(x0, x1)


# --------------------------------------------------------------------------- brush


def stroke_box(shape: tuple[int, ...], start: Point, end: Point, radius: float) -> Box | None:
    """The box a :func:`paint_stroke` with these arguments may write (None: off-image).

    Open the undo record on this box before painting.
    """
    points = np.array([start, end], dtype=np.float64)
    return _box_of_points(points, max(radius, 0.5), shape)


def paint_stroke(
    mask: BoolArray, start: Point, end: Point, radius: float, value: bool = True
) -> Box | None:
    """Paint (or erase, ``value=False``) a round brush from ``start`` to ``end``, in place.

    Every pixel whose centre lies within ``radius`` of the segment is set, so
    however far the mouse jumped between two events the stroke has no gaps.
    The radius is at least half a pixel, which keeps thin strokes connected.
    Returns the box that may have changed (None when the stroke is off-image).
    """
    radius = max(radius, 0.5)
    box = stroke_box(mask.shape, start, end, radius)
    if box is None:
        return None
    for piece_start, piece_end in _pieces(start, end, max(8 * radius, 32.0)):
        piece = stroke_box(mask.shape, piece_start, piece_end, radius)
        if piece is not None:
            mask[piece][_capsule(piece, piece_start, piece_end, radius)] = value
    return box


def _pieces(start: Point, end: Point, max_length: float) -> list[tuple[Point, Point]]:
    """Split a long segment so each piece's box stays small (a diagonal's box grows as length²)."""
    count = max(1, math.ceil(math.dist(start, end) / max_length))
    xs = np.linspace(start[0], end[0], count + 1)
    ys = np.linspace(start[1], end[1], count + 1)
    return [((xs[i], ys[i]), (xs[i + 1], ys[i + 1])) for i in range(count)]


def _capsule(box: Box, start: Point, end: Point, radius: float) -> BoolArray:
    """Pixels of ``box`` whose centres are within ``radius`` of the segment."""
    ys = np.arange(box[0].start, box[0].stop, dtype=np.float64)[:, None]
    xs = np.arange(box[1].start, box[1].stop, dtype=np.float64)[None, :]
    dx, dy = end[0] - start[0], end[1] - start[1]
    length2 = dx * dx + dy * dy
    t = (
        0.0
        if length2 == 0
        else np.clip(((xs - start[0]) * dx + (ys - start[1]) * dy) / length2, 0.0, 1.0)
    )
    dist2 = (xs - (start[0] + t * dx)) ** 2 + (ys - (start[1] + t * dy)) ** 2
    return np.asarray(dist2 <= radius * radius)


# --------------------------------------------------------------------------- shapes


def fill_rectangle(
    mask: BoolArray, corner: Point, opposite: Point, value: bool = True
) -> Box | None:
    """Set every pixel whose centre lies in the rectangle spanned by two corners; in place."""
    points = np.array([corner, opposite], dtype=np.float64)
    x0, x1 = math.ceil(points[:, 0].min()), math.floor(points[:, 0].max()) + 1
    y0, y1 = math.ceil(points[:, 1].min()), math.floor(points[:, 1].max()) + 1
    rows = slice(max(y0, 0), min(y1, mask.shape[0]))
    cols = slice(max(x0, 0), min(x1, mask.shape[1]))
    if rows.start >= rows.stop or cols.start >= cols.stop:
        return None
    mask[rows, cols] = value
    return rows, cols


def polygon_footprint(
    shape: tuple[int, ...], points: Sequence[Point]
) -> tuple[Box, BoolArray] | None:
    """Rasterise a lasso polygon (outline included) within its box; None if empty or off-image."""
    if len(points) < 3:
        return None
    array = np.asarray(points, dtype=np.float64)
    box = _box_of_points(array, 1.0, shape)
    if box is None:
        return None
    canvas = Image.new("L", (box[1].stop - box[1].start, box[0].stop - box[0].start), 0)
    local = [(x - box[1].start, y - box[0].start) for x, y in array.tolist()]
    ImageDraw.Draw(canvas).polygon(local, fill=255, outline=255)
    footprint = np.asarray(canvas) > 0
    return (box, footprint) if footprint.any() else None


def fill_polygon(mask: BoolArray, points: Sequence[Point], value: bool = True) -> Box | None:
    """Fill a lasso polygon into ``mask`` in place; returns the box written."""
    found = polygon_footprint(mask.shape, points)
    if found is None:
        return None
    box, footprint = found
    mask[box][footprint] = value
    return box


def invert(mask: BoolArray) -> BoolArray:
    """A new mask with every pixel flipped."""
    return ~mask


def cleared(shape: tuple[int, int]) -> BoolArray:
    """A new, empty mask."""
    return np.zeros(shape, dtype=np.bool_)


# --------------------------------------------------------------------------- regions


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


def similar_region(rgb: UInt8Array, seed: Point, tolerance: int) -> BoolArray:
    """The fill-mask tool: pixels 4-connected to ``seed`` whose colour is within ``tolerance``.

    A pixel is similar when each channel differs from the seed's colour by at
    most ``tolerance`` (0..255). Returns a new mask; the caller ORs it in.
    """
    x, y = round(seed[0]), round(seed[1])
    height, width = rgb.shape[:2]
    if not (0 <= x < width and 0 <= y < height):
        return np.zeros((height, width), dtype=np.bool_)
    difference = np.abs(rgb.astype(np.int16) - rgb[y, x].astype(np.int16)).max(axis=2)
    labels, _ = label_regions(difference <= tolerance, connectivity=4)
    return np.asarray(labels == labels[y, x])


# --------------------------------------------------------------------------- morphology


def grow(mask: BoolArray, pixels: int) -> BoolArray:
    """Dilate with a disk of radius ``pixels``; a new mask."""
    if pixels <= 0:
        return mask.copy()
    result = mask.copy()
    box = bounding_box(mask)
    if box is not None:
        box = _expand(box, pixels, mask.shape)
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
        box = _expand(box, pixels, mask.shape)
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
    for dy in range(-radius, radius + 1):
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
    box = _expand(box, 1, mask.shape)  # a ring of outside pixels, except at the image border
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
