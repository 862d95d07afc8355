"""Planted feet stay planted: lock the ankles of a fill where the foot is in contact (two-bone IK).

A decoded fill lets a standing foot slide (issue 19: 0.4 cm per frame on a still take). Here
each foot's contact is read off the fill itself by the same rule the evaluation uses: the
ankle within ``height_cm`` of the floor (the lowest the ankle gets in the kept frames nearby)
and moving less than ``speed_cm`` per 30-fps frame. Each run of contact frames is pinned to
one place: where the kept frame next to the range has that foot, when the run touches the
range's end and the kept foot is planted too, else where the run starts. The pin eases in
and out over ``ease_frames`` so the foot never pops. The leg reaches the pin by two-bone IK
(thigh and shin turn in the plane of hip, knee and target, so the knee keeps pointing the
way the fill had it); with ``hold_foot`` the foot also keeps the orientation it has on the
run's anchor frame (so the toes stay planted too), else the fill's own.

Only the thigh, shin and foot rotation channels of frames inside the range change.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.kinematics import forward_kinematics, guess_cm_per_unit
from engine.media.motion.rotations import (
    TAIT_BRYAN_ORDERS,
    matrix_slerp,
    matrix_to_euler,
)
from engine.media.motion.skeleton import SkeletonMap

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class LockSettings:
    height_cm: float = 5.0
    speed_cm: float = 2.5
    ease_frames: int = 3
    floor_frames: int = 60
    hold_foot: bool = True  # also hold the foot's global orientation at its anchor frame's


def lock_feet(
    original: Clip, filled: Clip, first: int, last: int, smap: SkeletonMap, settings: LockSettings
) -> Clip:
    """``filled`` with each leg of the range IK-pinned where its foot is in contact."""
    motion = filled.motion.copy()
    for side in "LR":
        leg = _Leg.of(filled, smap, side)
        if leg is not None:
            _lock_leg(original, filled.with_motion(motion), motion, leg, first, last, settings)
    return filled.with_motion(motion)


@dataclass(frozen=True)
class _Leg:
    hip: int  # UpperLeg
    knee: int  # LowerLeg
    ankle: int  # Foot
    toes: int  # Toes, or -1

    @staticmethod
    def of(clip: Clip, smap: SkeletonMap, side: str) -> _Leg | None:
        found = [smap.source_of(f"{n}_{side}") for n in ("UpperLeg", "LowerLeg", "Foot")]
        if any(i is None for i in found):
            return None
        hip, knee, ankle = (int(i) for i in found if i is not None)
        if clip.parents[ankle] != knee or clip.parents[knee] != hip:
            return None
        if any(clip.joints[j].rotation_order not in TAIT_BRYAN_ORDERS for j in found if j):
            return None
        toes = smap.source_of(f"Toes_{side}")
        return _Leg(hip, knee, ankle, -1 if toes is None else int(toes))


def _lock_leg(
    original: Clip, clip: Clip, motion: FloatArray, leg: _Leg, first: int, last: int,
    settings: LockSettings,
) -> None:  # fmt: skip
    lo, hi = max(first - 1, 0), min(last + 2, clip.n_frames)
    window = clip.with_motion(clip.motion[lo:hi])
    positions, rotations = forward_kinematics(window)
    cm = guess_cm_per_unit(original, None)
    per_frame = original.fps / 30.0
    floor = _floor(original, leg.ankle, first, last, settings.floor_frames)
    ankle = positions[:, leg.ankle]
    speed = np.linalg.norm(np.diff(ankle[:, [0, 2]], axis=0), axis=-1) * cm * per_frame
    speed = np.concatenate([speed[:1], speed])
    contact = ((ankle[:, 1] - floor) * cm < settings.height_cm) & (speed < settings.speed_cm)
    inside = np.arange(lo, hi)
    inside_range = (inside >= first) & (inside <= last)
    ease = round(settings.ease_frames * per_frame)
    targets, weights, anchors = _pins(ankle, contact, inside_range, ease)
    rows = np.nonzero(weights > 0)[0]
    if rows.size:
        goals = ankle[rows] + weights[rows, None] * (targets[rows] - ankle[rows])
        feet = rotations[rows, leg.ankle]
        if settings.hold_foot:
            feet = matrix_slerp(feet, rotations[anchors[rows], leg.ankle], weights[rows])
        _reach(clip, motion, positions[rows], rotations[rows], leg, (goals, feet), lo + rows)


def _floor(clip: Clip, ankle: int, first: int, last: int, frames: int) -> float:
    """Lowest ankle height over the kept frames within ``frames`` of the range (or the clip)."""
    rows = np.r_[max(first - frames, 0) : first, last + 1 : min(last + 1 + frames, clip.n_frames)]
    rows = rows if rows.size else np.arange(clip.n_frames)
    sub = clip.with_motion(clip.motion[rows])
    return float(forward_kinematics(sub)[0][:, ankle, 1].min())


def _pins(
    ankle: FloatArray, contact: npt.NDArray[np.bool_], editable: npt.NDArray[np.bool_], ease: int
) -> tuple[FloatArray, FloatArray, npt.NDArray[np.intp]]:
    """Per frame of the window: the pinned ankle position, how much of it applies (0..1) and
    the frame whose foot it copies."""
    targets = ankle.copy()
    weights = np.zeros(len(ankle))
    anchors = np.arange(len(ankle))
    for start, stop in _runs(contact):
        if not editable[start:stop].any():
            continue
        kept_start, kept_end = not editable[start], not editable[stop - 1]
        if kept_start and kept_end:  # planted on both kept frames: slide between them
            share = np.linspace(0.0, 1.0, stop - start)[:, None]
            targets[start:stop] = ankle[start] + share * (ankle[stop - 1] - ankle[start])
        else:  # where the kept frame has it, else where the run starts
            targets[start:stop] = ankle[stop - 1] if kept_end else ankle[start]
        anchors[start:stop] = stop - 1 if kept_end and not kept_start else start
        weights[start:stop] = _ramp(stop - start, ease, editable[start], editable[stop - 1])
    return targets, np.where(editable, weights, 0.0), anchors


def _runs(flags: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    edges = np.diff(np.concatenate([[0], flags.astype(np.int8), [0]]))
    return list(zip(np.nonzero(edges == 1)[0], np.nonzero(edges == -1)[0], strict=True))


def _ramp(count: int, ease: int, ease_in: bool, ease_out: bool) -> FloatArray:
    """1 inside a run, easing from 0 over ``ease`` frames at an end that lies in the range."""
    k = np.arange(count, dtype=np.float64)
    weight = np.ones(count)
    if ease > 0 and ease_in:
        weight = np.minimum(weight, (k + 1) / (ease + 1))
    if ease > 0 and ease_out:
        weight = np.minimum(weight, (count - k) / (ease + 1))
    return weight


def _unit(vectors: FloatArray) -> FloatArray:
    length = np.linalg.norm(vectors, axis=-1, keepdims=True)
    return np.asarray(vectors / np.maximum(length, 1e-12), dtype=np.float64)


BoolArray = npt.NDArray[np.bool_]


def _across(hint: FloatArray, along: FloatArray) -> tuple[FloatArray, BoolArray]:
    """``hint``'s part perpendicular to ``along`` (unit), and whether it is usable."""
    across = hint - np.sum(hint * along, axis=-1, keepdims=True) * along
    length = np.linalg.norm(across, axis=-1)
    usable = np.asarray(length > 1e-3 * np.maximum(np.linalg.norm(hint, axis=-1), 1e-9))
    return _unit(across), usable


