"""The image medium: pixel masks to token masks, crop strategies, pre-fill, compositing, codec.

The flow of one image edit (see DESIGN.md)::

    LoadedImage + mask --plan_crops--> CropPlan (one CropWindow per group of holes)
    per window: crop (+ downscale, + reflection pad) -> pre-fill the holes -> encoder ONNX
                -> tokens [h·w] + editable token mask  (ImageCodec.encode -> TokenProblem)
    sampler ...
    tokens [B, h·w] -> decoder ONNX -> window pixels -> unpad, upscale (Lanczos)
                -> composite into the image: only masked pixels change   (ImageCodec.decode)

Large-image strategies are a separate piece (after IOPaint): ``"regions"``
crops a window around each group of nearby holes, ``"union"`` one window
around all of them, ``"resize"`` the whole image scaled into one window. A
hole larger than the window (with its context) is worked on at reduced
resolution and its fill is upscaled; everything outside the mask stays
bit-exact whatever the strategy.

Pixel layout everywhere: uint8 RGB [H, W, 3]; the ONNX graphs see float32
NCHW RGB in ``pixel_range`` (see :class:`ImageCodec`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import numpy.typing as npt
from PIL import Image

from engine.jobs import TokenProblem, requested_side_inputs
from engine.media.image.files import BoolArray, LoadedImage, UInt8Array, extend_image, with_edit
from engine.media.image.mask import (
    Box,
    bounding_box,
    feather_weights,
    grow,
    label_regions,
    validate_mask,
)
from engine.runtime import session_for
from engine.sampling.types import TokenArray

__all__ = [
    "CropPlan",
    "CropWindow",
    "ImageCodec",
    "ImageModelFiles",
    "ImagePayload",
    "Strategy",
    "composite",
    "crop_hole_mask",
    "crop_pixels",
    "extend_canvas",
    "extend_for_outpainting",
    "paste_window",
    "plan_crops",
    "prefill",
    "token_mask",
]

FloatArray = npt.NDArray[np.float32]
Strategy = Literal["regions", "union", "resize"]
Prefill = Literal["ring_mean", "diffuse"]
Shape2 = tuple[int, int]


# --------------------------------------------------------------------------- tokens and compositing


def token_mask(pixel_mask: BoolArray, patch: int) -> BoolArray:
    """Editable tokens bool [ceil(H/p), ceil(W/p)]: editable when any of its pixels is masked."""
    height, width = pixel_mask.shape
    rows, cols = -(-height // patch), -(-width // patch)
    padded = np.zeros((rows * patch, cols * patch), dtype=np.bool_)
    padded[:height, :width] = pixel_mask
    return np.asarray(padded.reshape(rows, patch, cols, patch).any(axis=(1, 3)))


def composite(
    original: UInt8Array, filled: UInt8Array, mask: BoolArray, feather_px: int = 0
) -> UInt8Array:
    """Paste ``filled`` into ``original`` where ``mask`` is True; a new array.

    Only masked pixels are written, so every other pixel is bit-exact. The
    seam is feathered *inside* the mask: weight 1 from ``feather_px`` deep,
    ramping down toward the mask edge, where pixels are a blend of fill and
    original (see :func:`engine.media.image.mask.feather_weights`).
    """
    if original.shape != filled.shape or original.shape[:2] != mask.shape:
        raise ValueError(
            f"composite of {filled.shape} into {original.shape} with mask {mask.shape}"
        )
    weights = feather_weights(mask, feather_px)[mask][:, None]
    inside_original = original[mask].astype(np.float32)
    blended = inside_original + weights * (filled[mask].astype(np.float32) - inside_original)
    result = original.copy()
    result[mask] = np.clip(np.rint(blended), 0, 255).astype(np.uint8)
    return result


# --------------------------------------------------------------------------- pre-fill


def prefill(
    rgb: UInt8Array, hole: BoolArray, method: Prefill = "ring_mean", ring_px: int = 3
) -> UInt8Array:
    """Replace the hole's pixels before encoding, so the encoder does not see what the user erased.

    ``"ring_mean"`` paints each connected hole with the mean colour of the
    ring of known pixels around it (``ring_px`` wide); NOTES-training.md found
    this helps the transformer. ``"diffuse"`` fills smoothly from the hole's
    border (push-pull pyramid, then a few smoothing passes), which suits
    gradients such as sky. Pixels outside the hole are untouched.
    """
    if not hole.any():
        return rgb.copy()
    if method == "ring_mean":
        return _ring_mean_fill(rgb, hole, ring_px)
    if method == "diffuse":
        return _diffuse_fill(rgb, hole)
    raise ValueError(f"unknown pre-fill {method!r}; use 'ring_mean' or 'diffuse'")


def _ring_mean_fill(rgb: UInt8Array, hole: BoolArray, ring_px: int) -> UInt8Array:
    result = rgb.copy()
    labels, count = label_regions(hole)
    fallback = _fallback_colour(rgb, hole)
    for label in range(1, count + 1):
        region = labels == label
        box = bounding_box(region)
        if box is None:  # labels are 1..count, so never; keeps the types honest
            continue
        rows, cols = box
        box = (
            slice(max(rows.start - ring_px, 0), rows.stop + ring_px),
            slice(max(cols.start - ring_px, 0), cols.stop + ring_px),
        )
        ring = grow(region[box], ring_px) & ~hole[box]
        colour = rgb[box][ring].mean(axis=0) if ring.any() else fallback
        result[box][region[box]] = np.rint(colour).astype(np.uint8)
    return result


def _fallback_colour(rgb: UInt8Array, hole: BoolArray) -> FloatArray:
    """Mean of all known pixels, or mid-grey when nothing is known."""
    known = rgb[~hole]
    if known.size == 0:
        return np.full(3, 127.5, dtype=np.float32)
    return np.asarray(known.mean(axis=0), dtype=np.float32)


def _diffuse_fill(rgb: UInt8Array, hole: BoolArray, smoothing_passes: int = 8) -> UInt8Array:
    filled = _push_pull(rgb.astype(np.float32), ~hole)
    for _ in range(smoothing_passes):  # soften the pyramid's blocks inside the hole only
        padded = np.pad(filled, ((1, 1), (1, 1), (0, 0)), mode="edge")
        average = (padded[:-2, 1:-1] + padded[2:, 1:-1] + padded[1:-1, :-2] + padded[1:-1, 2:]) / 4
        filled[hole] = average[hole]
    result = rgb.copy()
    result[hole] = np.clip(np.rint(filled[hole]), 0, 255).astype(np.uint8)
    return result


def _push_pull(values: FloatArray, known: BoolArray) -> FloatArray:
    """Fill unknown pixels from a pyramid of known-weighted averages (push-pull)."""
    if known.all() or not known.any():
        return values if known.any() else np.full_like(values, 127.5)
    height, width = known.shape
    even_h, even_w = height + height % 2, width + width % 2
    weights = np.zeros((even_h, even_w), dtype=np.float32)
    weights[:height, :width] = known
    sums = np.zeros((even_h, even_w, values.shape[2]), dtype=np.float32)
    sums[:height, :width] = values * known[:, :, None]
    coarse_w = weights.reshape(even_h // 2, 2, even_w // 2, 2).sum(axis=(1, 3))
    coarse_sum = sums.reshape(even_h // 2, 2, even_w // 2, 2, -1).sum(axis=(1, 3))
    coarse = coarse_sum / np.maximum(coarse_w, 1e-6)[:, :, None]
    coarse = _push_pull(coarse.astype(np.float32), coarse_w > 0)
    upsampled = coarse.repeat(2, axis=0).repeat(2, axis=1)[:height, :width]
    return np.where(known[:, :, None], values, upsampled).astype(np.float32)


# --------------------------------------------------------------------------- crop plans


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
    labels, count = label_regions(mask)
    shape: Shape2 = (int(mask.shape[0]), int(mask.shape[1]))
    windows = []
    for members, bounds in _group_regions(labels, count, window, context):
        region = (slice(bounds[0], bounds[1]), slice(bounds[2], bounds[3]))
        box, scale = _window_box(shape, region, window, context)
        windows.append(_make_window(mask, np.isin(labels[box], members), box, scale, window))
    return tuple(windows)


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


# --------------------------------------------------------------------------- window pixels


def _resize(array: npt.NDArray[Any], shape: Shape2, resample: Image.Resampling) -> npt.NDArray[Any]:
    """Resize uint8 [H, W, 3] or float32 [H, W] to (height, width) with Pillow."""
    if array.shape[:2] == shape:
        return array.copy()
    mode = "RGB" if array.ndim == 3 else "F"
    resized = Image.fromarray(array, mode).resize((shape[1], shape[0]), resample)
    return np.asarray(resized)


def _pad(array: npt.NDArray[Any], pad: tuple[int, int, int, int]) -> npt.NDArray[Any]:
    """Reflection padding (numpy repeats the reflection for pads larger than the array)."""
    widths = [(pad[0], pad[1]), (pad[2], pad[3])] + [(0, 0)] * (array.ndim - 2)
    if array.shape[0] == 1 or array.shape[1] == 1:  # nothing to reflect along a one-pixel side
        return np.pad(array, widths, mode="edge")
    return np.pad(array, widths, mode="reflect")


def crop_pixels(rgb: UInt8Array, crop: CropWindow) -> UInt8Array:
    """The window's pixels uint8 [window_h, window_w, 3]: crop, downscale (Lanczos), reflect-pad."""
    scaled = _resize(rgb[crop.box], crop.scaled_shape, Image.Resampling.LANCZOS)
    return np.ascontiguousarray(_pad(scaled, crop.pad))


