"""Editing a frame range of one body part: in-betweening by interpolation, and compositing.

Editing never rewrites what the user kept: :func:`interpolate_range` and :func:`composite`
copy every value outside the edited frames and body part bit for bit, so an edit can be
undone by value and a clip round-trips through any number of edits unchanged elsewhere.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    euler_to_matrix,
    matrix_slerp,
    matrix_to_euler,
    unwrap_degrees,
)
from engine.media.motion.skeleton import PARTS, SkeletonMap, map_skeleton

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


def _check_range(clip: Clip, first: int, last: int, parts: str, min_frames: int) -> None:
    if parts not in PARTS:
        raise MotionError(f"unknown body part {parts!r}; expected one of {', '.join(PARTS)}")
    if clip.n_frames < min_frames:
        raise MotionError(
            f"the clip has {clip.n_frames} frames; at least {min_frames} are needed as context"
        )
    if first > last:
        raise MotionError(f"empty range: first frame {first} is after last frame {last}")
    if first < 0 or last >= clip.n_frames:
        raise MotionError(
            f"range {first}..{last} lies outside the clip's frames 0..{clip.n_frames - 1}"
        )


def _part_joints(clip: Clip, parts: str, skeleton_map: SkeletonMap | None) -> IndexArray:
    if parts == "full":
        return np.arange(len(clip.joints), dtype=np.intp)
    return (skeleton_map or map_skeleton(clip)).part_joints(parts)


def interpolate_range(
    clip: Clip,
    first: int,
    last: int,
    parts: str = "full",
    skeleton_map: SkeletonMap | None = None,
    *,
    min_frames: int = 2,
) -> Clip:
    """Baseline in-betweening: regenerate frames ``first..last`` (inclusive) of one body part.

    Between the kept frames ``first - 1`` and ``last + 1``, position channels are
    interpolated linearly (so the root moves in a straight line) and each joint's
    rotation by shortest-arc SLERP. A range touching a clip end holds the nearest
    kept pose. Channels of other parts and every frame outside the range are
    copied unchanged.
    """
    _check_range(clip, first, last, parts, min_frames)
    before, after = first - 1, last + 1
    if before < 0 and after >= clip.n_frames:
        raise MotionError("the range covers the whole clip: no kept frame to interpolate from")
    motion = clip.motion.copy()
    frames = np.arange(first, last + 1)
    for joint in _part_joints(clip, parts, skeleton_map):
        _interpolate_joint(clip, int(joint), frames, before, after, motion)
    return clip.with_motion(motion)


def _interpolate_joint(
    clip: Clip, joint: int, frames: IndexArray, before: int, after: int, motion: FloatArray
) -> None:
    columns = clip.channel_columns(joint)
    if columns.size == 0:
        return
    if before < 0 or after >= clip.n_frames:
        held = after if before < 0 else before
        motion[np.ix_(frames, columns)] = clip.motion[held, columns]
        return
    weight = (frames - before) / (after - before)
    start, end = clip.motion[before], clip.motion[after]
    positions = clip.channel_columns(joint, "position")
    motion[np.ix_(frames, positions)] = start[positions] + weight[:, None] * (
        end[positions] - start[positions]
    )
    rotations = clip.channel_columns(joint, "rotation")
    order = clip.joints[joint].rotation_order
    if order in TAIT_BRYAN_ORDERS:
        a, b = (euler_to_matrix(row[rotations], order) for row in (start, end))
        between = matrix_slerp(a, b, weight)
        motion[np.ix_(frames, rotations)] = _continuous_euler(between, order, start[rotations])
    elif rotations.size:
        # one axis (or an odd channel list): lerping the angles follows the rotation path
        motion[np.ix_(frames, rotations)] = start[rotations] + weight[:, None] * (
            end[rotations] - start[rotations]
        )


def _continuous_euler(matrices: FloatArray, order: str, previous: FloatArray) -> FloatArray:
    """Euler angles for ``matrices`` [n, 3, 3], unwrapped to continue from the ``previous`` row."""
    angles = matrix_to_euler(matrices, order)
    return unwrap_degrees(np.concatenate([previous[None, :], angles]), axis=0)[1:]


def _nearest_equivalent(angles: FloatArray, reference: FloatArray) -> FloatArray:
    """Per-channel angles shifted by multiples of 360 to lie closest to ``reference``."""
    return reference + (angles - reference + 180.0) % 360.0 - 180.0


def _ease_weights(
    count: int, blend_frames: int, before: bool, after: bool
) -> tuple[FloatArray, FloatArray]:
    """How much of the start and end boundary offsets frame ``k`` of the range carries.

    Smoothstep from 1 at the boundary frame itself (``k = 0`` or ``count - 1``) down to
    0 after ``blend_frames`` frames: the boundary frame continues the kept pose exactly.
    A side without a kept neighbour (``before``/``after`` False at a clip end) gets 0.
    In a range shorter than two blends the weights are scaled to sum to at most 1, so
    both neighbours pull (a one-frame range lands halfway) instead of adding up.
    """
    k = np.arange(count, dtype=np.float64)
    span = max(blend_frames, 1)
    w_start = (1.0 - _smoothstep(np.clip(k / span, 0.0, 1.0))) * before
    w_end = (1.0 - _smoothstep(np.clip((count - 1 - k) / span, 0.0, 1.0))) * after
    total = np.maximum(w_start + w_end, 1.0)
    return w_start / total, w_end / total


def _smoothstep(x: FloatArray) -> FloatArray:
    return x * x * (3.0 - 2.0 * x)


def composite(
    original: Clip,
    generated: Clip,
    first: int,
    last: int,
    parts: str = "full",
    blend_frames: int = 4,
    skeleton_map: SkeletonMap | None = None,
    *,
    min_frames: int = 2,
) -> Clip:
    """Put ``generated``'s frames ``first..last`` of one body part into ``original``.

    Only frames ``first..last`` of ``generated`` are read (it has the original's
    length, or exactly the range's). Every other value is copied from ``original``
    bit for bit, including the other parts' channels inside the range.

    Boundaries are blended inside the range so there is no pop. At each kept
    neighbour (``first - 1``, ``last + 1``) the offset between the kept value and the
    generated path extrapolated one frame outward is measured (a rotation for
    rotation channels, a vector for position channels, i.e. the root trajectory);
    that offset is applied in full at the boundary frame and eased to nothing over
    ``blend_frames`` frames (smoothstep weights, rotations by SLERP from the offset
    toward identity). So the edit starts exactly where the kept motion leaves off,
    keeps the generated velocities (no stall of the root), and a generated clip
    that already joins smoothly, such as :func:`interpolate_range`'s, is unchanged.
    ``blend_frames=0`` is a hard cut.
    """
    _check_range(original, first, last, parts, min_frames)
    gen_motion = _generated_rows(original, generated, first, last)
    if blend_frames < 0:
        raise MotionError(f"blend_frames must be 0 or more, got {blend_frames}")
    motion = original.motion.copy()
    rows = np.arange(first, last + 1)
    w_start, w_end = _ease_weights(
        len(rows), blend_frames, before=first > 0, after=last < original.n_frames - 1
    )
    for joint in _part_joints(original, parts, skeleton_map):
        columns = original.channel_columns(int(joint))
        motion[np.ix_(rows, columns)] = gen_motion[:, columns]
        if blend_frames:
            _blend_joint(original, int(joint), gen_motion, first, last, (w_start, w_end), motion)
    return original.with_motion(motion)


def _generated_rows(original: Clip, generated: Clip, first: int, last: int) -> FloatArray:
    if generated.joints != original.joints:
        raise MotionError("the generated clip's skeleton differs from the original's")
    count = last - first + 1
    if generated.n_frames == original.n_frames:
        return generated.motion[first : last + 1]
    if generated.n_frames == count:
        return generated.motion
    raise MotionError(
        f"the generated clip has {generated.n_frames} frames; "
        f"expected {original.n_frames} or {count}"
    )


def _blend_joint(
    original: Clip, joint: int, gen: FloatArray, first: int, last: int,
    weights: tuple[FloatArray, FloatArray], motion: FloatArray,
) -> None:  # fmt: skip
    """Ease one joint's boundary offsets into ``motion`` (rows where a weight is non-zero)."""
    w_start, w_end = weights
    active = (w_start > 0) | (w_end > 0)
    if not active.any():
        return
    rows = np.arange(first, last + 1)[active]
    kept_before = original.motion[max(first - 1, 0)]
    kept_after = original.motion[min(last + 1, original.n_frames - 1)]
    positions = original.channel_columns(joint, "position")
    rotations = original.channel_columns(joint, "rotation")
    order = original.joints[joint].rotation_order
    linear = positions if order in TAIT_BRYAN_ORDERS else np.concatenate([positions, rotations])
    if linear.size:  # vectors, and angles of one-axis or odd channel lists
        values = gen[:, linear]
        start_gap = kept_before[linear] - _extrapolate(values, at_start=True)
        end_gap = kept_after[linear] - _extrapolate(values, at_start=False)
        shifted = values + w_start[:, None] * start_gap + w_end[:, None] * end_gap
        motion[np.ix_(rows, linear)] = shifted[active]
    if rotations.size and order in TAIT_BRYAN_ORDERS:
        local = euler_to_matrix(gen[:, rotations], order)
        start_offset = euler_to_matrix(kept_before[rotations], order) @ _transpose(
            _extrapolate_rotation(local, at_start=True)
        )
        end_offset = euler_to_matrix(kept_after[rotations], order) @ _transpose(
            _extrapolate_rotation(local, at_start=False)
        )
        eye = np.eye(3)
        blended = matrix_slerp(eye, start_offset, w_start[active]) @ local[active]
        blended = matrix_slerp(eye, end_offset, w_end[active]) @ blended
        angles = matrix_to_euler(blended, order)
        motion[np.ix_(rows, rotations)] = _nearest_equivalent(angles, gen[active][:, rotations])


def _transpose(matrix: FloatArray) -> FloatArray:
    return np.swapaxes(matrix, -1, -2)


def _extrapolate(values: FloatArray, at_start: bool) -> FloatArray:
    """The generated path continued one frame past its start (or end), at its own velocity."""
    if len(values) < 2:
        edge = values[0] if at_start else values[-1]
    else:
        edge = 2 * values[0] - values[1] if at_start else 2 * values[-1] - values[-2]
    return np.asarray(edge, dtype=np.float64)


def _extrapolate_rotation(local: FloatArray, at_start: bool) -> FloatArray:
    """The generated rotation one frame past its start (or end), at its own angular velocity."""
    if len(local) < 2:
        return np.asarray(local[0] if at_start else local[-1], dtype=np.float64)
    if at_start:
        step = local[1] @ _transpose(local[0])  # local[1] = step @ local[0]
        return np.asarray(_transpose(step) @ local[0], dtype=np.float64)
    step = local[-1] @ _transpose(local[-2])
    return np.asarray(step @ local[-1], dtype=np.float64)
