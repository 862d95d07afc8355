"""The motion codec: in-between a frame range (of one body part) with the masked motion model.

Flow of one edit (see DESIGN.md)::

    MotionPayload(clip, first, last, part)
      -> pre-fill the range by linear + SLERP interpolation (the encoder must not see the
         frames the user wants replaced), take a window of the model's length around the
         range (edge-hold padding for short clips), features [W, 132] in cm
      -> encoder ONNX -> tokens [2, L] (row 0 lower body, row 1 upper body)
      -> editable = tokens overlapping the range, in the edited part's rows  (encode)
    sampler ...
    tokens [B, 2L] -> decoder ONNX (also reads the kept frames) -> features of the range
      -> root trajectory corrected so it lands on the kept frame after the range
      -> features_to_clip -> composite: frames outside the range bit-exact, the other
         part's joints untouched -> fill repair (engine.media.motion.fill_repair: smoothed,
         C1 joins to the kept frames, interpolated in a still context, feet pinned)  (decode)

``generate_clip`` makes a new clip from nothing (every token masked, windows chained
with half overlap); ``preview`` decodes a sampler Step whose tokens are still partly masked.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from engine.jobs import ConditionalLogits, TokenProblem, requested_side_inputs
from engine.media.motion.clip import Clip, MotionError, rig_from_record
from engine.media.motion.editing import composite, interpolate_range
from engine.media.motion.features import FEATURE_SIZE, MotionFeatures, features_to_clip
from engine.media.motion.fill_repair import RepairSettings, repair_fill
from engine.media.motion.kinematics import guess_cm_per_unit
from engine.media.motion.model_features import (
    HEIGHT_COLUMN,
    ROOT_VELOCITY_COLUMNS,
    UNIT_COLUMNS,
    ModelReading,
    land_root,
    pad_edge_hold,
    part_columns,
    read_for_model,
    resample_features,
    usable_rotations,
)
from engine.media.motion.retarget import RigFit, fit_rig, mean_pose_from_record
from engine.media.motion.rig_alignment import ModelRig
from engine.media.motion.skeleton import PARTS, SkeletonError, SkeletonMap, map_skeleton
from engine.runtime import session_for
from engine.sampling.types import SamplerSettings, SideInputs, TokenArray

__all__ = ["MotionCodec", "MotionModelFiles", "MotionPayload", "MIN_CLIP_FRAMES"]

FloatArray = npt.NDArray[np.float32]
MIN_CLIP_FRAMES = 8
"""Shortest clip the codec accepts (two tokens of context)."""
_MIN_FPS, _MAX_FPS = 10.0, 240.0
DEFAULT_REPAIR = RepairSettings()
"""How a decoded fill is repaired before compositing (``engine.media.motion.fill_repair``);
``repair=None`` composites the raw decoder output with ``blend_frames`` of C0 easing."""


class MotionModelFiles(Protocol):
    """What the codec needs of a model (``engine.models.ModelManifest`` is one)."""

    medium_facts: Mapping[str, Any]
    mask_id: int
    side_inputs: tuple[str, ...]  # ("context", "known") when the transformer reads kept frames

    def path(self, role: str) -> Path: ...


SessionFactory = Callable[[Path], Any]


@dataclass(frozen=True)
class MotionPayload:
    """One in-between request: regenerate frames ``first..last`` (inclusive) of ``part``.

    ``part`` is ``"full"``, ``"upper"`` or ``"lower"`` (see ``engine.media.motion.skeleton``).
    """

    clip: Clip
    first: int
    last: int
    part: str = "full"
    skeleton_map: SkeletonMap | None = field(default=None, compare=False)


@dataclass(frozen=True)
class _Window:
    """A payload prepared for the model: everything encode, decode and preview share."""

    smap: SkeletonMap
    start: int  # first clip frame of the window
    frames: int  # real clip frames in the window (<= model window; the rest is padding)
    prefilled: Clip  # the clip with the range interpolated
    sub_clip: Clip  # the pre-filled clip's window frames
    reading: ModelReading  # sub_clip as the model reads it (its features: frame 0 still)
    model_features: FloatArray  # [W, 132] float32 in cm, padded
    known: FloatArray  # [W, 2] float32
    tokens: TokenArray  # [2L] int64 of the pre-filled window
    editable: npt.NDArray[np.bool_]  # [2L]


class MotionCodec:
    """:class:`engine.jobs.MediumCodec` for the two-stream motion model (``motion-mmm``).

    Manifest contract: ``files`` has ``encoder``, ``decoder`` and optionally ``skeleton``
    (the rig of generated clips); ``medium_facts`` has ``fps``, ``frames_per_token`` and
    ``window_frames``. Graph I/O is described in ``engine/train/motion/export.py``.
    """

    def __init__(
        self,
        model: MotionModelFiles,
        *,
        blend_frames: int = 4,
        repair: RepairSettings | None = DEFAULT_REPAIR,
        session_factory: SessionFactory = session_for,
    ) -> None:
        facts = model.medium_facts
        self.fps = float(facts["fps"])
        self.frames_per_token = int(facts["frames_per_token"])
        self.window = int(facts["window_frames"])
        if self.window % self.frames_per_token:
            raise ValueError(f"window {self.window} is not a multiple of {self.frames_per_token}")
        self.mask_id = int(model.mask_id)
        self.blend_frames = blend_frames
        self.repair = repair
        self._model = model
        self._session_factory = session_factory
        self._cache: tuple[MotionPayload, _Window] | None = None
        self._last_fit: tuple[Clip, RigFit | None] | None = None

    @property
    def tokens_per_row(self) -> int:
        return self.window // self.frames_per_token

    @property
    def grid_shape(self) -> tuple[int, int]:
        return 2, self.tokens_per_row

    @property
    def max_range_frames(self) -> int:
        """The longest range one edit can regenerate (the window less two tokens of context)."""
        return self.window - 2 * self.frames_per_token

    # -- MediumCodec -------------------------------------------------------------

    def encode(self, payload: MotionPayload) -> TokenProblem:
        """Pre-fill, window, encode; editable = the part's tokens overlapping the range.

        A transformer that reads the kept frames gets the decoder's ``context`` and
        ``known`` of the window as side inputs.
        """
        window = self._prepare(payload)
        return TokenProblem(
            window.tokens.copy(),
            window.editable.copy(),
            self.grid_shape,
            side_inputs=self._side_inputs(window.model_features, window.known),
        )

    def _side_inputs(self, context: FloatArray, known: FloatArray) -> SideInputs | None:
        """What the transformer reads of a window's kept frames (the decoder's inputs)."""
        return requested_side_inputs(self._model.side_inputs, {"context": context, "known": known})

    def decode(self, payload: MotionPayload, tokens: TokenArray) -> list[Clip]:
        """Clips for final tokens [B, 2L] (or [2L]): the range regenerated, the rest bit-exact."""
        window = self._prepare(payload)
        batch = np.atleast_2d(np.asarray(tokens, dtype=np.int64))
        if batch.shape[1] != 2 * self.tokens_per_row:
            raise MotionError(
                f"tokens have {batch.shape[1]} positions; the model has {2 * self.tokens_per_row}"
            )
        if (batch < 0).any() or (batch >= self.mask_id).any():
            raise MotionError("tokens must be decided codes; use preview() for a partial step")
        decoded = self._decode_features(batch, window.model_features, window.known)
        return [self._composite(payload, window, features) for features in decoded]

    def preview(self, payload: MotionPayload, tokens: TokenArray) -> list[Clip]:
        """Decode a sampler Step's tokens [B, 2L]: still-masked ones show the pre-fill's tokens."""
        window = self._prepare(payload)
        batch = np.atleast_2d(np.asarray(tokens, dtype=np.int64)).copy()
        masked = (batch < 0) | (batch >= self.mask_id)
        batch[masked] = np.broadcast_to(window.tokens, batch.shape)[masked]
        return self.decode(payload, batch)

    # -- new clip ----------------------------------------------------------------------

    def generate_clip(
        self,
        n_frames: int,
        model: ConditionalLogits,
        settings: SamplerSettings,
        template: Clip | None = None,
    ) -> list[Clip]:
        """``settings.variations`` new clips of ``n_frames`` frames, everything generated.

        Windows of the model's length are chained with half overlap (the second half of one
        is the kept first half of the next; a transformer that reads kept frames sees that
        half through its tokens only). ``template`` gives the rig (default: the model's own
        skeleton file); the clip starts at the origin facing +Z.
        """
        from engine.sampling import sample

        if n_frames < MIN_CLIP_FRAMES:
            raise MotionError(f"a new clip needs at least {MIN_CLIP_FRAMES} frames, got {n_frames}")
        nothing_kept = np.zeros((self.window, 2), dtype=np.float32)
        empty_window = np.zeros((self.window, FEATURE_SIZE), dtype=np.float32)
        logits_fn = model.logits_fn(None, self._side_inputs(empty_window, nothing_kept))
        length = self.tokens_per_row
        total = max(math.ceil(n_frames / self.frames_per_token), length)
        rows = np.full((settings.variations, 2, total), self.mask_id, dtype=np.int64)
        for start in _chain_starts(total, length):
            window = rows[:, :, start : start + length].reshape(settings.variations, -1)
            editable = window == self.mask_id
            known = np.where(editable, 0, window)
            final = window
            for step in sample(
                logits_fn,
                known,
                editable,
                self.mask_id,
                replace(settings, seed=settings.seed + start),
                self.grid_shape,
            ):
                final = step.tokens
            rows[:, :, start : start + length] = final.reshape(settings.variations, 2, length)
        frames = total * self.frames_per_token
        empty = np.zeros((settings.variations, frames, FEATURE_SIZE), dtype=np.float32)
        nothing = np.zeros((settings.variations, frames, 2), dtype=np.float32)
        decoded = self._run("decoder", {"tokens": rows, "context": empty, "known": nothing})
        rig = template if template is not None else self.skeleton_template()
        return [self._new_clip(rig, features[:n_frames]) for features in decoded]

    def skeleton_template(self) -> Clip:
        """A one-frame clip of the model's rig (``files.skeleton``) in its rest pose: rotations
        zero, position channels at the joints' offsets (a position channel *replaces* its
        offset, so zeros there would fold every 6-channel Bandai joint onto its parent)."""
        rig = rig_from_record(self._skeleton_record(), 1.0 / self.fps)
        row = rig.motion[0].copy()
        for index, joint in enumerate(rig.joints):
            columns = rig.channel_columns(index, "position")
            row[columns] = [joint.offset["XYZ".index(axis)] for axis in joint.position_axes]
        return rig.with_motion(row[None, :])

    def _skeleton_record(self) -> dict[str, Any]:
        record: dict[str, Any] = json.loads(self._model.path("skeleton").read_text())
        return record

    @functools.cached_property
    def model_rig(self) -> ModelRig | None:
        """The model rig and its training mean pose, or None for a model shipped without one
        (clips are then fed in their own joint frames, as the model saw its own rig)."""
        try:
            record = self._skeleton_record()
        except (KeyError, OSError):
            return None
        if "mean_pose" not in record or "foot_floor_cm" not in record:
            return None
        return ModelRig.from_rig(
            rig_from_record(record, 1.0 / self.fps),
            mean_pose_from_record(record["mean_pose"]),
            float(record["foot_floor_cm"]),
        )

    def rig_fit(self, clip: Clip, smap: SkeletonMap) -> RigFit | None:
        """How ``clip``'s rig is read as the model's (``engine.media.motion.retarget``).

        Kept for the last clip object: every Generate on an unchanged document asks again,
        and on a 100-joint rig the fit costs more than the rest of the encoding.
        """
        if self.model_rig is None:
            return None
        if self._last_fit is None or self._last_fit[0] is not clip:
            self._last_fit = (clip, fit_rig(clip, smap, self.model_rig))
        return self._last_fit[1]

    def _new_clip(self, rig: Clip, features: FloatArray) -> Clip:
        smap = map_skeleton(rig)
        scale = guess_cm_per_unit(rig, smap)
        array = features.astype(np.float64)
        array[:, UNIT_COLUMNS] /= scale
        array[0, ROOT_VELOCITY_COLUMNS] = 0.0
        array = usable_rotations(array)
        motion_features = MotionFeatures.from_array(array, np.zeros(2), 0.0)
        template = Clip(rig.joints, 1.0 / self.fps, rig.motion[:1], rig.decimals)
        return features_to_clip(motion_features, template, smap)

    # -- preparation -----------------------------------------------------------------

    def _prepare(self, payload: MotionPayload) -> _Window:
        if self._cache is not None and self._cache[0] is payload:
            return self._cache[1]
        window = self._build_window(payload)
        self._cache = (payload, window)
        return window

    def _check(self, payload: MotionPayload) -> SkeletonMap:
        clip = payload.clip
        if payload.part not in PARTS:
            raise MotionError(
                f"unknown body part {payload.part!r}; expected one of {', '.join(PARTS)}"
            )
        if clip.n_frames < MIN_CLIP_FRAMES:
            raise MotionError(
                f"the clip has {clip.n_frames} frames; "
                f"the motion model needs at least {MIN_CLIP_FRAMES}"
            )
        if payload.first > payload.last:
            raise MotionError(
                f"empty range: first frame {payload.first} is after last frame {payload.last}"
            )
        if payload.first < 0 or payload.last >= clip.n_frames:
            raise MotionError(
                f"range {payload.first}..{payload.last} lies outside "
                f"the clip's frames 0..{clip.n_frames - 1}"
            )
        if not _MIN_FPS <= clip.fps <= _MAX_FPS:
            raise MotionError(
                f"the clip runs at {clip.fps:.3g} fps; the motion codec handles "
                f"{_MIN_FPS:g} to {_MAX_FPS:g} fps"
            )
        count = payload.last - payload.first + 1
        most = int(math.floor(self.max_range_frames * self._ratio(clip)))
        if count > most and count < clip.n_frames:
            raise MotionError(
                f"the range has {count} frames; one edit regenerates at most {most} "
                f"at {clip.fps:.3g} fps (split the range into shorter edits)"
            )
        try:
            return payload.skeleton_map or map_skeleton(clip)
        except SkeletonError as exc:
            raise MotionError(str(exc)) from None

    def _ratio(self, clip: Clip) -> float:
        """Clip frames per model frame (1.0 for a 30 fps clip, 2.0 for 60 fps)."""
        return clip.fps / self.fps

    def _build_window(self, payload: MotionPayload) -> _Window:
        smap = self._check(payload)
        clip, ratio = payload.clip, self._ratio(payload.clip)
        cm = guess_cm_per_unit(clip, smap)
        prefilled = _prefill(payload, smap)
        span = int(math.floor(self.window * ratio))  # clip frames one model window covers
        start = _window_start(payload.first, payload.last, clip.n_frames, span)
        stop = min(start + span, clip.n_frames)
        sub_clip = prefilled.with_motion(prefilled.motion[start:stop])
        fit = self.rig_fit(clip, smap)
        reading = read_for_model(sub_clip, smap, fit, self.fps, cm)
        padded = pad_edge_hold(reading.model_rate.astype(np.float32), self.window)[: self.window]
        # a model frame is edited when it lies strictly between the kept neighbours of the range
        times = np.round(np.arange(self.window) * ratio, 3)  # 59.9988 fps is 60
        inside = (times > payload.first - start - 1) & (times < payload.last - start + 1)
        known = np.ones((self.window, 2), dtype=np.float32)
        rows = _part_rows(payload.part)
        known[np.ix_(inside, np.array(rows, dtype=np.intp))] = 0.0
        tokens = self._run("encoder", {"features": padded[None]})[0].reshape(-1).astype(np.int64)
        touched = inside.reshape(self.tokens_per_row, self.frames_per_token).any(axis=1)
        editable = np.zeros((2, self.tokens_per_row), dtype=bool)
        editable[rows] = touched
        return _Window(
            smap, start, stop - start, prefilled, sub_clip, reading, padded, known, tokens,
            editable.reshape(-1),
        )  # fmt: skip

    # -- decoding ------------------------------------------------------------------

    def _decode_features(
        self, batch: TokenArray, features: FloatArray, known: FloatArray
    ) -> FloatArray:
        count = batch.shape[0]
        inputs: dict[str, np.ndarray] = {
            "tokens": batch.reshape(count, 2, self.tokens_per_row),
            "context": np.repeat(features[None], count, axis=0),
            "known": np.repeat(known[None], count, axis=0),
        }
        return self._run("decoder", inputs)

    def _composite(self, payload: MotionPayload, window: _Window, decoded: FloatArray) -> Clip:
        first, last = payload.first - window.start, payload.last - window.start
        reading = window.reading
        original = reading.features.to_array()
        mixed = original.copy()
        columns = part_columns(payload.part)
        generated = resample_features(decoded.astype(np.float64), 1.0 / self._ratio(payload.clip),
                              window.frames)  # fmt: skip
        generated[:, HEIGHT_COLUMN] += reading.height_offset_cm
        generated[:, UNIT_COLUMNS] /= reading.cm_per_unit
        mixed[np.ix_(np.arange(first, last + 1), columns)] = generated[first : last + 1][:, columns]
        if payload.part != "upper" and last + 1 < window.frames:
            mixed = land_root(mixed, original, reading.features, first, last)
        anchor = reading.features
        features = MotionFeatures.from_array(
            usable_rotations(mixed), anchor.start_position, anchor.start_heading
        )
        new_window = features_to_clip(features, window.sub_clip, window.smap, reading.alignment)
        rows = new_window.with_motion(new_window.motion[first : last + 1])
        blend = 0 if self.repair is not None else self.blend_frames
        clip, smap = payload.clip, window.smap
        joined = composite(clip, rows, payload.first, payload.last, payload.part, blend, smap)
        if self.repair is None:
            return joined
        joints = smap.part_joints(payload.part)
        return repair_fill(
            clip, joined, payload.first, payload.last, joints, smap, self.repair, window.prefilled
        )

    def _run(self, role: str, inputs: dict[str, np.ndarray]) -> np.ndarray:
        session = self._session_factory(self._model.path(role))
        return np.asarray(session.run(None, inputs)[0])


# ----------------------------------------------------------------------------- helpers


def _prefill(payload: MotionPayload, smap: SkeletonMap) -> Clip:
    """The clip with the range replaced by interpolation (or held poses at a clip end)."""
    clip = payload.clip
    if payload.first == 0 and payload.last == clip.n_frames - 1:
        return (
            clip  # nothing kept: the whole clip is regenerated from its own tokens' neighbourhood
        )
    return interpolate_range(clip, payload.first, payload.last, payload.part, smap)


def _chain_starts(total: int, length: int) -> list[int]:
    """Token offsets of windows covering ``total`` tokens, each half-overlapping the last."""
    starts = [0]
    while starts[-1] + length < total:
        starts.append(min(starts[-1] + length // 2, total - length))
    return starts


def _window_start(first: int, last: int, n_frames: int, window: int) -> int:
    """Window centred on the range, clamped into the clip."""
    if n_frames <= window:
        return 0
    centre = (first + last + 1) // 2
    return int(min(max(centre - window // 2, 0), n_frames - window))


def _part_rows(part: str) -> list[int]:
    return {"full": [0, 1], "lower": [0], "upper": [1]}[part]
