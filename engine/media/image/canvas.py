"""A variation's picture during an edit: the snapshot and the box edits laid over it.

An edit of a large photo runs many windows (a coarse fill, then native tiles), and
each variation's state must stay immutable between them (live previews read the
states a window started from). Copying a 12-megapixel picture per window cost more
than a tenth of a second per edit; a :class:`Canvas` instead keeps the snapshot and
the (small) box edits in order, reads a box by laying the edits that touch it over
the snapshot's pixels, and copies the whole picture once, at the end
(:meth:`Canvas.image`), with :func:`engine.media.image.files.with_box_edits`'s policy.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from engine.media.image.files import (
    BoolArray,
    LoadedImage,
    UInt8Array,
    edit_colors,
    with_box_edits,
)
from engine.media.image.mask import Box

__all__ = ["BoxEdit", "Canvas"]


@dataclass(frozen=True, eq=False)
class BoxEdit:
    """New pixels ``rgb`` uint8 [box, 3] written where ``region`` (bool [box]) is True."""

    box: Box
    rgb: UInt8Array
    region: BoolArray


@dataclass(frozen=True, eq=False)
class Canvas:
    """``image`` with ``edits`` applied in order; neither is ever written."""

    base: LoadedImage
    edits: tuple[BoxEdit, ...] = ()

    @property
    def shape(self) -> tuple[int, int]:
        return self.base.height, self.base.width

    def rgb_in(self, box: Box) -> UInt8Array:
        """The picture so far inside ``box``, uint8 [box, 3] (a new array)."""
        out = self.base.rgb[box].copy()
        for edit in self.edits:
            overlap = _overlap(box, edit.box)
            if overlap is None:
                continue
            target, source = overlap
            np.copyto(out[target], edit.rgb[source], where=edit.region[source][:, :, None])
        return out

    def with_box_edit(self, box: Box, rgb: UInt8Array, region: BoolArray) -> Canvas:
        """This canvas with ``rgb`` [box, 3] written where ``region`` [box] (the edit policy of
        :func:`engine.media.image.files.with_box_edit`: gray pictures stay gray)."""
        if rgb.shape != (*region.shape, 3) or region.shape != _box_shape(box):
            raise ValueError(f"box edit of shape {rgb.shape}/{region.shape} for box {box}")
        pixels = rgb.copy()
        if self.base.is_gray:
            pixels[region] = edit_colors(self.base, rgb[region])
        return Canvas(self.base, (*self.edits, BoxEdit(box, pixels, region.copy())))

    def image(self) -> LoadedImage:
        """The picture as a :class:`LoadedImage` (the snapshot itself when nothing was edited)."""
        if not self.edits:
            return self.base
        return with_box_edits(self.base, [(e.box, e.rgb, e.region) for e in self.edits])


def _box_shape(box: Box) -> tuple[int, int]:
    return box[0].stop - box[0].start, box[1].stop - box[1].start


def _overlap(outer: Box, inner: Box) -> tuple[Box, Box] | None:
    """Where boxes meet: slices into ``outer``'s array and into ``inner``'s, or None."""
    top, bottom = max(outer[0].start, inner[0].start), min(outer[0].stop, inner[0].stop)
    left, right = max(outer[1].start, inner[1].start), min(outer[1].stop, inner[1].stop)
    if top >= bottom or left >= right:
        return None

    def local(box: Box) -> Box:
        return (
            slice(top - box[0].start, bottom - box[0].start),
            slice(left - box[1].start, right - box[1].start),
        )

    return local(outer), local(inner)
