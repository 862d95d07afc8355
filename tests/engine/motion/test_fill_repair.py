"""Repairing a model fill: only the range changes, joins are C1, still context stays still."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip
from engine.media.motion.editing import interpolate_range
from engine.media.motion.energy import context_energy
from engine.media.motion.fill_repair import RepairSettings, is_near_still, repair_fill
from engine.media.motion.foot_lock import LockSettings, lock_feet
from engine.media.motion.kinematics import global_positions
from engine.media.motion.skeleton import map_skeleton
from tests.engine.motion.synthetic_bvh import bandai_like

FIRST, LAST = 30, 59


def _clip(frames: int = 90, seed: int = 0) -> Clip:
    return parse_bvh(bandai_like(frames, seed))


def _jittered(clip: Clip, amount: float, seed: int = 1) -> Clip:
    """The clip with noise on every channel inside the range: a decoder's jittery fill."""
    rng = np.random.default_rng(seed)
    motion = clip.motion.copy()
    motion[FIRST : LAST + 1] += rng.normal(0.0, amount, motion[FIRST : LAST + 1].shape)
    return clip.with_motion(motion)


def _repair(clip: Clip, filled: Clip, part: str = "full", **knobs: float) -> Clip:
    smap = map_skeleton(clip)
    settings = RepairSettings(**knobs)  # type: ignore[arg-type]
    return repair_fill(clip, filled, FIRST, LAST, smap.part_joints(part), smap, settings)


def _jerk(clip: Clip) -> float:
    positions = global_positions(clip)[FIRST - 3 : LAST + 4]
    return float(np.linalg.norm(np.diff(positions, n=3, axis=0), axis=-1).mean())


@pytest.mark.parametrize("part", ["full", "upper", "lower"])
def test_only_the_range_and_the_part_change(part: str) -> None:
    clip = _clip()
    filled = _jittered(clip, 3.0)
    repaired = _repair(clip, filled, part)
    np.testing.assert_array_equal(repaired.motion[:FIRST], filled.motion[:FIRST])
    np.testing.assert_array_equal(repaired.motion[LAST + 1 :], filled.motion[LAST + 1 :])
    smap = map_skeleton(clip)
    mine = {int(c) for j in smap.part_joints(part) for c in clip.channel_columns(int(j))}
    changed = np.nonzero(np.any(repaired.motion != filled.motion, axis=0))[0]
    assert changed.size and set(changed.tolist()) <= mine


def test_jitter_is_smoothed_and_the_motion_kept() -> None:
    clip = _clip()
    filled = _jittered(clip, 2.0)
    repaired = _repair(clip, filled)
    assert _jerk(repaired) < 0.3 * _jerk(filled)
    error = np.linalg.norm(global_positions(repaired) - global_positions(clip), axis=-1)
    noisy = np.linalg.norm(global_positions(filled) - global_positions(clip), axis=-1)
    assert error[FIRST : LAST + 1].mean() < noisy[FIRST : LAST + 1].mean()


def test_a_pose_jump_at_the_join_becomes_a_smooth_continuation() -> None:
    """A fill that starts 20 degrees off the kept pose: the jump is gone, and the step into the
    range continues the kept frames' velocity (to within a degree: the kept motion curves, and
    the offset eases out over 8 frames)."""
    clip = _clip()
    motion = clip.motion.copy()
    spine = clip.channel_columns(clip.joint_index("Spine"), "rotation")
    motion[FIRST : LAST + 1, spine[1]] += 20.0
    repaired = _repair(clip, clip.with_motion(motion), smooth_sigma=0.0)
    kept_step = clip.motion[FIRST - 1, spine] - clip.motion[FIRST - 2, spine]
    join_step = repaired.motion[FIRST, spine] - repaired.motion[FIRST - 1, spine]
    assert np.abs(join_step - kept_step).max() < 1.0
    end_step = repaired.motion[LAST + 1, spine] - repaired.motion[LAST, spine]
    assert (
        np.abs(end_step - (clip.motion[LAST + 2, spine] - clip.motion[LAST + 1, spine])).max() < 1.0
    )
    assert np.abs(repaired.motion[45, spine[1]] - motion[45, spine[1]]) < 1.0  # middle kept


