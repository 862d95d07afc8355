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
In-place edits are bbox diffs on one :class:`~engine.undo.UndoStack`.
Extending the canvas (outpainting) changes the array shapes, which diffs
cannot express, so the document keeps a chain of *eras*: each era has its own
arrays and stack. Undo past the first step of an era returns to the previous
era exactly as it was left; redo re-enters the later one. A new edit drops
the eras ahead, as any new edit drops redo.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from engine.media.image.files import BoolArray, LoadedImage, load_image, save_image, with_edit
from engine.media.image.mask import (
    Box,
    Point,
    fill_polygon,
    fill_rectangle,
    grow,
    load_mask,
    paint_stroke,
    save_mask,
    shrink,
    similar_region,
    stroke_box,
)
from engine.undo import Bbox, UndoStack

__all__ = ["ImageDocument", "combine_windows", "edited_region", "window_region"]

Listener = Callable[[Bbox], None]
"""Called with the (rows, cols) box that changed."""
Notice = Callable[[], None]

MAX_MARGIN = 4096
"""Largest outpainting margin per side, so a typo cannot allocate gigabytes."""


@dataclass
class _Era:
    """Arrays of one canvas size and their history."""

    base: LoadedImage
    arrays: dict[str, np.ndarray]
    history: UndoStack
    stale_redo: int = 0
    """Redo steps this era held when the canvas was extended: that future was dropped."""

    @property
    def can_redo(self) -> bool:
        return len(self.history.redo_steps) > self.stale_redo


def _new_era(image: LoadedImage, mask: BoolArray | None = None) -> _Era:
    arrays: dict[str, np.ndarray] = {
        "rgb": np.array(image.rgb, dtype=np.uint8, copy=True),
        "mask": (
            np.zeros((image.height, image.width), dtype=np.bool_)
            if mask is None
            else np.array(mask, dtype=np.bool_, copy=True)
        ),
    }
    if image.high is not None:
        arrays["high"] = np.array(image.high, copy=True)
    return _Era(
        replace(image, rgb=arrays["rgb"], high=arrays.get("high")), arrays, UndoStack(arrays)
    )


