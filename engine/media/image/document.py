"""The image document: a picture, its mask, change events and undo — plain Python, no Qt.

The canvas shows it and forwards user intent (a stroke, a rectangle, an
accepted variation) to its methods; it never writes the arrays itself. That
keeps every edit testable without a window and makes each gesture one undo
step (see :mod:`engine.undo`).

Arrays (the live ones are read-only by convention; edit through methods):

* ``rgb`` uint8 [H, W, 3], RGB order, what the canvas shows and the model sees;
* ``mask`` bool [H, W], True = regenerate this pixel;
* ``high`` uint16 [H, W, C] for 16-bit sources (see :mod:`engine.media.image.files`).

Alpha and the other file facts (mode, ICC profile) are never edited by a
stroke or a generation, so they live in the document's :class:`LoadedImage`
"base" and travel unchanged.

Undo
----
Every edit goes through one :class:`~engine.undo.UndoStack`: in-place edits
are bbox diffs; extending the canvas (outpainting) changes the array shapes,
so it swaps the arrays and the base picture whole (:meth:`UndoStack.swap`)
as one step of the same history. Undo past it returns to the smaller canvas
exactly as it was left; a new edit drops redo, extensions included.

Events (:class:`~engine.document.DocumentChanged`): ``"mask"`` and
``"pixels"`` with the (rows, cols) box that changed, ``"reset"`` when the
canvas was replaced (new size), ``"history"`` when Undo/Redo may have changed.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from engine.document import HistoryDocument
from engine.media.image.export import save_image
from engine.media.image.files import BoolArray, LoadedImage, load_image, with_edit
from engine.media.image.mask import Box, Point, load_mask, save_mask
from engine.media.image.mask_tools import (
    fill_polygon,
    fill_rectangle,
    paint_stroke,
    similar_region,
    stroke_box,
)
from engine.media.image.morphology import grow, shrink
from engine.undo import Bbox, Touched, UndoStack

__all__ = ["ImageDocument", "combine_windows", "edited_region", "window_region"]

MAX_MARGIN = 4096
"""Largest outpainting margin per side, so a typo cannot allocate gigabytes."""


def _targets(image: LoadedImage, mask: BoolArray | None = None) -> dict[str, Any]:
    """The history's targets for one canvas: its arrays and the picture that shares them."""
    arrays: dict[str, Any] = {
        "rgb": np.array(image.rgb, dtype=np.uint8, copy=True),
        "mask": (
            np.zeros((image.height, image.width), dtype=np.bool_)
            if mask is None
            else np.array(mask, dtype=np.bool_, copy=True)
        ),
    }
    if image.high is not None:
        arrays["high"] = np.array(image.high, copy=True)
    arrays["image"] = replace(image, rgb=arrays["rgb"], high=arrays.get("high"))
    return arrays