def _bend_direction(
    thigh: FloatArray, along: FloatArray, positions: FloatArray, leg: _Leg
) -> tuple[FloatArray, BoolArray]:
    """Unit vectors ``[R, 3]`` across the hip-to-goal line toward which the knee bends: the way
    the fill's knee points, or for a straight leg the way the foot points (knees bend
    forward); and which rows have one."""
    bend, usable = _across(thigh, along)
    if leg.toes >= 0:
        foot, foot_usable = _across(positions[:, leg.toes] - positions[:, leg.ankle], along)
        bend = np.where(usable[:, None], bend, foot)
        usable = usable | foot_usable
    return bend, usable


def _turn(source: FloatArray, target: FloatArray) -> FloatArray:
    """The smallest rotations ``[R, 3, 3]`` taking directions ``source`` onto ``target``
    (Rodrigues; the legs' turns here are far from a half turn)."""
    u, w = _unit(source), _unit(target)
    axis = np.cross(u, w)
    cos = np.sum(u * w, axis=-1)
    skew = np.zeros(axis.shape + (3,))
    skew[:, 0, 1], skew[:, 0, 2], skew[:, 1, 2] = -axis[:, 2], axis[:, 1], -axis[:, 0]
    skew[:, 1, 0], skew[:, 2, 0], skew[:, 2, 1] = axis[:, 2], -axis[:, 1], axis[:, 0]
    factor = (1.0 / np.maximum(1.0 + cos, 1e-9))[:, None, None]
    return np.asarray(np.eye(3) + skew + skew @ skew * factor, dtype=np.float64)