def crop_hole_mask(crop: CropWindow) -> BoolArray:
    """Holes in window pixels bool [window_h, window_w]: any covered source pixel counts.

    Reflected padding reflects the holes too, so the model never conditions
    on mirrored pixels the user wanted gone.
    """
    coverage = _resize(crop.hole_mask.astype(np.float32), crop.scaled_shape, Image.Resampling.BOX)
    return np.asarray(_pad(coverage > 0, crop.pad))


def paste_window(
    original: UInt8Array, crop: CropWindow, window_pixels: UInt8Array, feather_px: int = 0
) -> UInt8Array:
    """Composite a generated window back into the full image; only ``crop.fill_mask`` pixels change.

    The padding is cut off, the rest is upscaled with Lanczos to the source
    box when the window worked at reduced resolution, and pasted with a seam
    feathered inside the mask.
    """
    top, bottom, left, right = crop.pad
    height, width = window_pixels.shape[:2]
    content = window_pixels[top : height - bottom, left : width - right]
    content = _resize(np.ascontiguousarray(content), crop.box_shape, Image.Resampling.LANCZOS)
    result = original.copy()
    result[crop.box] = composite(original[crop.box], content, crop.fill_mask, feather_px)
    return result


# --------------------------------------------------------------------------- outpainting


def extend_canvas(
    rgb: UInt8Array, left: int, top: int, right: int, bottom: int
) -> tuple[UInt8Array, BoolArray]:
    """Outpainting: a larger canvas (edge-replicated pre-fill) and its mask (True = new area)."""
    if min(left, top, right, bottom) < 0:
        raise ValueError("outpainting margins must be >= 0")
    canvas = np.pad(rgb, ((top, bottom), (left, right), (0, 0)), mode="edge")
    mask = np.ones(canvas.shape[:2], dtype=np.bool_)
    mask[top : top + rgb.shape[0], left : left + rgb.shape[1]] = False
    return canvas, mask