class ImageDocument(HistoryDocument):
    """An open picture with its mask; subscribers get the events listed in the module doc."""

    def __init__(self, image: LoadedImage, name: str = "") -> None:
        self.name = name
        self._state = _targets(image)
        self._start_history(UndoStack(self._state))
        self._stroke_value = True

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ImageDocument:
        """Decode ``path`` fully first; any problem is an ``ImageError`` and nothing is built."""
        return cls(load_image(path), Path(path).name)

    # -- state ------------------------------------------------------------------------

    @property
    def image(self) -> LoadedImage:
        """The live picture (arrays shared with the document; do not write them)."""
        image: LoadedImage = self._state["image"]
        return image

    @property
    def rgb(self) -> np.ndarray:
        rgb: np.ndarray = self._state["rgb"]
        return rgb

    @property
    def mask(self) -> BoolArray:
        mask: BoolArray = self._state["mask"]
        return mask

    @property
    def shape(self) -> tuple[int, int]:
        return self.image.height, self.image.width

    def has_mask(self) -> bool:
        return bool(self.mask.any())

    def snapshot(self) -> tuple[LoadedImage, BoolArray]:
        """Private copies of picture and mask for the engine thread (never the live arrays)."""
        image = self.image
        high = None if image.high is None else image.high.copy()
        alpha = None if image.alpha is None else image.alpha.copy()
        return replace(image, rgb=image.rgb.copy(), high=high, alpha=alpha), self.mask.copy()

    # -- mask: brush ----------------------------------------------------------------------

    def begin_stroke(self, erase: bool = False) -> None:
        """Open one undo step for a brush (or eraser) stroke: press ... moves ... release."""
        self._stroke_value = not erase
        self.history.begin_step("eraser" if erase else "brush")

    def stroke(self, start: Point, end: Point, radius: float) -> None:
        """Paint one segment of the open stroke; the segment is solid however long it is."""
        box = stroke_box(self.mask.shape, start, end, radius)
        if box is None:
            return
        with self.history.edit(box, "mask") as mask:
            paint_stroke(mask, start, end, radius, self._stroke_value)
        self._notify("mask", box)

    def end_stroke(self) -> None:
        self.history.end_step()

    # -- mask: shapes and whole-mask tools ------------------------------------------------

    def fill_rectangle(self, corner: Point, opposite: Point, value: bool = True) -> None:
        self._whole_mask_edit("rectangle", lambda m: fill_rectangle(m, corner, opposite, value))

    def fill_lasso(self, points: Sequence[Point], value: bool = True) -> None:
        self._whole_mask_edit("lasso", lambda m: fill_polygon(m, points, value))

    def fill_similar(self, seed: Point, tolerance: int, value: bool = True) -> None:
        """The fill-mask tool: add (or remove) the similar-colour region around ``seed``."""
        region = similar_region(self.rgb, seed, tolerance)
        self.set_mask(np.where(region, value, self.mask), "fill mask")

    def invert_mask(self) -> None:
        self.set_mask(~self.mask, "invert mask")

    def clear_mask(self) -> None:
        self.set_mask(np.zeros_like(self.mask), "clear mask")

    def grow_mask(self, pixels: int) -> None:
        self.set_mask(grow(self.mask, pixels), "grow mask")

    def shrink_mask(self, pixels: int) -> None:
        self.set_mask(shrink(self.mask, pixels), "shrink mask")

    def set_mask(self, mask: BoolArray, label: str = "set mask") -> None:
        """Replace the whole mask as one undo step (only changed pixels are stored)."""
        if mask.shape != self.mask.shape:
            raise ValueError(f"mask {mask.shape} does not fit the image {self.mask.shape}")
        with self.history.step(label):
            changed = self.history.assign(np.asarray(mask, np.bool_), target="mask")
        self._after_edit("mask", changed)

    def import_mask(self, path: str | os.PathLike[str]) -> None:
        """Load a mask PNG (white = fill); a wrong size raises ``ImageError``, nothing changes."""
        self.set_mask(load_mask(path, self.shape, require_fill=False), "import mask")

    def export_mask(self, path: str | os.PathLike[str]) -> None:
        save_mask(self.mask, path)

    def _whole_mask_edit(self, label: str, tool: Callable[[BoolArray], Box | None]) -> None:
        """Run a tool that writes the mask in place and returns its box, as one undo step."""
        history = self.history
        with history.step(label), history.edit(None, "mask") as mask:
            box = tool(mask)
        if box is not None:
            self._after_edit("mask", box)

    # -- pixels ------------------------------------------------------------------------------

    def accept(self, result: LoadedImage, region: BoolArray | None = None) -> None:
        """Take a generated variation as one undo step; only ``region`` pixels are written.

        ``region`` defaults to the pixels where ``result`` differs from the
        document, so a variation can never touch what it did not change.
        """
        if (result.height, result.width) != self.shape:
            raise ValueError(f"result is {result.width}×{result.height}, the image {self.shape}")
        if region is None:
            region = edited_region(self.image, result)
        edited = with_edit(self.image, result.rgb, region)
        history = self.history
        changed: Bbox | None = None
        with history.step("accept variation"):
            changed = history.assign(edited.rgb, target="rgb")
            if edited.high is not None and "high" in self._state:
                history.assign(edited.high, target="high")
        self._after_edit("pixels", changed)

    def extend_canvas(self, left: int, top: int, right: int, bottom: int) -> None:
        """Outpainting: grow the canvas by margins and mask the new area; one undo step."""
        margins = (left, top, right, bottom)
        if min(margins) < 0 or max(margins) > MAX_MARGIN:
            raise ValueError(f"margins must be between 0 and {MAX_MARGIN} pixels")
        if not any(margins):
            return
        from engine.media.image.files import extend_for_outpainting

        extended, new_area = extend_for_outpainting(self.image, left, top, right, bottom)
        old_mask = np.pad(self.mask, ((top, bottom), (left, right)))
        with self.history.step("extend canvas"):
            for name, value in _targets(extended, old_mask | new_area).items():
                self.history.swap(name, value)
        self._notify("reset")

    def export(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """Write PNG/JPEG/WebP (alpha kept where the format can); returns notes for the user."""
        return save_image(self.image, path)

    # -- events ------------------------------------------------------------------------------

    def _after_edit(self, kind: str, box: Bbox | None) -> None:
        if box is not None:
            self._notify(kind, box[:2])

    def _replayed(self, touched: Touched) -> None:
        """One event per kind: a swapped picture is a reset; 16-bit samples are pixels."""
        if "image" in touched:
            self._notify("reset")
            return
        pixels = [box for name in ("rgb", "high") if (box := touched.get(name)) is not None]
        if pixels:
            self._notify("pixels", pixels[0][:2])
        if (mask := touched.get("mask")) is not None:
            self._notify("mask", mask)


def edited_region(before: LoadedImage, after: LoadedImage) -> BoolArray:
    """Pixels where ``after`` differs from ``before`` in colour or 16-bit samples."""
    region = np.asarray((before.rgb != after.rgb).any(axis=2))
    if before.high is not None and after.high is not None:
        region |= (before.high != after.high).any(axis=2)
    return region


def combine_windows(
    window_results: Sequence[Sequence[LoadedImage]], regions: Sequence[BoolArray]
) -> list[LoadedImage]:
    """Merge per-window results into whole variations: variation k takes window w's ``regions[w]``.

    Each window of a crop plan fills its own pixels (``fill_mask``, disjoint
    between windows), so pasting region w of window w's k-th result over the
    first window's k-th result is exact; nothing outside the regions moves.
    """
    if len(window_results) != len(regions) or not window_results:
        raise ValueError("one result list and one region per window are needed")
    count = min(len(results) for results in window_results)
    merged = list(window_results[0][:count])
    for results, region in zip(window_results[1:], regions[1:], strict=True):
        merged = [with_edit(base, results[k].rgb, region) for k, base in enumerate(merged)]
    return merged


def window_region(shape: tuple[int, int], box: Box, fill_mask: BoolArray) -> BoolArray:
    """A crop window's fill mask placed in a full-size bool [H, W] array."""
    region = np.zeros(shape, dtype=np.bool_)
    region[box] = fill_mask
    return region