def _reach(
    clip: Clip, motion: FloatArray, positions: FloatArray, rotations: FloatArray, leg: _Leg,
    goals_and_feet: tuple[FloatArray, FloatArray], rows: npt.NDArray[np.intp],
) -> None:  # fmt: skip
    """Two-bone IK of frames ``rows``: turn thigh and shin so each ankle lands on its goal;
    the foot takes the given global orientation."""
    goals, feet = goals_and_feet
    hip, knee, ankle = positions[:, leg.hip], positions[:, leg.knee], positions[:, leg.ankle]
    upper = np.linalg.norm(knee - hip, axis=-1)
    lower = np.linalg.norm(ankle - knee, axis=-1)
    reach = goals - hip
    distance = np.clip(
        np.linalg.norm(reach, axis=-1), np.abs(upper - lower) + 1e-6, upper + lower - 1e-6
    )
    along = _unit(reach)
    bend, usable = _bend_direction(knee - hip, along, positions, leg)
    cos_hip = (upper**2 + distance**2 - lower**2) / (2 * upper * distance)
    angle = np.arccos(np.clip(cos_hip, -1.0, 1.0))[:, None]
    new_knee = hip + upper[:, None] * (np.cos(angle) * along + np.sin(angle) * bend)
    turn_thigh = _turn(knee - hip, new_knee - hip)
    old_shin = np.einsum("rij,rj->ri", turn_thigh, ankle - knee)
    turn_shin = _turn(old_shin, hip + along * distance[:, None] - new_knee)
    thigh = turn_thigh @ rotations[:, leg.hip]
    shin = turn_shin @ turn_thigh @ rotations[:, leg.knee]
    parent_index = clip.parents[leg.hip]
    parent = rotations[:, parent_index] if parent_index >= 0 else np.eye(3)[None]
    locals_ = {
        leg.hip: _t(parent) @ thigh,
        leg.knee: _t(thigh) @ shin,
        leg.ankle: _t(shin) @ feet,
    }
    rows, usable_rows = rows[usable], usable
    for joint, local in locals_.items():
        columns = clip.channel_columns(joint, "rotation")
        angles = matrix_to_euler(local[usable_rows], clip.joints[joint].rotation_order)
        previous = motion[np.ix_(rows, columns)]
        motion[np.ix_(rows, columns)] = previous + (angles - previous + 180.0) % 360.0 - 180.0


def _t(matrix: FloatArray) -> FloatArray:
    return np.swapaxes(matrix, -1, -2)
