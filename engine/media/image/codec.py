"""The image codec: a model window's pixels to tokens and back, for one image edit.

The flow of one image edit (see DESIGN.md)::

    LoadedImage + mask --plan_crops--> CropPlan (one CropWindow per group of holes)
    per window: crop (+ mask-aware downscale, + reflection pad) -> pre-fill the holes -> encoder
                -> tokens [h·w] + editable token mask  (ImageCodec.encode -> TokenProblem)
    sampler ...
    tokens [B, h·w] -> decoder ONNX -> window pixels -> unpad, upscale (Lanczos)
                -> composite into the image: only masked pixels change   (ImageCodec.decode)

Nothing under the mask reaches the output: the window is cut from the known pixels
only and its holes pre-filled from them, and the seam is blended from the fill and the
known pixels only (``engine.media.image.seams``), so painting the hole over before an
edit changes no output pixel at the same seed.

Crop planning and pasting are in ``engine.media.image.crops``, the pre-fill in
``engine.media.image.prefill``. Pixel layout everywhere: uint8 RGB [H, W, 3]; the
ONNX graphs see float32 NCHW RGB in ``pixel_range`` (see :class:`ImageCodec`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol
from weakref import WeakKeyDictionary

import numpy as np
import numpy.typing as npt

from engine.jobs import TokenProblem, requested_side_inputs
from engine.media.image.crops import (
    CropWindow,
    Shape2,
    Strategy,
    crop_hole_mask,
    crop_pixels,
    paste_box,
    plan_crops,
)
from engine.media.image.detail import transfer_detail
from engine.media.image.files import BoolArray, LoadedImage, UInt8Array, with_box_edit
from engine.media.image.mask import validate_mask
from engine.media.image.prefill import Prefill, prefill
from engine.runtime import session_for
from engine.sampling.types import SideInputs, TokenArray

__all__ = ["ImageCodec", "ImageModelFiles", "ImagePayload", "token_mask"]

FloatArray = npt.NDArray[np.float32]
DEFAULT_FEATHER_PX = 64
"""Seam correction depth (pixels) when the caller names none: a full blend for most holes."""
DEFAULT_DETAIL_SIGMA = 2.0
"""Detail finer than this (pixels, Gaussian sigma) comes from the context-free decode."""
DEFAULT_DETAIL_RAMP = 4
"""Depth (pixels) over which the detail fades in from the hole's edge: on 12 held-out
3-px scratches (white paint) 0 px gave 19.18 dB, below Telea's 19.20; 4 px 19.39 dB
(brush strokes 18.33 vs 18.27 dB)."""


def token_mask(pixel_mask: BoolArray, patch: int) -> BoolArray:
    """Editable tokens bool [ceil(H/p), ceil(W/p)]: editable when any of its pixels is masked."""
    height, width = pixel_mask.shape
    rows, cols = -(-height // patch), -(-width // patch)
    padded = np.zeros((rows * patch, cols * patch), dtype=np.bool_)
    padded[:height, :width] = pixel_mask
    return np.asarray(padded.reshape(rows, patch, cols, patch).any(axis=(1, 3)))


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

    ``feather_px`` is how deep inside the mask the fill is corrected to meet the
    known pixels (:mod:`engine.media.image.seams`); the default reaches the middle
    of any hole a native window holds, a full Poisson blend, which scored best on
    every mask kind of ``remask-train image-eval`` (see the image model card).
    With such a decoder, ``detail_sigma`` > 0 adds the detail of a context-free
    decode of the same tokens to the hole (``detail_gain`` times), since the guided
    decode alone is smooth and nearly the same for every variation
    (:mod:`engine.media.image.detail`); 0 turns it off.
    """

    def __init__(
        self,
        model: ImageModelFiles,
        *,
        feather_px: int = DEFAULT_FEATHER_PX,
        prefill: Prefill = "ring_mean",
        detail_sigma: float = DEFAULT_DETAIL_SIGMA,
        detail_gain: float = 1.0,
        detail_ramp: int = DEFAULT_DETAIL_RAMP,
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
        self.detail_sigma = detail_sigma
        self.detail_gain = detail_gain
        self.detail_ramp = detail_ramp
        self._model = model
        self._session_factory = session_factory
        self._window_inputs: WeakKeyDictionary[ImagePayload, tuple[UInt8Array, BoolArray]] = (
            WeakKeyDictionary()
        )
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
        tokens = self.encode_pixels(pixels[None])[0]
        editable = token_mask(hole, self.patch).reshape(-1)
        return TokenProblem(
            tokens=tokens,
            editable_mask=editable,
            grid_shape=self.grid_shape,
            side_inputs=self.side_inputs(payload, (pixels, hole)),
        )

    def side_inputs(
        self, payload: ImagePayload, inputs: tuple[UInt8Array, BoolArray] | None = None
    ) -> SideInputs | None:
        """What the transformer reads beside the tokens (``context``, ``hole``), if anything.

        ``inputs`` is :meth:`window_inputs` of ``payload`` when the caller has it.
        """
        pixels, hole = self.window_inputs(payload) if inputs is None else inputs
        available = self._known_pixels(pixels, hole)
        return requested_side_inputs(self._model.side_inputs, available)

    def _known_pixels(self, pixels: UInt8Array, hole: BoolArray) -> dict[str, FloatArray]:
        """The window as the decoder (and a transformer that reads pixels) takes it:
        ``context`` float32 [3, h, w] in the model's range and ``hole`` float32 [1, h, w]."""
        context = self._to_model_range(pixels[None])[0]
        return {"context": context, "hole": hole[None].astype(np.float32)}

    def decode(self, payload: ImagePayload, tokens: TokenArray) -> list[LoadedImage]:
        """Decode tokens [B, N] into B images; outside the window's fill mask they are bit-exact."""
        windows = self.decode_pixels(tokens, payload)
        image, crop = payload.image, payload.crop
        return [
            with_box_edit(
                image, crop.box, paste_box(image.rgb, crop, pixels, self.feather_px), crop.fill_mask
            )
            for pixels in windows
        ]

    def window_inputs(self, payload: ImagePayload) -> tuple[UInt8Array, BoolArray]:
        """The window as the model sees it: pre-filled pixels uint8 [h, w, 3], holes [h, w].

        Read-only and kept per payload: the encoder, the transformer's side inputs, the
        decoder and every live preview of a window read the same ones.
        """
        cached = self._window_inputs.get(payload)
        if cached is not None:
            return cached
        hole = crop_hole_mask(payload.crop)
        pixels = prefill(crop_pixels(payload.image.rgb, payload.crop), hole, self.prefill_method)
        pixels.flags.writeable = False
        hole.flags.writeable = False
        self._window_inputs[payload] = (pixels, hole)
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
        if not extra:
            return self._run_decoder(session, feed)
        context = self._context_feed(extra, payload, len(token_grid))
        if self.detail_sigma <= 0:
            return self._run_decoder(session, {**feed, **context})
        return self._decode_with_detail(session, feed, context)

    def _decode_with_detail(
        self, session: Any, feed: dict[str, npt.NDArray[Any]], context: dict[str, FloatArray]
    ) -> UInt8Array:
        """The guided decode with the context-free decode's detail in the hole
        (:mod:`engine.media.image.detail`); both in one decoder call of 2B rows."""
        hole = context["hole"]
        doubled = {name: np.concatenate([array, array]) for name, array in feed.items()}
        doubled["context"] = np.concatenate([context["context"], context["context"]])
        doubled["hole"] = np.concatenate([hole, np.ones_like(hole)])
        pixels = self._run_decoder(session, doubled)
        guided, free = pixels[: len(hole)], pixels[len(hole) :]
        return transfer_detail(
            guided, free, hole[0, 0] > 0.5, self.detail_sigma, self.detail_gain, self.detail_ramp
        )

    def _run_decoder(self, session: Any, feed: dict[str, npt.NDArray[Any]]) -> UInt8Array:
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

    def encode_pixels(self, pixels: UInt8Array) -> TokenArray:
        """Window pixels uint8 [B, window_h, window_w, 3] → int64 tokens [B, h·w]."""
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
