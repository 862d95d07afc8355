"""Repairs of a model in-between before it reaches the user: smooth, C1 joins, no invented motion.

The model's fill is rewritten as a *residual on top of linear + SLERP interpolation*
(:func:`engine.media.motion.editing.interpolate_range`): per joint, the rotation that takes
the interpolated pose to the model's (a rotation vector) and, for position channels, the
difference. Working on the residual keeps every repair safe: a residual of zero is the
interpolation itself, which already meets the kept frames.

1. **Near-still context** (issue 19: a standing take where the model invented a 25-cm hand
   raise). The rule (:func:`is_near_still`): the ``context_frames`` kept frames on each side
   (10 at 30 fps) move less than ``still_root_cm`` (Hips, horizontal) and ``still_limb_cm``
   (hands and feet relative to the Hips), 0.75 cm per 30-fps frame each, on both sides
   (:func:`engine.media.motion.energy.context_energy`). Then each channel's residual is
   scaled so its peak is at most ``still_scale`` times that channel's own excursion in the
   context. The shipped scale is 0: such a gap is interpolated, joined C1 to its context.
   Chosen on ``remask-train motion-eval`` (held-out near-still gaps, 6-8 per cell): keeping
   the model's residual within the context's excursion (scale 1) left 30-frame gaps at 2.4x
   interpolation's error, half of it (0.5) at 1.7x, none (0) at 0.87-0.94x; thresholds of
   0.5 cm let through a gap that then cost 1.8x, 1.0 cm started to catch gestures.
2. **Smoothing**: the residual is low-passed by a Gaussian of ``smooth_sigma`` 30-fps
   frames (zero residual beyond a kept boundary), which removes the decoder's frame-to-frame
   jitter (jerk 4-16x the capture's) while a stride (a second or so) passes almost unchanged.
3. **C1 joins**: over ``join_frames`` frames at each end the residual is eased (smoothstep)
   into the straight line that continues the kept motion's own residual, so both the pose
   and the velocity of the kept frames carry into the gap: no 7-10 degree jump, no kink.
4. **Planted feet** (:mod:`engine.media.motion.foot_lock`): where the fill's foot is low and
   slow it is pinned by two-bone IK, to the kept frame's foot where that is planted too.

Frames outside the range, and joints of other body parts, are never written.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.editing import interpolate_range
from engine.media.motion.energy import Energy, context_energy
from engine.media.motion.foot_lock import LockSettings, lock_feet
from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    euler_to_matrix,
    matrix_to_euler,
    matrix_to_quat,
    quat_to_matrix,
)
from engine.media.motion.skeleton import SkeletonMap

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class RepairSettings:
    """Knobs of :func:`repair_fill`; frame counts are 30-fps frames (scaled to the clip's rate).

    Defaults chosen on ``remask-train motion-eval`` (held-out takes, split by activity).
    """

    smooth_sigma: float = 2.0
    join_frames: int = 8
    still_root_cm: float = 0.75  # per 30-fps frame, as engine.media.motion.energy.Energy
    still_limb_cm: float = 0.75
    still_scale: float = 0.0
    context_frames: int = 10
    foot_lock: LockSettings | None = LockSettings()


def is_near_still(energy: Energy, settings: RepairSettings) -> bool:
    """The kept context barely moves: Hips and hands/feet both below their thresholds."""
    return energy.root < settings.still_root_cm and energy.limbs < settings.still_limb_cm


def repair_fill(
    original: Clip,
    filled: Clip,
    first: int,
    last: int,
    joints: npt.NDArray[np.intp],
    smap: SkeletonMap,
    settings: RepairSettings,
    interpolated: Clip | None = None,
) -> Clip:
    """``filled`` with rows ``first..last`` of ``joints`` repaired (see the module docstring).

    ``interpolated``: ``original`` with the range already interpolated (at least ``joints``),
    when the caller has it (the codec's pre-fill), so it is not computed twice.
    """
    ratio = original.fps / 30.0
    interp = interpolated or interpolate_range(original, first, last, "full", smap)
    rows = np.arange(first, last + 1)
    has_before, has_after = first >= 1, last + 1 < original.n_frames
    channels = _Channels.of(original, joints)
    ctx = max(1, round(settings.context_frames * ratio))
    still = is_near_still(context_energy(original, first, last, ctx, smap), settings)
    residual = channels.residual(filled.motion[rows], interp.motion[rows])
    if still:
        excursion = channels.context_excursion(original, first, last, ctx)
        residual = _bounded(residual, excursion * settings.still_scale, channels)
    residual = _smoothed(residual, settings.smooth_sigma * ratio, has_before, has_after)
    slopes = channels.kept_slopes(original, interp, first, last)
    residual = _joined(residual, slopes, round(settings.join_frames * ratio), has_before, has_after)
    motion = filled.motion.copy()
    channels.write(motion, rows, interp.motion[rows], residual, filled.motion[rows])
    repaired = filled.with_motion(motion)
    if settings.foot_lock is None or not set(_legs(smap)) <= set(joints.tolist()):
        return repaired
    return lock_feet(original, repaired, first, last, smap, settings.foot_lock)


def _legs(smap: SkeletonMap) -> list[int]:
    names = [f"{n}_{s}" for n in ("UpperLeg", "LowerLeg", "Foot") for s in "LR"]
    return [i for i in (smap.source_of(n) for n in names) if i is not None]


@dataclass(frozen=True)
class _Channels:
    """Which columns are linear and which are rotations: Tait-Bryan joints grouped by order,
    ``[joints, 3]`` columns each, so one group is converted in one vectorised call."""

    linear: npt.NDArray[np.intp]
    rotations: list[tuple[npt.NDArray[np.intp], str]]

    @staticmethod
    def of(clip: Clip, joints: npt.NDArray[np.intp]) -> _Channels:
        linear: list[int] = []
        groups: dict[str, list[npt.NDArray[np.intp]]] = {}
        for joint in joints:
            angles = clip.channel_columns(int(joint), "rotation")
            order = clip.joints[int(joint)].rotation_order
            linear.extend(clip.channel_columns(int(joint), "position").tolist())
            if order in TAIT_BRYAN_ORDERS and angles.size == 3:
                groups.setdefault(order, []).append(angles)
            else:
                linear.extend(angles.tolist())
        rotations = [(np.stack(c).astype(np.intp), order) for order, c in groups.items()]
        return _Channels(np.array(linear, dtype=np.intp), rotations)

    @property
    def width(self) -> int:
        return int(self.linear.size + sum(3 * len(c) for c, _ in self.rotations))

    def _blocks(self) -> list[tuple[slice, npt.NDArray[np.intp], str]]:
        """Each rotation group's slice of the residual's columns."""
        start, out = self.linear.size, []
        for columns, order in self.rotations:
            out.append((slice(start, start + columns.size), columns, order))
            start += columns.size
        return out

    def residual(self, fill: FloatArray, base: FloatArray) -> FloatArray:
        """``[n, width]``: linear differences, then one rotation vector per rotating joint."""
        parts = [fill[:, self.linear] - base[:, self.linear]]
        for columns, order in self.rotations:
            delta = _matrices(fill, columns, order) @ _t(_matrices(base, columns, order))
            parts.append(_log(delta).reshape(len(fill), -1))
        return np.concatenate(parts, axis=1)

    def context_excursion(self, clip: Clip, first: int, last: int, ctx: int) -> FloatArray:
        """``[width]``: each channel's largest departure from the boundary pose in the context
        (a rotating joint's three slots all hold the length of its rotation vector)."""
        out = np.zeros(self.width)
        sides = (
            (np.arange(max(first - ctx, 0), first), first - 1),
            (np.arange(last + 1, min(last + 1 + ctx, clip.n_frames)), last + 1),
        )
        for side, boundary in sides:
            if not side.size:
                continue
            frames = clip.motion[side]
            anchor = np.repeat(clip.motion[boundary][None], len(frames), axis=0)
            out = np.maximum(out, self._joint_lengths(np.abs(self.residual(frames, anchor))))
        return out

    def _joint_lengths(self, residual: FloatArray) -> FloatArray:
        """Per frame, each rotation vector's slots replaced by its length; peak over frames."""
        out = residual.copy()
        for block, _columns, _order in self._blocks():
            vectors = residual[:, block].reshape(len(residual), -1, 3)
            length = np.linalg.norm(vectors, axis=-1, keepdims=True)
            out[:, block] = np.broadcast_to(length, vectors.shape).reshape(len(residual), -1)
        return np.asarray(out.max(axis=0), dtype=np.float64)

    def kept_slopes(
        self, clip: Clip, interp: Clip, first: int, last: int
    ) -> tuple[FloatArray, FloatArray]:
        """Residual per frame of the kept motion just outside each end (its velocity less the
        interpolation's), so the join continues it: ``(start, end)`` slopes ``[width]``."""
        zero = np.zeros(self.width)
        start, end = zero, zero
        if first >= 2:  # the interpolation continued one frame before the range
            start = -self._extend(
                interp.motion[first - 1], interp.motion[first], clip.motion[first - 2]
            )
        if last + 2 < clip.n_frames:
            end = -self._extend(interp.motion[last + 1], interp.motion[last], clip.motion[last + 2])
        return start, end

    def _extend(self, kept: FloatArray, inside: FloatArray, outer: FloatArray) -> FloatArray:
        """Residual of ``outer`` against the interpolation extended one frame past ``kept``."""
        linear = outer[self.linear] - (2 * kept[self.linear] - inside[self.linear])
        parts = [linear]
        for columns, order in self.rotations:
            k, i, o = (_matrices(row[None], columns, order)[0] for row in (kept, inside, outer))
            extended = k @ _t(i) @ k  # one more interpolation step beyond the kept frame
            parts.append(_log(o @ _t(extended)).reshape(-1))
        return np.concatenate(parts)

    def write(
        self, motion: FloatArray, rows: npt.NDArray[np.intp], base: FloatArray,
        residual: FloatArray, previous: FloatArray,
    ) -> None:  # fmt: skip
        motion[np.ix_(rows, self.linear)] = base[:, self.linear] + residual[:, : self.linear.size]
        for block, columns, order in self._blocks():
            vectors = residual[:, block].reshape(len(rows), -1, 3)
            angles = matrix_to_euler(_exp(vectors) @ _matrices(base, columns, order), order)
            reference = previous[:, columns]
            nearest = reference + (angles - reference + 180.0) % 360.0 - 180.0
            motion[np.ix_(rows, columns.reshape(-1))] = nearest.reshape(len(rows), -1)


def _matrices(motion: FloatArray, columns: npt.NDArray[np.intp], order: str) -> FloatArray:
    """``[n, joints, 3, 3]`` rotation matrices of a group's Euler columns ``[joints, 3]``."""
    return euler_to_matrix(motion[:, columns], order)


def _bounded(residual: FloatArray, excursion: FloatArray, channels: _Channels) -> FloatArray:
    """Scale each channel (each joint's rotation vector as one) so its peak fits ``excursion``."""
    peak = channels._joint_lengths(np.abs(residual))
    scale = np.minimum(1.0, excursion / np.maximum(peak, 1e-9))
    return np.asarray(residual * scale, dtype=np.float64)


def _smoothed(residual: FloatArray, sigma: float, before: bool, after: bool) -> FloatArray:
    """Gaussian low-pass along time: zero residual beyond a kept end, held beyond a clip end."""
    if sigma <= 0 or len(residual) < 2:
        return residual
    radius = int(np.ceil(3 * sigma))
    taps = np.exp(-0.5 * (np.arange(-radius, radius + 1) / sigma) ** 2)
    taps /= taps.sum()
    pad_start = (
        np.zeros((radius, residual.shape[1])) if before else np.repeat(residual[:1], radius, 0)
    )
    pad_end = (
        np.zeros((radius, residual.shape[1])) if after else np.repeat(residual[-1:], radius, 0)
    )
    padded = np.concatenate([pad_start, residual, pad_end])
    out = np.empty_like(residual)
    for column in range(residual.shape[1]):
        out[:, column] = np.convolve(padded[:, column], taps, mode="valid")
    return out


def _joined(
    residual: FloatArray,
    slopes: tuple[FloatArray, FloatArray],
    frames: int,
    before: bool,
    after: bool,
) -> FloatArray:
    """Ease into the kept motion's continuation at each end (value 0 and its slope)."""
    n = len(residual)
    if frames <= 0:
        return residual
    k = np.arange(n, dtype=np.float64)
    w_start = (1.0 - _smoothstep(np.clip((k + 1) / (frames + 1), 0.0, 1.0))) * before
    w_end = (1.0 - _smoothstep(np.clip((n - k) / (frames + 1), 0.0, 1.0))) * after
    total = np.maximum(w_start + w_end, 1.0)
    w_start, w_end = w_start / total, w_end / total
    line_start = (k + 1)[:, None] * slopes[0][None]
    line_end = (n - k)[:, None] * slopes[1][None]
    keep = (1.0 - w_start - w_end)[:, None]
    return keep * residual + w_start[:, None] * line_start + w_end[:, None] * line_end


def _smoothstep(x: FloatArray) -> FloatArray:
    return x * x * (3.0 - 2.0 * x)


def _t(matrix: FloatArray) -> FloatArray:
    return np.swapaxes(matrix, -1, -2)


def _log(matrix: FloatArray) -> FloatArray:
    """Rotation vectors ``[..., 3]`` (radians) of rotation matrices."""
    quat = matrix_to_quat(matrix)
    vector = quat[..., 1:]
    sin_half = np.linalg.norm(vector, axis=-1, keepdims=True)
    angle = 2.0 * np.arctan2(sin_half, quat[..., :1])
    return np.asarray(vector * np.where(sin_half > 1e-12, angle / np.maximum(sin_half, 1e-12), 2.0))


def _exp(vector: FloatArray) -> FloatArray:
    """Rotation matrices of rotation vectors ``[..., 3]``."""
    angle = np.linalg.norm(vector, axis=-1, keepdims=True)
    half = angle / 2.0
    scale = np.where(angle > 1e-12, np.sin(half) / np.maximum(angle, 1e-12), 0.5)
    return quat_to_matrix(np.concatenate([np.cos(half), vector * scale], axis=-1))
