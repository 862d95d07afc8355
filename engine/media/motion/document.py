"""The motion editor's document: a BVH clip, a per-part frame mask, and their shared undo history.

Plain Python (no Qt), so the editor's logic is testable without a window. The
raw channel values live in one writable float64 array ``[F, C]`` (the clip's
column layout); :attr:`MotionDocument.clip` wraps them in a read-only
:class:`~engine.media.motion.clip.Clip` for kinematics, codecs and export.

The mask is ``[F, 2]`` bool, one column per body part in :data:`MASK_PARTS`
order (upper, lower): painting "full" marks both. A second array of the same
shape, ``generated``, remembers which frames and parts came from the model, so
the timeline can colour them apart from the context the user kept. All three
arrays share one :class:`~engine.undo.UndoStack`; a mask stroke or an accepted
variation is one undo step.

Subscribers get :class:`~engine.document.DocumentChanged` events: ``"motion"``
or ``"mask"`` (the generated track is drawn with the mask) with the box
``(frames, parts)`` that changed, so views redraw only that stretch of the
timeline (:func:`frame_span`), and ``"history"``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.document import HistoryDocument
from engine.media.motion.bvh import read_bvh
from engine.media.motion.bvh_writer import write_bvh
from engine.media.motion.clip import Clip
from engine.media.motion.skeleton import PARTS, SkeletonMap, check_part, map_skeleton
from engine.undo import Bbox, UndoStack

BoolArray = npt.NDArray[np.bool_]
FloatArray = npt.NDArray[np.float64]
FrameSpan = tuple[int, int]
"""``(first, stop)``: frames ``first <= f < stop``."""

MASK_PARTS: tuple[str, ...] = ("upper", "lower")
"""Columns of the frame mask; "full" is both."""

_PART_COLUMNS: dict[str, slice] = {"full": slice(0, 2), "upper": slice(0, 1), "lower": slice(1, 2)}


def frame_span(region: Bbox | None, n_frames: int) -> FrameSpan:
    """The frames an event's region covers (all ``n_frames`` for None)."""
    return (0, n_frames) if region is None else (region[0].start, region[0].stop)


def part_columns(part: str) -> slice:
    """The mask columns a body part covers (``"full"`` covers both)."""
    check_part(part)
    return _PART_COLUMNS[part]


@dataclass(frozen=True)
class MotionPayload:
    """An immutable generation request: regenerate frames ``first..last`` (inclusive) of ``part``.

    ``clip`` is a read-only snapshot, so the engine thread never sees later edits.
    """

    clip: Clip
    first: int
    last: int
    part: str
    skeleton_map: SkeletonMap

    @property
    def n_frames(self) -> int:
        """Frames to regenerate."""
        return self.last - self.first + 1


