"""The mask tools of the image editor: brush, rectangle, lasso and fill-similar.

Every tool writes into the mask in place and returns the box it may have changed, and
each has a way to learn that box first (:func:`stroke_box`, :func:`polygon_footprint`),
so the app can open an undo record on it before painting. Work stays within the box
of what changes, so the tools stay fast on large images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from engine.media.image.files import BoolArray, UInt8Array
from engine.media.image.mask import Box, Point
from engine.media.image.morphology import label_regions

__all__ = [
    "fill_polygon",
    "fill_rectangle",
    "paint_stroke",
    "polygon_footprint",
    "similar_region",
    "stroke_box",
]


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