def test_a_still_context_keeps_the_fill_from_inventing_motion() -> None:
    """Standing still around the gap: a 40-degree arm raise in the fill is not kept."""
    clip = _clip()
    still = clip.with_motion(np.repeat(clip.motion[:1], clip.n_frames, axis=0))
    smap = map_skeleton(still)
    assert is_near_still(context_energy(still, FIRST, LAST, 10, smap), RepairSettings())
    motion = still.motion.copy()
    arm = still.channel_columns(still.joint_index("UpperArm_L"), "rotation")
    motion[FIRST : LAST + 1, arm[0]] += 40.0 * np.sin(np.linspace(0, np.pi, LAST - FIRST + 1))
    repaired = _repair(still, still.with_motion(motion))
    baseline = interpolate_range(still, FIRST, LAST, "full", smap)
    np.testing.assert_allclose(repaired.motion, baseline.motion, atol=1e-6)
    moving = _repair(clip, clip.with_motion(clip.motion + (motion - still.motion)))
    assert (
        np.abs(moving.motion[45, arm[0]] - clip.motion[45, arm[0]]) > 20
    )  # a moving take keeps it


def _crouching(clip: Clip) -> Clip:
    """Every frame one pose: joints unrotated but for knees bent 40 degrees (reachable feet)."""
    pose = clip.motion[0].copy()
    for index, joint in enumerate(clip.joints):
        if joint.name != "joint_Root":
            pose[clip.channel_columns(index, "rotation")] = 0.0
    for side in "LR":
        for name, angle in (("UpperLeg", -20.0), ("LowerLeg", 40.0), ("Foot", -20.0)):
            joint = clip.joint_index(f"{name}_{side}")
            axes = clip.joints[joint].rotation_order
            pose[clip.channel_columns(joint, "rotation")[axes.index("X")]] = angle
    return clip.with_motion(np.repeat(pose[None], clip.n_frames, axis=0))


def test_a_sliding_planted_foot_is_pinned_by_ik() -> None:
    """Standing still, the fill drifts the whole body 12 cm sideways and back: the feet, planted
    on the kept frames, stay where they were; only leg rotations inside the range change."""
    still = _crouching(_clip())
    smap = map_skeleton(still)
    motion = still.motion.copy()
    hips_x = still.channel_columns(still.joint_index("Hips"), "position")[0]
    motion[FIRST : LAST + 1, hips_x] += 12.0 * np.sin(np.linspace(0, np.pi, LAST - FIRST + 1))
    sliding = still.with_motion(motion)
    locked = lock_feet(still, sliding, FIRST, LAST, smap, LockSettings())
    feet = [still.joint_index(f"Foot_{s}") for s in "LR"]
    planted = global_positions(still)[FIRST - 1, feet]
    before = np.linalg.norm(global_positions(sliding)[FIRST : LAST + 1, feet] - planted, axis=-1)
    after = np.linalg.norm(global_positions(locked)[FIRST : LAST + 1, feet] - planted, axis=-1)
    assert before.max() > 10.0 and after.max() < 0.5
    legs = {
        int(c)
        for n in ("UpperLeg", "LowerLeg", "Foot")
        for s in "LR"
        for c in still.channel_columns(still.joint_index(f"{n}_{s}"), "rotation")
    }
    changed = np.nonzero(np.any(locked.motion != sliding.motion, axis=0))[0]
    assert changed.size and set(changed.tolist()) <= legs
    np.testing.assert_array_equal(locked.motion[:FIRST], sliding.motion[:FIRST])
    np.testing.assert_array_equal(locked.motion[LAST + 1 :], sliding.motion[LAST + 1 :])
