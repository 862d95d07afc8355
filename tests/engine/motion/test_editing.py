"""Motion editing: in-betweening a range and compositing a generated range into a clip."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.editing import composite, interpolate_range
from engine.media.motion.kinematics import global_positions, local_rotations
from engine.media.motion.rotations import euler_to_matrix, matrix_slerp
from engine.media.motion.skeleton import map_skeleton
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like, reactidle_like

# ----------------------------------------------------------------------------- in-betweening


def _changed_columns(a: Clip, b: Clip, rows: slice) -> set[int]:
    return set(np.nonzero(np.any(a.motion[rows] != b.motion[rows], axis=0))[0].tolist())


def _columns_of(clip: Clip, joints: np.ndarray) -> set[int]:
    return {int(c) for j in joints for c in clip.channel_columns(int(j))}


@pytest.mark.parametrize("parts", ["full", "upper", "lower"])
def test_interpolate_range_touches_only_the_range_and_part(clip: Clip, parts: str) -> None:
    smap = map_skeleton(clip)
    result = interpolate_range(clip, 10, 25, parts, smap)
    np.testing.assert_array_equal(result.motion[:10], clip.motion[:10])
    np.testing.assert_array_equal(result.motion[26:], clip.motion[26:])
    changed = _changed_columns(result, clip, slice(10, 26))
    assert changed and changed <= _columns_of(clip, smap.part_joints(parts))


def test_interpolation_is_linear_for_positions_and_slerp_for_rotations() -> None:
    clip = parse_bvh(bandai_like(30))
    result = interpolate_range(clip, 5, 14)  # kept frames 4 and 15
    hips = clip.joint_index("Hips")
    pos = clip.channel_columns(hips, "position")
    t = (10 - 4) / (15 - 4)
    expected = clip.motion[4, pos] + t * (clip.motion[15, pos] - clip.motion[4, pos])
    np.testing.assert_allclose(result.motion[10, pos], expected, atol=1e-12)
    arm = clip.joint_index("UpperArm_L")
    before, after = (
        euler_to_matrix(clip.motion[f, clip.channel_columns(arm, "rotation")], "ZXY")
        for f in (4, 15)
    )
    np.testing.assert_allclose(
        local_rotations(result)[10, arm], matrix_slerp(before, after, t), atol=1e-12
    )


def test_interpolation_holds_the_nearest_kept_pose_at_clip_ends() -> None:
    clip = parse_bvh(reactidle_like(20))
    head = interpolate_range(clip, 0, 6)
    np.testing.assert_array_equal(
        head.motion[:7], np.broadcast_to(clip.motion[7], (7, clip.n_channels))
    )
    tail = interpolate_range(clip, 15, 19, "lower")
    lower = sorted(_columns_of(clip, map_skeleton(clip).part_joints("lower")))
    np.testing.assert_array_equal(
        tail.motion[15:, lower], np.broadcast_to(clip.motion[14, lower], (5, len(lower)))
    )


@pytest.mark.parametrize(
    ("first", "last", "parts", "message"),
    [
        (8, 3, "full", "empty range: first frame 8 is after last frame 3"),
        (-1, 3, "full", "range -1..3 lies outside the clip's frames 0..19"),
        (5, 20, "full", "range 5..20 lies outside"),
        (2, 4, "arms", "unknown body part 'arms'"),
        (0, 19, "full", "the range covers the whole clip"),
    ],
)
def test_interpolate_range_errors(first: int, last: int, parts: str, message: str) -> None:
    with pytest.raises(MotionError, match=message) as caught:
        interpolate_range(parse_bvh(bandai_like(20)), first, last, parts)
    assert "\n" not in str(caught.value)


def test_clip_shorter_than_the_minimum_context() -> None:
    with pytest.raises(MotionError, match="the clip has 20 frames; at least 64 are needed"):
        interpolate_range(parse_bvh(bandai_like(20)), 2, 4, min_frames=64)


# ----------------------------------------------------------------------------- compositing


def _other_motion(clip: Clip, seed: int, shift: float) -> Clip:
    """A different motion on the same skeleton, with the root path moved by ``shift``."""
    other = parse_bvh(bandai_like(clip.n_frames, seed=seed))
    motion = other.motion.copy()
    hips = clip.channel_columns(clip.joint_index("Hips"), "position")
    motion[:, hips[0]] += shift
    return clip.with_motion(motion)


@pytest.mark.parametrize("parts", ["full", "upper", "lower"])
def test_composite_keeps_everything_outside_bit_exact(parts: str) -> None:
    original = parse_bvh(bandai_like(50))
    generated = _other_motion(original, seed=7, shift=40.0)
    smap = map_skeleton(original)
    result = composite(original, generated, 12, 30, parts, blend_frames=5, skeleton_map=smap)
    assert result.motion[:12].tobytes() == original.motion[:12].tobytes()
    assert result.motion[31:].tobytes() == original.motion[31:].tobytes()
    part = _columns_of(original, smap.part_joints(parts))
    others = sorted(set(range(original.n_channels)) - part)
    assert result.motion[12:31, others].tobytes() == original.motion[12:31, others].tobytes()
    assert _changed_columns(result, original, slice(12, 31)) <= part


def test_hard_cut_copies_generated_values_and_short_generated_clips_work() -> None:
    original = parse_bvh(bandai_like(40))
    generated = _other_motion(original, seed=3, shift=0.0)
    hard = composite(original, generated, 10, 20, blend_frames=0)
    np.testing.assert_array_equal(hard.motion[10:21], generated.motion[10:21])
    short = Clip(original.joints, original.frame_time, generated.motion[10:21])
    np.testing.assert_array_equal(
        composite(original, short, 10, 20, blend_frames=6).motion,
        composite(original, generated, 10, 20, blend_frames=6).motion,
    )


def _boundary_jump(clip: Clip, first: int, last: int) -> float:
    """Largest global joint displacement across the two range boundaries."""
    positions = global_positions(clip)
    steps = [positions[first] - positions[first - 1], positions[last + 1] - positions[last]]
    return float(max(np.linalg.norm(s, axis=-1).max() for s in steps))


def test_blending_removes_the_pop_and_keeps_the_root_continuous() -> None:
    original = parse_bvh(bandai_like(60))
    generated = _other_motion(original, seed=11, shift=60.0)
    first, last = 20, 40
    hard = composite(original, generated, first, last, blend_frames=0)
    soft = composite(original, generated, first, last, blend_frames=8)
    typical = np.linalg.norm(np.diff(global_positions(original), axis=0), axis=-1).max()
    assert _boundary_jump(hard, first, last) > 50.0  # the 60 cm root shift pops without blending
    assert _boundary_jump(soft, first, last) < 2.0 * typical
    # The root joins the kept path at once and takes the 60 cm offset off over 8 frames:
    # its steps exceed the generated 3 cm/frame by at most smoothstep's peak slope (1.5 / 8).
    hips = soft.channel_columns(soft.joint_index("Hips"), "position")
    root_steps = np.linalg.norm(np.diff(soft.motion[first - 1 : last + 2, hips], axis=0), axis=-1)
    assert root_steps.max() <= 3.1 + 1.5 * 60.0 / 8


def test_composite_of_the_baseline_is_the_baseline_when_it_joins_smoothly() -> None:
    original = parse_bvh(cmu_like(40))
    baseline = interpolate_range(original, 10, 25, "lower")
    result = composite(original, baseline, 10, 25, "lower", blend_frames=4)
    np.testing.assert_allclose(global_positions(result), global_positions(baseline), atol=1e-6)


def test_a_one_frame_range_lands_between_its_neighbours() -> None:
    original = parse_bvh(bandai_like(20))
    generated = _other_motion(original, seed=4, shift=80.0)
    result = composite(original, generated, 9, 9, blend_frames=4)
    hips = original.channel_columns(original.joint_index("Hips"), "position")
    midpoint = (original.motion[8, hips] + original.motion[10, hips]) / 2
    np.testing.assert_allclose(result.motion[9, hips], midpoint, atol=1e-12)


def test_range_at_the_clip_start_blends_toward_the_end_only() -> None:
    original = parse_bvh(bandai_like(20))
    generated = _other_motion(original, seed=4, shift=80.0)
    result = composite(original, generated, 0, 9, blend_frames=4)
    hips = original.channel_columns(original.joint_index("Hips"), "position")
    np.testing.assert_array_equal(result.motion[0, hips], generated.motion[0, hips])
    # the last edited frame joins frame 10 with the generated path's own step
    np.testing.assert_allclose(
        result.motion[10, hips] - result.motion[9, hips],
        generated.motion[9, hips] - generated.motion[8, hips],
        atol=1e-12,
    )


def test_composite_errors() -> None:
    original = parse_bvh(bandai_like(30))
    with pytest.raises(MotionError, match="skeleton differs"):
        composite(original, parse_bvh(cmu_like(30)), 5, 10)
    with pytest.raises(MotionError, match="has 7 frames; expected 30 or 6"):
        composite(original, Clip(original.joints, original.frame_time, original.motion[:7]), 5, 10)
    with pytest.raises(MotionError, match="blend_frames must be 0 or more"):
        composite(original, original, 5, 10, blend_frames=-1)
    with pytest.raises(MotionError, match="lies outside"):
        composite(original, original, 25, 30)
