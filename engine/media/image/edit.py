"""One image edit across its crop windows, and what its live preview shows — no Qt.

:class:`engine.media.image.codec.ImageCodec` plans an edit as one window per group
of holes. :class:`ImageEdit` is the immutable payload of the whole edit (the
snapshot and its planned windows) and :class:`ImageEditCodec` runs it as an
:class:`engine.jobs.WindowedCodec`: the runner samples window after window,
and a variation's state is its picture so far (a ``Canvas``), into which each window pastes
only its own pixels (its ``fill_mask``). Every window encodes the same
snapshot: the codec treats every masked pixel in a window's box as unknown
(pre-filled before encoding), earlier fills included, so the windows are
independent draws and the K-th variation is one coherent draw per window.

:func:`preview_patch` and :func:`heat_patch` turn a sampler step of a window
into pixels for the canvas: the decoded window pasted into its holes, and
per-token confidence on the token grid, placed in image coordinates.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.jobs import TokenProblem
from engine.media.image.canvas import Canvas
from engine.media.image.codec import ImageCodec, ImagePayload
from engine.media.image.crops import Strategy, paste_box, paste_window
from engine.media.image.document import window_region
from engine.media.image.files import BoolArray, LoadedImage, UInt8Array
from engine.media.image.refine import (
    DEFAULT_REFINEMENT,
    FineTile,
    Refinement,
    blend_tile,
    plan_tiles,
    refine_editable,
    tile_pixels,
)
from engine.sampling.types import TokenArray

__all__ = [
    "HeatPatch",
    "ImageEdit",
    "ImageEditCodec",
    "PreviewPatch",
    "heat_patch",
    "preview_patch",
]

FloatArray = npt.NDArray[np.float32]


@dataclass(frozen=True)
class PreviewPatch:
    """RGBA uint8 [h, w, 4] pixels to draw at (top, left); alpha 0 where nothing changes."""

    rgba: UInt8Array
    top: int
    left: int


@dataclass(frozen=True)
class HeatPatch:
    """RGBA uint8 [rows, cols, 4], one cell per token, each ``cell`` (dy, dx) image pixels."""

    rgba: UInt8Array
    top: float
    left: float
    cell: tuple[float, float]


@dataclass(frozen=True, eq=False)
class ImageEdit:
    """The payload of one edit: the picture snapshot and its windows, run in this order.

    The first windows are the crop plan's (one per group of holes, reduced resolution
    for a large one); then, for each reduced window, the native-resolution tiles that
    refine its fill (:mod:`engine.media.image.refine`). ``tiles[k]`` is window k's
    tile, None for a first-pass window; a tile's payload holds the snapshot and the
    tile's scale-1 crop, so previews and heat maps treat it as any window.
    """

    image: LoadedImage
    windows: tuple[ImagePayload, ...]
    tiles: tuple[FineTile | None, ...] = ()
    refinement: Refinement | None = None

    @staticmethod
    def plan(
        codec: ImageCodec,
        image: LoadedImage,
        mask: BoolArray,
        strategy: Strategy = "regions",
        refinement: Refinement | None = DEFAULT_REFINEMENT,
    ) -> ImageEdit:
        """Check the mask (``ImageError`` when empty, full or mis-sized) and plan the windows.

        ``refinement`` None keeps every fill at its window's resolution (the fast path).
        """
        first = tuple(codec.payloads(image, mask, strategy))
        tiles: list[FineTile] = []
        if refinement is not None:
            for payload in first:
                if payload.crop.scale < 1:
                    group = window_region(mask.shape, payload.crop.box, payload.crop.fill_mask)
                    tiles += plan_tiles(mask, group, codec.window, refinement)
        windows = first + tuple(ImagePayload(image, tile.crop) for tile in tiles)
        return ImageEdit(image, windows, (None,) * len(first) + tuple(tiles), refinement)

    @property
    def count(self) -> int:
        return len(self.windows)

    def tile(self, window: int) -> FineTile | None:
        """Window ``window``'s refinement tile, or None for a first-pass window."""
        return self.tiles[window] if window < len(self.tiles) else None

    def region(self, window: int) -> BoolArray:
        """Window ``window``'s own pixels in full-image coordinates, bool [H, W]."""
        crop = self.windows[window].crop
        return window_region((self.image.height, self.image.width), crop.box, crop.fill_mask)

    def regions(self) -> list[BoolArray]:
        """Each first-pass window's pixels (disjoint); together, every pixel the edit may change.

        Refinement tiles only rewrite pixels of these.
        """
        return [self.region(w) for w in range(self.count) if self.tile(w) is None]