class ImageDocument:
    """An open picture with its mask.

    Listeners (lists of callables, so a test needs no Qt):
    ``image_changed(box)`` and ``mask_changed(box)`` after in-place edits,
    ``reset()`` after the canvas was replaced (new size), and
    ``history_changed()`` whenever Undo/Redo availability may change.
    """

    def __init__(self, image: LoadedImage, name: str = "") -> None:
        self.name = name
        self.image_changed: list[Listener] = []
        self.mask_changed: list[Listener] = []
        self.reset: list[Notice] = []
        self.history_changed: list[Notice] = []
        self._era = self._watched(_new_era(image))
        self._past: list[_Era] = []
        self._future: list[_Era] = []
        self._stroke_value = True

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> ImageDocument:
        """Decode ``path`` fully first; any problem is an ``ImageError`` and nothing is built."""
        return cls(load_image(path), Path(path).name)

    # -- state ------------------------------------------------------------------------

    @property
    def image(self) -> LoadedImage:
        """The live picture (arrays shared with the document; do not write them)."""
        return self._era.base

    @property
    def rgb(self) -> np.ndarray:
        return self._era.arrays["rgb"]

    @property
    def mask(self) -> BoolArray:
        return self._era.arrays["mask"]

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

    @property
    def revision(self) -> int:
        """Names the current state (see :attr:`engine.undo.UndoStack.revision`).

        Revisions are unique across eras, so undoing an extension back to the
        smaller canvas returns the revision that canvas had.
        """
        return self._era.history.revision

    @property
    def can_undo(self) -> bool:
        return self._era.history.can_undo or bool(self._past)

    @property
    def can_redo(self) -> bool:
        return self._era.can_redo or bool(self._future)

    # -- mask: brush ----------------------------------------------------------------------

    def begin_stroke(self, erase: bool = False) -> None:
        """Open one undo step for a brush (or eraser) stroke: press ... moves ... release."""
        self._stroke_value = not erase
        self._era.history.begin_step("eraser" if erase else "brush")

    def stroke(self, start: Point, end: Point, radius: float) -> None:
        """Paint one segment of the open stroke; the segment is solid however long it is."""
        box = stroke_box(self.mask.shape, start, end, radius)
        if box is None:
            return
        with self._era.history.edit(box, "mask") as mask:
            paint_stroke(mask, start, end, radius, self._stroke_value)
        self._emit_mask(box)

    def end_stroke(self) -> None:
        self._era.history.end_step()
        self._forget_future()

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
        with self._era.history.step(label):
            changed = self._era.history.assign(np.asarray(mask, np.bool_), target="mask")
        self._after_edit(changed, self.mask_changed)

    def import_mask(self, path: str | os.PathLike[str]) -> None:
        """Load a mask PNG (white = fill); a wrong size raises ``ImageError``, nothing changes."""
        self.set_mask(load_mask(path, self.shape, require_fill=False), "import mask")

    def export_mask(self, path: str | os.PathLike[str]) -> None:
        save_mask(self.mask, path)

    def _whole_mask_edit(self, label: str, tool: Callable[[BoolArray], Box | None]) -> None:
        """Run a tool that writes the mask in place and returns its box, as one undo step."""
        history = self._era.history
        with history.step(label), history.edit(None, "mask") as mask:
            box = tool(mask)
        if box is not None:
            self._after_edit(box, self.mask_changed)

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
        history = self._era.history
        changed: Bbox | None = None
        with history.step("accept variation"):
            changed = history.assign(edited.rgb, target="rgb")
            if edited.high is not None and "high" in self._era.arrays:
                history.assign(edited.high, target="high")
        self._after_edit(changed, self.image_changed)

    def extend_canvas(self, left: int, top: int, right: int, bottom: int) -> None:
        """Outpainting: grow the canvas by margins and mask the new area; one undo step."""
        margins = (left, top, right, bottom)
        if min(margins) < 0 or max(margins) > MAX_MARGIN:
            raise ValueError(f"margins must be between 0 and {MAX_MARGIN} pixels")
        if not any(margins):
            return
        from engine.media.image.codec import extend_for_outpainting

        extended, new_area = extend_for_outpainting(self.image, left, top, right, bottom)
        old_mask = np.pad(self.mask, ((top, bottom), (left, right)))
        self._era.stale_redo = len(self._era.history.redo_steps)
        self._past.append(self._era)
        self._future.clear()
        self._era = self._watched(_new_era(extended, old_mask | new_area))
        self._emit_reset()

    def export(self, path: str | os.PathLike[str]) -> tuple[str, ...]:
        """Write PNG/JPEG/WebP (alpha kept where the format can); returns notes for the user."""
        return save_image(self.image, path)

    # -- history ------------------------------------------------------------------------------

    def undo(self) -> bool:
        touched = self._era.history.undo()
        if touched is not None:
            self._emit_touched(touched)
            return True
        if not self._past:
            return False
        self._future.append(self._era)
        self._era = self._past.pop()
        self._emit_reset()
        return True

    def redo(self) -> bool:
        if self._era.can_redo:
            touched = self._era.history.redo()
            if touched is not None:
                self._emit_touched(touched)
                return True
        if not self._future:
            return False
        self._past.append(self._era)
        self._era = self._future.pop()
        self._emit_reset()
        return True

    # -- events ------------------------------------------------------------------------------

    def _watched(self, era: _Era) -> _Era:
        era.history.changed.append(self._notify_history)
        return era

    def _notify_history(self) -> None:
        for listener in list(self.history_changed):
            listener()

    def _forget_future(self) -> None:
        self._era.stale_redo = 0  # a new edit cleared the stack's redo anyway
        if self._future:
            self._future.clear()
            self._notify_history()

    def _after_edit(self, box: Bbox | None, listeners: list[Listener]) -> None:
        self._forget_future()
        if box is not None:
            for listener in list(listeners):
                listener(box[:2])

    def _emit_mask(self, box: Bbox) -> None:
        for listener in list(self.mask_changed):
            listener(box)

    def _emit_touched(self, touched: dict[str, Bbox]) -> None:
        pixels = [touched[name][:2] for name in ("rgb", "high") if name in touched]
        for box in pixels[:1]:
            for listener in list(self.image_changed):
                listener(box)
        if "mask" in touched:
            self._emit_mask(touched["mask"])

    def _emit_reset(self) -> None:
        for listener in list(self.reset):
            listener()
        self._notify_history()


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
