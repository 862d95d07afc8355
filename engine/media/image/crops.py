"""Crop strategies for images larger than the model's window, and the window's pixels.

Large-image strategies are a separate piece (after IOPaint): ``"regions"`` crops a
window around each group of nearby holes, ``"union"`` one window around all of them,
``"resize"`` the whole image scaled into one window. A hole larger than the window
(with its context) is worked on at reduced resolution and its fill is upscaled;
everything outside the mask stays bit-exact whatever the strategy, because a window
is pasted back through its fill mask only (:func:`paste_window`, :func:`composite`).
Nothing under the mask reaches the output either: windows are cut and downscaled from
the known pixels only (:func:`crop_pixels`), and seams are blended from the fill and
the known pixels only (:mod:`engine.media.image.seams`).

Pixel layout everywhere: uint8 RGB [H, W, 3].
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import numpy.typing as npt
from PIL import Image

from engine.media.image.files import BoolArray, UInt8Array
from engine.media.image.mask import Box, bounding_box
from engine.media.image.morphology import label_regions
from engine.media.image.seams import blend_seams

__all__ = [
    "CropPlan",
    "CropWindow",
    "Shape2",
    "Strategy",
    "composite",
    "crop_hole_mask",
    "crop_pixels",
    "paste_box",
    "paste_window",
    "plan_crops",
    "reflect_pad",
]

Strategy = Literal["regions", "union", "resize"]
Shape2 = tuple[int, int]


@dataclass(frozen=True, eq=False)
class CropWindow:
    """One model window over the image.

    ``box`` is the source rectangle (rows, cols), always inside the image.
    It is resized by ``scale`` (model pixels per image pixel; 1.0 = native,
    < 1 = reduced resolution) to ``scaled_shape`` (height, width) and padded by
    reflection with ``pad`` (top, bottom, left, right) to the window.
    ``hole_mask`` [box] marks every masked pixel in the box (none of them is
    trusted as context); ``fill_mask`` [box] marks those this window pastes
    back (its own holes; other holes in its context belong to other windows).
    """

    box: Box
    scale: float
    scaled_shape: Shape2
    pad: tuple[int, int, int, int]
    hole_mask: BoolArray
    fill_mask: BoolArray

    @property
    def box_shape(self) -> Shape2:
        return self.box[0].stop - self.box[0].start, self.box[1].stop - self.box[1].start


@dataclass(frozen=True, eq=False)
class CropPlan:
    """Windows that together fill every masked pixel once; run them in order.

    When windows overlap, build each next window's payload from the image
    the previous one produced, so later windows see earlier fills as context.
    """

    image_shape: Shape2
    window: Shape2
    windows: tuple[CropWindow, ...]


def plan_crops(
    mask: BoolArray, window: Shape2, *, context: int | None = None, strategy: Strategy = "regions"
) -> CropPlan:
    """Choose model windows (height, width in pixels) for the holes of ``mask``.

    ``context`` is the margin of known pixels wanted around a hole on each
    side (default a quarter of the window). ``"regions"`` groups connected
    holes whose joint box still fits one window at full resolution and gives
    each group its own window; ``"union"`` takes one window around all holes;
    ``"resize"`` scales the whole image into one window. An empty mask gives
    an empty plan.
    """
    if context is None:
        context = min(window) // 4
    shape: Shape2 = (int(mask.shape[0]), int(mask.shape[1]))
    union = bounding_box(mask)
    if union is None:
        return CropPlan(shape, window, ())
    if strategy == "resize":
        whole = (slice(0, shape[0]), slice(0, shape[1]))
        scale = min(1.0, window[0] / shape[0], window[1] / shape[1])
        windows: tuple[CropWindow, ...] = (_make_window(mask, mask, whole, scale, window),)
    elif strategy == "union":
        box, scale = _window_box(shape, union, window, context)
        windows = (_make_window(mask, mask[box], box, scale, window),)
    elif strategy == "regions":
        windows = _region_windows(mask, window, context)
    else:
        raise ValueError(f"unknown crop strategy {strategy!r}; use 'regions', 'union' or 'resize'")
    return CropPlan(shape, window, windows)


def _region_windows(mask: BoolArray, window: Shape2, context: int) -> tuple[CropWindow, ...]:
    shape: Shape2 = (int(mask.shape[0]), int(mask.shape[1]))
    labels, count, offset = _labels_in_box(mask)
    windows = []
    for members, bounds in _group_regions(labels, count, window, context):
        region = (
            slice(bounds[0] + offset[0], bounds[1] + offset[0]),
            slice(bounds[2] + offset[1], bounds[3] + offset[1]),
        )
        box, scale = _window_box(shape, region, window, context)
        fill = np.zeros(_box_shape(box), dtype=np.bool_)
        inner = _intersection(box, offset, labels.shape)
        if inner is not None:
            source, target = inner
            fill[target] = np.isin(labels[source], members)
        windows.append(_make_window(mask, fill, box, scale, window))
    return tuple(windows)


def _labels_in_box(mask: BoolArray) -> tuple[npt.NDArray[np.int32], int, Shape2]:
    """Connected holes labelled inside the mask's bounding box only, and the box's (top, left).

    A few holes in a 12-megapixel photo: labelling (and scanning) the whole picture
    would cost a tenth of a second for nothing.
    """
    bounds = bounding_box(mask)
    if bounds is None:
        return np.zeros((0, 0), dtype=np.int32), 0, (0, 0)
    labels, count = label_regions(mask[bounds])
    return labels, count, (bounds[0].start, bounds[1].start)


def _box_shape(box: Box) -> Shape2:
    return box[0].stop - box[0].start, box[1].stop - box[1].start


def _intersection(box: Box, offset: Shape2, shape: tuple[int, ...]) -> tuple[Box, Box] | None:
    """Where ``box`` (image coordinates) meets an array of ``shape`` placed at ``offset``:
    the slices into that array and into the box, or None when they do not meet."""
    top = max(box[0].start, offset[0])
    bottom = min(box[0].stop, offset[0] + shape[0])
    left = max(box[1].start, offset[1])
    right = min(box[1].stop, offset[1] + shape[1])
    if top >= bottom or left >= right:
        return None
    source = (
        slice(top - offset[0], bottom - offset[0]),
        slice(left - offset[1], right - offset[1]),
    )
    target = (
        slice(top - box[0].start, bottom - box[0].start),
        slice(left - box[1].start, right - box[1].start),
    )
    return source, target


def _region_boxes(labels: npt.NDArray[np.int32], count: int) -> npt.NDArray[np.int64]:
    """[count, 4] boxes (row0, row1, col0, col1) of labels 1..count, vectorised."""
    rows, cols = np.nonzero(labels)
    which = labels[rows, cols] - 1
    boxes = np.empty((count, 4), dtype=np.int64)
    boxes[:, 0] = boxes[:, 2] = np.iinfo(np.int64).max
    boxes[:, 1] = boxes[:, 3] = -1
    np.minimum.at(boxes[:, 0], which, rows)
    np.maximum.at(boxes[:, 1], which, rows + 1)
    np.minimum.at(boxes[:, 2], which, cols)
    np.maximum.at(boxes[:, 3], which, cols + 1)
    return boxes


def _group_regions(
    labels: npt.NDArray[np.int32], count: int, window: Shape2, context: int
) -> list[tuple[list[int], list[int]]]:
    """Greedily merge regions (top-left first) while their joint box plus context fits one window.

    Returns (member labels, joint box as row0, row1, col0, col1) per group.
    """
    boxes = _region_boxes(labels, count)
    members: list[list[int]] = []
    joint_boxes = np.zeros((0, 4), dtype=np.int64)
    for index in np.lexsort((boxes[:, 2], boxes[:, 0])):
        box = boxes[index]
        joint = np.column_stack(
            [
                np.minimum(joint_boxes[:, 0], box[0]),
                np.maximum(joint_boxes[:, 1], box[1]),
                np.minimum(joint_boxes[:, 2], box[2]),
                np.maximum(joint_boxes[:, 3], box[3]),
            ]
        )
        fits = (joint[:, 1] - joint[:, 0] + 2 * context <= window[0]) & (
            joint[:, 3] - joint[:, 2] + 2 * context <= window[1]
        )
        hits = np.flatnonzero(fits)
        if hits.size:
            members[hits[0]].append(int(index) + 1)
            joint_boxes[hits[0]] = joint[hits[0]]
        else:
            members.append([int(index) + 1])
            joint_boxes = np.vstack([joint_boxes, box[None, :]])
    return [
        (group, [int(v) for v in bounds])
        for group, bounds in zip(members, joint_boxes, strict=True)
    ]


def _window_box(shape: Shape2, region: Box, window: Shape2, context: int) -> tuple[Box, float]:
    """A source box centred on ``region`` with ``context`` each side, and its scale.

    The scale is below 1 when the region and its context exceed the window;
    the box is shifted (never shrunk below the region) to stay inside the image.
    """
    extent = (region[0].stop - region[0].start, region[1].stop - region[1].start)
    scale = min(1.0, window[0] / (extent[0] + 2 * context), window[1] / (extent[1] + 2 * context))
    box_h = min(shape[0], math.floor(window[0] / scale))
    box_w = min(shape[1], math.floor(window[1] / scale))
    top = _clamp((region[0].start + region[0].stop) // 2 - box_h // 2, 0, shape[0] - box_h)
    left = _clamp((region[1].start + region[1].stop) // 2 - box_w // 2, 0, shape[1] - box_w)
    return (slice(top, top + box_h), slice(left, left + box_w)), scale


def _clamp(value: int, low: int, high: int) -> int:
    return max(low, min(value, high))


def _make_window(
    mask: BoolArray, fill_in_box: BoolArray, box: Box, scale: float, window: Shape2
) -> CropWindow:
    """Scaled size, reflection padding and masks of one window over ``box``."""
    box_h, box_w = box[0].stop - box[0].start, box[1].stop - box[1].start
    scaled = (
        min(window[0], max(1, round(box_h * scale))),
        min(window[1], max(1, round(box_w * scale))),
    )
    extra_h, extra_w = window[0] - scaled[0], window[1] - scaled[1]
    pad = (extra_h // 2, extra_h - extra_h // 2, extra_w // 2, extra_w - extra_w // 2)
    hole = mask[box].copy()
    return CropWindow(
        box=box,
        scale=scale,
        scaled_shape=scaled,
        pad=pad,
        hole_mask=hole,
        fill_mask=hole & fill_in_box,
    )


def _resize(array: npt.NDArray[Any], shape: Shape2, resample: Image.Resampling) -> npt.NDArray[Any]:
    """Resize uint8 [H, W, 3] or float32 [H, W] to (height, width) with Pillow."""
    if array.shape[:2] == shape:
        return array.copy()
    mode = "RGB" if array.ndim == 3 else "F"
    resized = Image.fromarray(array, mode).resize((shape[1], shape[0]), resample)
    return np.asarray(resized)


def reflect_pad(array: npt.NDArray[Any], pad: tuple[int, int, int, int]) -> npt.NDArray[Any]:
    """Reflection padding (numpy repeats the reflection for pads larger than the array)."""
    widths = [(pad[0], pad[1]), (pad[2], pad[3])] + [(0, 0)] * (array.ndim - 2)
    if array.shape[0] == 1 or array.shape[1] == 1:  # nothing to reflect along a one-pixel side
        return np.pad(array, widths, mode="edge")
    return np.pad(array, widths, mode="reflect")


def crop_pixels(rgb: UInt8Array, crop: CropWindow) -> UInt8Array:
    """The window's pixels uint8 [window_h, window_w, 3]: crop, downscale, reflect-pad.

    No pixel under ``crop.hole_mask`` is read: they are blanked (0) at source
    resolution, and a reduced window is downscaled with a mask-aware Lanczos that
    weights known pixels only (normalised convolution), so the erased pixels cannot
    bleed into the known ring around a hole. Pixels of :func:`crop_hole_mask` are 0
    here, for the pre-fill to replace.
    """
    known = ~crop.hole_mask
    source = np.where(known[:, :, None], rgb[crop.box], 0).astype(np.uint8)
    if crop.scaled_shape == crop.box_shape:
        return np.ascontiguousarray(reflect_pad(source, crop.pad))
    weight = _known_weight(crop)
    channels = [
        _resize(source[:, :, c].astype(np.float32), crop.scaled_shape, Image.Resampling.LANCZOS)
        for c in range(3)
    ]
    values = np.stack(channels, axis=2) / np.maximum(weight, MIN_KNOWN_WEIGHT)[:, :, None]
    scaled = np.clip(np.rint(values), 0, 255).astype(np.uint8)
    scaled[_scaled_hole(crop, weight)] = 0
    return np.ascontiguousarray(reflect_pad(scaled, crop.pad))


MIN_KNOWN_WEIGHT = 0.5
"""A reduced pixel whose Lanczos weight on known source pixels is below this counts as hole."""


def _known_weight(crop: CropWindow) -> npt.NDArray[np.float32]:
    """Lanczos weight of the known source pixels in each reduced pixel, float32 [scaled]."""
    known = (~crop.hole_mask).astype(np.float32)
    return np.asarray(_resize(known, crop.scaled_shape, Image.Resampling.LANCZOS))


def _scaled_hole(crop: CropWindow, weight: npt.NDArray[np.float32] | None = None) -> BoolArray:
    """Holes of the reduced (unpadded) window: any covered source pixel, or too little known."""
    coverage = _resize(crop.hole_mask.astype(np.float32), crop.scaled_shape, Image.Resampling.BOX)
    if crop.scaled_shape == crop.box_shape:
        return np.asarray(coverage > 0)
    if weight is None:
        weight = _known_weight(crop)
    return np.asarray((coverage > 0) | (weight < MIN_KNOWN_WEIGHT))


def crop_hole_mask(crop: CropWindow) -> BoolArray:
    """Holes in window pixels bool [window_h, window_w]: any covered source pixel counts.

    Reflected padding reflects the holes too, so the model never conditions
    on mirrored pixels the user wanted gone.
    """
    return np.asarray(reflect_pad(_scaled_hole(crop), crop.pad))


def paste_window(
    original: UInt8Array, crop: CropWindow, window_pixels: UInt8Array, feather_px: int = 0
) -> UInt8Array:
    """Composite a generated window back into the full image; only ``crop.fill_mask`` pixels change.

    The padding is cut off, the rest is upscaled with Lanczos to the source
    box when the window worked at reduced resolution, and pasted with its seam
    blended against the known pixels of the box (never the pixels under any hole).
    """
    result = original.copy()
    result[crop.box] = paste_box(original, crop, window_pixels, feather_px)
    return result


def paste_box(
    original: UInt8Array, crop: CropWindow, window_pixels: UInt8Array, feather_px: int = 0
) -> UInt8Array:
    """:func:`paste_window`'s result inside ``crop.box`` only, uint8 [box_h, box_w, 3]."""
    top, bottom, left, right = crop.pad
    height, width = window_pixels.shape[:2]
    content = window_pixels[top : height - bottom, left : width - right]
    content = _resize(np.ascontiguousarray(content), crop.box_shape, Image.Resampling.LANCZOS)
    return composite(original[crop.box], content, crop.fill_mask, feather_px, hole=crop.hole_mask)


def composite(
    original: UInt8Array,
    filled: UInt8Array,
    mask: BoolArray,
    feather_px: int = 0,
    hole: BoolArray | None = None,
) -> UInt8Array:
    """Paste ``filled`` into ``original`` where ``mask`` is True; a new array.

    Only masked pixels are written, so every other pixel is bit-exact, and no
    pixel of ``original`` under ``hole`` (default: ``mask``) is read: the result
    does not depend on what was erased. With ``feather_px`` > 0 the fill is
    adjusted in the gradient domain to meet the known pixels, over that depth
    inside the mask (see :mod:`engine.media.image.seams`).
    """
    if original.shape != filled.shape or original.shape[:2] != mask.shape:
        raise ValueError(
            f"composite of {filled.shape} into {original.shape} with mask {mask.shape}"
        )
    unknown = mask if hole is None else hole | mask
    return blend_seams(original, filled, unknown, mask, feather_px)