class ImageEditCodec:
    """The :class:`engine.jobs.WindowedCodec` for :class:`ImageEdit`: window k is crop window k.

    A variation's state is its picture so far, a :class:`Canvas` (the snapshot at
    first, then the windows' box edits over it); ``apply_window`` decodes the
    window's B rows in one decoder call and pastes row b into variation b's
    picture, inside the window's region only; ``finish`` makes the images.
    """

    def __init__(self, codec: ImageCodec) -> None:
        self.codec = codec

    def window_count(self, edit: ImageEdit) -> int:
        return edit.count

    def initial_state(self, edit: ImageEdit) -> Canvas:
        return Canvas(edit.image)

    def encode_window(self, edit: ImageEdit, states: Sequence[Canvas], window: int) -> TokenProblem:
        """A first-pass window over the snapshot, shared by all variations (tokens [N]);
        a refinement tile over each variation's picture so far (tokens [B, N])."""
        tile = edit.tile(window)
        if tile is None:
            return self.codec.encode(edit.windows[window])
        codec, payload = self.codec, edit.windows[window]
        refinement = edit.refinement or DEFAULT_REFINEMENT
        editable = refine_editable(
            tile, codec.grid_shape, codec.patch, refinement.keep, refinement.frame
        )
        return TokenProblem(
            tokens=codec.encode_pixels(tile_pixels(states, tile.crop)),
            editable_mask=np.broadcast_to(editable, (len(states), editable.size)).copy(),
            grid_shape=codec.grid_shape,
            side_inputs=codec.side_inputs(payload),
            steps=refinement.steps,
        )

    def apply_window(
        self, edit: ImageEdit, states: Sequence[Canvas], window: int, tokens: TokenArray
    ) -> list[Canvas]:
        payload, feather = edit.windows[window], self.codec.feather_px
        pixels = self.codec.decode_pixels(tokens, payload)
        tile = edit.tile(window)
        if tile is not None:
            return [
                blend_tile(edit.image, s, tile, p, feather)
                for s, p in zip(states, pixels, strict=True)
            ]
        crop, snapshot = payload.crop, payload.image.rgb
        return [
            s.with_box_edit(crop.box, paste_box(snapshot, crop, p, feather), crop.fill_mask)
            for s, p in zip(states, pixels, strict=True)
        ]

    def finish(self, edit: ImageEdit, states: Sequence[Canvas]) -> list[LoadedImage]:
        """Each variation's picture, copied whole once here (not once per window)."""
        return [state.image() for state in states]


def preview_patch(
    codec: ImageCodec,
    payload: ImagePayload,
    known: TokenArray,
    tokens: TokenArray,
    still_masked: BoolArray,
    which: int = 0,
) -> PreviewPatch:
    """Decode variation ``which`` of a sampler step of window ``payload`` into its holes.

    ``known`` are the window's encoded tokens, [N] or [B, N] (the problem the
    sampler got: :attr:`engine.jobs.Progress.problem`); still-masked tokens
    show them (the pre-fill), so the picture sharpens as tokens are decided.
    The document is never touched.
    """
    known_row = known if known.ndim == 1 else known[which]
    row = np.where(still_masked[which], known_row, tokens[which])
    pixels = _decode(codec, row[None, :], payload)[0]
    crop = payload.crop
    filled = paste_window(payload.image.rgb, crop, pixels, codec.feather_px)[crop.box]
    alpha = np.where(crop.fill_mask, 255, 0).astype(np.uint8)
    rgba = np.concatenate([filled, alpha[:, :, None]], axis=2)
    return PreviewPatch(np.ascontiguousarray(rgba), crop.box[0].start, crop.box[1].start)


def _decode(codec: ImageCodec, tokens: TokenArray, payload: ImagePayload) -> UInt8Array:
    """Window pixels; the payload goes along when the codec's decoder can read known pixels."""
    if "payload" in inspect.signature(codec.decode_pixels).parameters:
        return codec.decode_pixels(tokens, payload)
    return codec.decode_pixels(tokens)  # an ImageCodec from before context-reading decoders


def heat_patch(
    codec: ImageCodec, payload: ImagePayload, confidence: FloatArray, which: int = 0
) -> HeatPatch:
    """Per-token confidence of window ``payload``: red (unsure) to green (sure); kept tokens clear.

    Tokens still masked (confidence 0) are drawn dark; tokens that lie wholly
    in the window's reflection padding are left out.
    """
    rows, cols = codec.grid_shape
    values = np.asarray(confidence[which], dtype=np.float32).reshape(rows, cols)
    rgba = _heat_colours(values)
    rgba[~_inside_content(payload, rows, cols, codec.patch)] = 0
    crop = payload.crop
    fy = crop.box_shape[0] / crop.scaled_shape[0]
    fx = crop.box_shape[1] / crop.scaled_shape[1]
    top = crop.box[0].start - crop.pad[0] * fy
    left = crop.box[1].start - crop.pad[2] * fx
    return HeatPatch(rgba, top, left, (codec.patch * fy, codec.patch * fx))


def _heat_colours(values: FloatArray) -> UInt8Array:
    editable = np.isfinite(values)
    sure = np.clip(np.where(editable, values, 0), 0, 1)
    rgba = np.zeros((*values.shape, 4), dtype=np.uint8)
    rgba[..., 0] = np.rint(255 * (1 - sure)).astype(np.uint8)
    rgba[..., 1] = np.rint(255 * sure).astype(np.uint8)
    rgba[..., 3] = np.where(editable, 150, 0).astype(np.uint8)
    rgba[editable & (values <= 0)] = (0, 0, 0, 170)  # not decided yet
    return rgba


def _inside_content(payload: ImagePayload, rows: int, cols: int, patch: int) -> BoolArray:
    """Tokens whose centre lies in the window's real pixels, not its padding."""
    top, bottom, left, right = payload.crop.pad
    height, width = rows * patch, cols * patch
    ys = (np.arange(rows) + 0.5) * patch
    xs = (np.arange(cols) + 0.5) * patch
    inside_y = (ys >= top) & (ys < height - bottom)
    inside_x = (xs >= left) & (xs < width - right)
    return np.asarray(inside_y[:, None] & inside_x[None, :])
