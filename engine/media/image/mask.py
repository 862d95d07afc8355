"""Image masks: the mask type, mask files, and the checks a mask passes before an edit.

A mask is ``bool [H, W]`` with True = "regenerate this pixel". Points are
``(x, y)`` floats in image pixels, pixel (row r, column c) having its centre at
``(c, r)``. Boxes are ``(rows, cols)`` slices, the same convention as
``engine.undo.Bbox``, so the app can open an undo ``edit(box)`` before a tool
writes into the mask in place. The tools that paint masks are in
``engine.media.image.mask_tools``; growing, shrinking and feathering in
``engine.media.image.morphology``.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from engine.media.image.export import save_image
from engine.media.image.files import (
    BoolArray,
    ImageError,
    UInt8Array,
    decode_image,
    luma,
)
from engine.media.image.files import LoadedImage as _LoadedImage

__all__ = [
    "MASK_THRESHOLD",
    "Box",
    "Point",
    "bounding_box",
    "cleared",
    "decode_mask",
    "invert",
    "load_mask",
    "save_mask",
    "validate_mask",
]

Box = tuple[slice, slice]
"""(rows, cols) with concrete non-negative bounds."""
Point = tuple[float, float]
"""(x, y) in image pixels; pixel centres are at integer coordinates."""
MASK_THRESHOLD = 128
"""A mask file's pixel fills when its gray (or alpha) value is at least this."""


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
    outpainting path (``engine.media.image.files.extend_canvas``).
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
    """Write an 8-bit gray PNG, white = fill (readable by any editor and by :func:`load_mask`).

    Written atomically, like every export (:func:`~engine.media.image.export.save_image`).
    """
    if Path(path).suffix.lower() != ".png":
        raise ImageError(f"{Path(path).name}: save masks as .png (lossless)")
    white = np.where(mask, 255, 0).astype(np.uint8)
    save_image(_LoadedImage(rgb=np.repeat(white[:, :, None], 3, axis=2), mode="L"), path)


def bounding_box(mask: BoolArray) -> Box | None:
    """The tight box of the True pixels, or None for an empty mask."""
    rows = np.flatnonzero(mask.any(axis=1))
    if rows.size == 0:
        return None
    cols = np.flatnonzero(mask.any(axis=0))
    return slice(int(rows[0]), int(rows[-1]) + 1), slice(int(cols[0]), int(cols[-1]) + 1)


def invert(mask: BoolArray) -> BoolArray:
    """A new mask with every pixel flipped."""
    return ~mask


def cleared(shape: tuple[int, int]) -> BoolArray:
    """A new, empty mask."""
    return np.zeros(shape, dtype=np.bool_)
