"""One image edit across its crop windows, and what its live preview shows — no Qt.

:class:`engine.media.image.ImageCodec` plans an edit as one window per group
of holes. The worker (and the CLI) run one window per request, so
:class:`WindowedEdit` walks the plan in order, keeps each window's K results
and merges them into K whole-image variations. Every window starts from the
same snapshot: the codec treats every masked pixel as unknown (pre-filled
before encoding), so an earlier window's fill would not be seen as context
anyway, and the K-th variation stays one coherent draw per window.

:func:`preview_patch` and :func:`heat_patch` turn a sampler step into pixels
for the canvas: the decoded window pasted into its holes, and per-token
confidence on the token grid, placed in image coordinates.
"""

from __future__ import annotations

import inspect
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

from engine.media.image import ImageCodec, ImagePayload, Strategy, paste_window
from engine.media.image_document import combine_windows, window_region
from engine.media.image_io import BoolArray, LoadedImage, UInt8Array
from engine.sampling.types import TokenArray

__all__ = ["HeatPatch", "PreviewPatch", "WindowedEdit", "heat_patch", "preview_patch"]

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


@dataclass(eq=False)
class WindowedEdit:
    """The windows of one generation, run in order; results merge into whole variations."""

    codec: ImageCodec
    image: LoadedImage
    payloads: list[ImagePayload]
    results: list[list[LoadedImage]] = field(default_factory=list)
    _known: dict[int, TokenArray] = field(default_factory=dict)

    @staticmethod
    def plan(
        codec: ImageCodec, image: LoadedImage, mask: BoolArray, strategy: Strategy = "regions"
    ) -> WindowedEdit:
        """Check the mask (``ImageError`` when empty, full or mis-sized) and plan the windows."""
        return WindowedEdit(codec, image, codec.payloads(image, mask, strategy))

    @property
    def index(self) -> int:
        """The window now being generated (0-based); equals :attr:`count` when done."""
        return len(self.results)

    @property
    def count(self) -> int:
        return len(self.payloads)

    @property
    def current(self) -> ImagePayload | None:
        return self.payloads[self.index] if self.index < self.count else None

    @property
    def done(self) -> bool:
        return self.index >= self.count

    def add_results(self, variations: list[LoadedImage]) -> None:
        """The current window's variations (from ``codec.decode``); moves to the next window."""
        if self.done:
            raise ValueError("every window of this edit already has its results")
        if not variations:
            raise ValueError("a window produced no variations")
        self.results.append(list(variations))

    def regions(self) -> list[BoolArray]:
        """Each window's own pixels in full-image coordinates (disjoint)."""
        shape = (self.image.height, self.image.width)
        return [window_region(shape, p.crop.box, p.crop.fill_mask) for p in self.payloads]

    def variations(self) -> list[LoadedImage]:
        """Whole-image variations once every window is done."""
        if not self.done:
            raise ValueError(f"window {self.index + 1} of {self.count} is still missing")
        return combine_windows(self.results, self.regions())

    def known_tokens(self) -> TokenArray:
        """The current window's encoded tokens [N] (pre-filled holes), encoded once on demand."""
        payload = self.current
        if payload is None:
            raise ValueError("the edit is done")
        if self.index not in self._known:
            self._known[self.index] = self.codec.encode(payload).tokens
        return self._known[self.index]


def preview_patch(
    edit: WindowedEdit, tokens: TokenArray, still_masked: BoolArray, which: int = 0
) -> PreviewPatch:
    """Decode variation ``which`` of a sampler step into the current window's holes.

    Still-masked tokens show the pre-fill (the encoded known tokens), so the
    picture sharpens as tokens are decided; the document is never touched.
    """
    payload = edit.current
    if payload is None:
        raise ValueError("the edit is done")
    row = np.where(still_masked[which], edit.known_tokens(), tokens[which])
    pixels = _decode(edit.codec, row[None, :], payload)[0]
    crop = payload.crop
    filled = paste_window(payload.image.rgb, crop, pixels, edit.codec.feather_px)[crop.box]
    alpha = np.where(crop.fill_mask, 255, 0).astype(np.uint8)
    rgba = np.concatenate([filled, alpha[:, :, None]], axis=2)
    return PreviewPatch(np.ascontiguousarray(rgba), crop.box[0].start, crop.box[1].start)


def _decode(codec: ImageCodec, tokens: TokenArray, payload: ImagePayload) -> UInt8Array:
    """Window pixels; the payload goes along when the codec's decoder can read known pixels."""
    if "payload" in inspect.signature(codec.decode_pixels).parameters:
        return codec.decode_pixels(tokens, payload)
    return codec.decode_pixels(tokens)  # an ImageCodec from before context-reading decoders


def heat_patch(edit: WindowedEdit, confidence: FloatArray, which: int = 0) -> HeatPatch:
    """Per-token confidence of the current window: red (unsure) to green (sure); kept tokens clear.

    Tokens still masked (confidence 0) are drawn dark; tokens that lie wholly
    in the window's reflection padding are left out.
    """
    payload = edit.current
    if payload is None:
        raise ValueError("the edit is done")
    rows, cols = edit.codec.grid_shape
    values = np.asarray(confidence[which], dtype=np.float32).reshape(rows, cols)
    rgba = _heat_colours(values)
    rgba[~_inside_content(payload, rows, cols, edit.codec.patch)] = 0
    crop = payload.crop
    fy = crop.box_shape[0] / crop.scaled_shape[0]
    fx = crop.box_shape[1] / crop.scaled_shape[1]
    top = crop.box[0].start - crop.pad[0] * fy
    left = crop.box[1].start - crop.pad[2] * fx
    return HeatPatch(rgba, top, left, (edit.codec.patch * fy, edit.codec.patch * fx))


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