class MotionDocument(HistoryDocument):
    """One open clip with its mask and history.

    Parameters
    ----------
    clip
        The motion; must map onto the model skeleton (else :class:`SkeletonError`),
        since every edit needs the upper/lower split.
    name
        Shown in the window title (the file name).
    """

    def __init__(self, clip: Clip, name: str = "") -> None:
        if clip.n_frames < 1:
            raise ValueError("the clip has no frames")
        self.skeleton_map: SkeletonMap = map_skeleton(clip)  # raises before anything is built
        self.name = name
        self._template = clip
        self._motion: FloatArray = np.array(clip.motion, dtype=np.float64, copy=True)
        frames = clip.n_frames
        self._mask: BoolArray = np.zeros((frames, len(MASK_PARTS)), dtype=bool)
        self._generated: BoolArray = np.zeros((frames, len(MASK_PARTS)), dtype=bool)
        self._clip_cache: Clip | None = clip
        self._start_history(
            UndoStack({"motion": self._motion, "mask": self._mask, "generated": self._generated})
        )

    @classmethod
    def open(cls, path: str | os.PathLike[str]) -> MotionDocument:
        """Read and map a BVH file; raises (one-line message) before anything is built."""
        return cls(read_bvh(path), Path(path).name)

    @classmethod
    def blank(cls, template: Clip, name: str = "new clip") -> MotionDocument:
        """A document with every frame masked: the start of "New clip"."""
        document = cls(template, name)
        document._mask[:] = True
        return document

    # -- state ----------------------------------------------------------------------------

    @property
    def clip(self) -> Clip:
        """The current motion as a read-only clip (rebuilt only after a change)."""
        if self._clip_cache is None:
            self._clip_cache = self._template.with_motion(self._motion)
        return self._clip_cache

    @property
    def n_frames(self) -> int:
        return int(self._motion.shape[0])

    @property
    def mask(self) -> BoolArray:
        """``[F, 2]`` (upper, lower); a read-only view."""
        return _readonly(self._mask)

    @property
    def generated(self) -> BoolArray:
        """``[F, 2]``: frames and parts written by an accepted generation; read-only view."""
        return _readonly(self._generated)

    def has_mask(self) -> bool:
        return bool(self._mask.any())

    def part_mask(self, part: str) -> BoolArray:
        """``[F]``: frames where ``part`` is marked (for "full": where both parts are)."""
        return np.asarray(self._mask[:, part_columns(part)].all(axis=1))

    # -- mask edits -------------------------------------------------------------------------

    def begin_stroke(self, label: str = "mask stroke") -> None:
        """Start a drag on the timeline; every edit until :meth:`end_stroke` is one undo step."""
        self.history.begin_step(label)

    def end_stroke(self) -> None:
        self.history.end_step()

    def set_mask(self, first: int, last: int, part: str, value: bool = True) -> None:
        """Mark (or clear) frames ``first..last`` (inclusive, in any order) of ``part``."""
        lo, hi = sorted((first, last))
        lo, hi = max(lo, 0), min(hi, self.n_frames - 1)
        if lo > hi:
            return
        box = (slice(lo, hi + 1), part_columns(part))
        self._touched("mask", self.history.assign(np.array(value, dtype=bool), box, target="mask"))

    def clear_mask(self) -> None:
        self._touched("mask", self.history.assign(np.array(False), target="mask"))

    def mask_block(self) -> tuple[int, int, str]:
        """The masked block as ``(first, last, part)``; ValueError when it is not one block.

        A generation regenerates one continuous range of one part (or both), so
        a mask with gaps, or with different parts on different frames, is refused
        with a message saying what to fix instead of silently widening it.
        """
        rows = np.flatnonzero(self._mask.any(axis=1))
        if rows.size == 0:
            raise ValueError("paint a mask first")
        first, last = int(rows[0]), int(rows[-1])
        if rows.size != last - first + 1:
            raise ValueError(
                f"the mask has gaps between frames {first} and {last}: mask one continuous range"
            )
        patterns = np.unique(self._mask[first : last + 1], axis=0)
        if len(patterns) != 1:
            raise ValueError(
                f"frames {first}-{last} mix body parts: mask one part (or full) over the range"
            )
        upper, lower = (bool(v) for v in patterns[0])
        return first, last, "full" if upper and lower else "upper" if upper else "lower"

    def snapshot(self) -> MotionPayload:
        """The payload for a generation request (raises ValueError when the mask is unusable)."""
        first, last, part = self.mask_block()
        return MotionPayload(self.clip, first, last, part, self.skeleton_map)

    # -- results ----------------------------------------------------------------------------

    def accept(self, result: Clip, payload: MotionPayload) -> None:
        """Write a generated clip as one undo step; only the values that differ are stored.

        ``result`` must have this document's skeleton and length (codecs composite
        so that everything outside the range is bit-exact already).
        """
        if result.joints != self.clip.joints or result.n_frames != self.n_frames:
            raise ValueError("the generated clip does not fit this document's skeleton or length")
        box = (slice(payload.first, payload.last + 1), part_columns(payload.part))
        with self.history.step("accept variation"):
            self._touched("motion", self.history.assign(result.motion, target="motion"))
            self._touched("generated", self.history.assign(np.array(True), box, target="generated"))

    def export(self, path: str | os.PathLike[str]) -> None:
        """Write the current motion as BVH (the input's hierarchy and number style)."""
        write_bvh(self.clip, path)

    # -- history -----------------------------------------------------------------------------

    def _touched(self, target: str, box: Bbox | None) -> None:
        """Invalidate caches and tell subscribers which frames changed (nothing if none did)."""
        if box is None:
            return
        if target == "motion":
            self._clip_cache = None
        self._notify("motion" if target == "motion" else "mask", box)


def _readonly(array: BoolArray) -> BoolArray:
    view = array.view()
    view.flags.writeable = False
    return view


__all__ = [
    "MASK_PARTS",
    "PARTS",
    "FrameSpan",
    "MotionDocument",
    "MotionPayload",
    "frame_span",
    "part_columns",
]