def extend_for_outpainting(
    image: LoadedImage, left: int, top: int, right: int, bottom: int
) -> tuple[LoadedImage, BoolArray]:
    """:func:`extend_canvas` for a whole document (alpha and 16-bit samples included)."""
    mask = np.ones((image.height + top + bottom, image.width + left + right), dtype=np.bool_)
    mask[top : top + image.height, left : left + image.width] = False
    return extend_image(image, left, top, right, bottom), mask


# --------------------------------------------------------------------------- codec


class ImageModelFiles(Protocol):
    """What the codec needs from a model manifest (``engine.models.ModelManifest`` fits)."""

    @property
    def medium_facts(self) -> Mapping[str, Any]: ...

    @property
    def side_inputs(self) -> tuple[str, ...]: ...  # ("context", "hole"): reads known pixels

    def path(self, role: str) -> Path: ...


@dataclass(frozen=True, eq=False)
class ImagePayload:
    """One window of one edit: the image snapshot and the window to regenerate."""

    image: LoadedImage
    crop: CropWindow


SessionFactory = Callable[[Path], Any]
"""Builds (or returns a cached) onnxruntime session for a file; ``engine.runtime.session_for``."""


class ImageCodec:
    """:class:`engine.jobs.MediumCodec` for a VQ tokenizer + masked transformer over a pixel window.

    Manifest contract: ``files`` has ``encoder`` and ``decoder`` (besides the
    transformer); ``medium_facts`` has ``patch_size`` (pixels per token side,
    e.g. 8) and ``window`` (pixels, an int or [height, width], a multiple of
    the patch size), optionally ``pixel_range`` (default [-1, 1]).
    The encoder maps float32 RGB NCHW [B, 3, H, W] in ``pixel_range`` to
    int64 tokens [B, h, w] or [B, h·w]; the decoder maps int64 tokens (rank
    2 or 3, read from the graph) to float32 [B, 3, H, W]. Each graph's first
    input and first output are used.

    A decoder may also read the known pixels (PUT-style: it keeps the
    unmasked region and only has to invent the hole): then it has two more
    inputs, ``context`` float32 [B, 3, H, W] (the window as the encoder saw
    it, holes pre-filled; the graph must not trust pixels under the hole) and
    ``hole`` float32 [B, 1, H, W] (1 = pixel to fill). Such a decoder needs
    the payload, so previews call ``decode_pixels(tokens, payload)``.
    """

    def __init__(
        self,
        model: ImageModelFiles,
        *,
        feather_px: int = 2,
        prefill: Prefill = "ring_mean",
        session_factory: SessionFactory = session_for,
    ) -> None:
        facts = model.medium_facts
        self.patch = int(facts["patch_size"])
        raw_window = facts["window"]
        self.window: Shape2 = (
            (int(raw_window), int(raw_window))
            if isinstance(raw_window, int)
            else (int(raw_window[0]), int(raw_window[1]))
        )
        if self.window[0] % self.patch or self.window[1] % self.patch:
            raise ValueError(f"window {self.window} is not a multiple of patch size {self.patch}")
        low, high = facts.get("pixel_range", (-1.0, 1.0))
        self.pixel_range = (float(low), float(high))
        self.feather_px = feather_px
        self.prefill_method: Prefill = prefill
        self._model = model
        self._session_factory = session_factory
        declared = getattr(model, "shape", None)  # ModelManifest's token grid, when there is one
        if declared is not None and tuple(declared) != self.grid_shape:
            raise ValueError(
                f"window {self.window} / patch {self.patch} gives a {self.grid_shape} token grid "
                f"but the model's tokens.shape is {tuple(declared)}"
            )

    @property
    def grid_shape(self) -> Shape2:
        """Token grid (rows, cols) of one window."""
        return self.window[0] // self.patch, self.window[1] // self.patch

    # -- planning ----------------------------------------------------------------

    def payloads(
        self, image: LoadedImage, mask: BoolArray, strategy: Strategy = "regions"
    ) -> list[ImagePayload]:
        """Check the mask and plan the windows of one edit, one payload per window.

        All payloads hold ``image``. With several windows, run them in order
        and, where windows overlap, rebuild the next one as
        ``ImagePayload(accepted_result, payload.crop)`` so it sees earlier fills.
        """
        validate_mask(mask, (image.height, image.width))
        plan = plan_crops(mask, self.window, strategy=strategy)
        return [ImagePayload(image, crop) for crop in plan.windows]

    # -- MediumCodec -----------------------------------------------------------------

    def encode(self, payload: ImagePayload) -> TokenProblem:
        """Crop, pre-fill the holes, run the encoder; editable = tokens touching a hole.

        A transformer that reads the known pixels gets the decoder's ``context`` and
        ``hole`` of the window as side inputs.
        """
        pixels, hole = self.window_inputs(payload)
        tokens = self._encode_pixels(pixels[None])[0]
        editable = token_mask(hole, self.patch).reshape(-1)
        return TokenProblem(
            tokens=tokens,
            editable_mask=editable,
            grid_shape=self.grid_shape,
            side_inputs=requested_side_inputs(
                self._model.side_inputs, self._known_pixels(pixels, hole)
            ),
        )

    def _known_pixels(self, pixels: UInt8Array, hole: BoolArray) -> dict[str, FloatArray]:
        """The window as the decoder (and a transformer that reads pixels) takes it:
        ``context`` float32 [3, h, w] in the model's range and ``hole`` float32 [1, h, w]."""
        context = self._to_model_range(pixels[None])[0]
        return {"context": context, "hole": hole[None].astype(np.float32)}

    def decode(self, payload: ImagePayload, tokens: TokenArray) -> list[LoadedImage]:
        """Decode tokens [B, N] into B images; outside the window's fill mask they are bit-exact."""
        windows = self.decode_pixels(tokens, payload)
        region = np.zeros((payload.image.height, payload.image.width), dtype=np.bool_)
        region[payload.crop.box] = payload.crop.fill_mask
        results = []
        for window_pixels in windows:
            rgb = paste_window(payload.image.rgb, payload.crop, window_pixels, self.feather_px)
            results.append(with_edit(payload.image, rgb, region))
        return results

    def window_inputs(self, payload: ImagePayload) -> tuple[UInt8Array, BoolArray]:
        """The window as the model sees it: pre-filled pixels uint8 [h, w, 3], holes [h, w]."""
        hole = crop_hole_mask(payload.crop)
        pixels = prefill(crop_pixels(payload.image.rgb, payload.crop), hole, self.prefill_method)
        return pixels, hole

    def decode_pixels(self, tokens: TokenArray, payload: ImagePayload | None = None) -> UInt8Array:
        """Window pixels uint8 [B, window_h, window_w, 3] for tokens [B, N] (live previews too).

        ``payload`` is required when the decoder reads the known pixels
        (``context`` and ``hole`` inputs) and ignored otherwise.
        """
        token_grid = np.asarray(tokens, dtype=np.int64)
        session = self._session("decoder")
        inputs = session.get_inputs()
        rank = len(inputs[0].shape)
        feed: dict[str, npt.NDArray[Any]] = {
            inputs[0].name: token_grid.reshape(len(token_grid), *self.grid_shape)
            if rank == 3
            else token_grid
        }
        extra = {node.name for node in inputs[1:]}
        if extra:
            feed.update(self._context_feed(extra, payload, len(token_grid)))
        (raw,) = session.run([session.get_outputs()[0].name], feed)
        return self._from_model_range(np.asarray(raw, dtype=np.float32))

    def _context_feed(
        self, names: set[str], payload: ImagePayload | None, batch: int
    ) -> dict[str, FloatArray]:
        if names != {"context", "hole"}:
            raise ValueError(
                f"decoder inputs {sorted(names)} beyond the tokens; expected 'context' and 'hole'"
            )
        if payload is None:
            raise ValueError("this model's decoder reads the known pixels: pass the payload")
        known = self._known_pixels(*self.window_inputs(payload))
        return {name: np.repeat(plane[None], batch, axis=0) for name, plane in known.items()}

    # -- ONNX ---------------------------------------------------------------------------

    def _session(self, role: str) -> Any:
        return self._session_factory(self._model.path(role))

    def _encode_pixels(self, pixels: UInt8Array) -> TokenArray:
        """uint8 [B, H, W, 3] → int64 tokens [B, h·w]."""
        session = self._session("encoder")
        feed = self._to_model_range(pixels)
        (raw,) = session.run([session.get_outputs()[0].name], {session.get_inputs()[0].name: feed})
        tokens = np.asarray(raw).astype(np.int64).reshape(len(pixels), -1)
        expected = self.grid_shape[0] * self.grid_shape[1]
        if tokens.shape[1] != expected:
            raise ValueError(
                f"encoder gave {tokens.shape[1]} tokens per window, expected {expected}"
            )
        return tokens

    def _to_model_range(self, pixels: UInt8Array) -> FloatArray:
        low, high = self.pixel_range
        unit = pixels.astype(np.float32).transpose(0, 3, 1, 2) / np.float32(255)
        return np.ascontiguousarray(unit * np.float32(high - low) + np.float32(low))

    def _from_model_range(self, raw: FloatArray) -> UInt8Array:
        low, high = self.pixel_range
        unit = (raw - np.float32(low)) / np.float32(high - low)
        pixels = np.clip(np.rint(unit * 255), 0, 255).astype(np.uint8)
        return np.ascontiguousarray(pixels.transpose(0, 2, 3, 1))
