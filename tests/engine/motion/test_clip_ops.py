"""Motion clip operations: FK, features and their inverse, in-betweening, compositing, metrics."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.editing import composite, interpolate_range
from engine.media.motion.features import (
    FEATURE_JOINTS,
    FEATURE_SIZE,
    MotionFeatures,
    clip_features,
    features_to_clip,
)
from engine.media.motion.kinematics import (
    forward_kinematics,
    global_positions,
    guess_cm_per_unit,
    local_rotations,
    rest_positions,
)
from engine.media.motion.metrics import foot_skating_cm, motion_metrics
from engine.media.motion.rotations import axis_rotation, euler_to_matrix, matrix_slerp
from engine.media.motion.skeleton import LOWER_JOINTS, map_skeleton
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like, reactidle_like

CLIPS = {
    "bandai": lambda: parse_bvh(bandai_like(40)),
    "reactidle": lambda: parse_bvh(reactidle_like(40)),
    "cmu": lambda: parse_bvh(cmu_like(40)),
    "cmu_bone_root": lambda: parse_bvh(cmu_like(40, bone_root=True)),
}

KNOWN_POSE = """HIERARCHY
ROOT A
{
  OFFSET 0 0 0
  CHANNELS 6 Xposition Yposition Zposition Zrotation Xrotation Yrotation
  JOINT B
  {
    OFFSET 0 0 10
    CHANNELS 3 Zrotation Xrotation Yrotation
    JOINT C
    {
      OFFSET 5 0 0
      CHANNELS 4 Xposition Zrotation Xrotation Yrotation
      End Site
      {
        OFFSET 1 0 0
      }
    }
  }
}
MOTION
Frames: 2
Frame Time: 0.1
1 2 3 0 0 90 0 0 0 5 0 0 0
1 2 3 0 0 90 90 0 0 7 0 0 0
"""


@pytest.fixture(params=sorted(CLIPS))
def clip(request: pytest.FixtureRequest) -> Clip:
    return CLIPS[request.param]()


# ----------------------------------------------------------------------------- kinematics


def test_forward_kinematics_of_a_hand_computed_pose() -> None:
    # Frame 0: A at (1,2,3) turned 90 deg about Y, so B's offset (0,0,10) points along +X
    # and C's (5,0,0) along -Z. Frame 1: B also turns 90 deg about Z, and C's Xposition
    # channel (7) replaces its offset's x: Ry(90) Rz(90) (7,0,0) = (0,7,0).
    clip = parse_bvh(KNOWN_POSE)
    positions, rotations = forward_kinematics(clip)
    np.testing.assert_allclose(positions[0], [[1, 2, 3], [11, 2, 3], [11, 2, -2]], atol=1e-12)
    np.testing.assert_allclose(positions[1], [[1, 2, 3], [11, 2, 3], [11, 9, 3]], atol=1e-12)
    expected = axis_rotation("Y", 90.0) @ axis_rotation("Z", 90.0)
    np.testing.assert_allclose(rotations[1, 2], expected, atol=1e-12)


def test_rest_pose_fk_is_the_sum_of_offsets() -> None:
    clip = parse_bvh(bandai_like(3))
    rest = np.zeros_like(clip.motion)
    for j, joint in enumerate(
        clip.joints
    ):  # position channels hold the offsets, as in Bandai files
        rest[:, clip.channel_columns(j, "position")] = joint.offset
    positions = global_positions(clip.with_motion(rest))
    np.testing.assert_allclose(positions, np.broadcast_to(rest_positions(clip), positions.shape))
    assert rest_positions(clip)[clip.joint_index("Toes_L")].tolist() == [10, 90 - 82 - 6, 12]


def test_local_rotations_follow_each_joints_channel_order() -> None:
    clip = parse_bvh(reactidle_like(2))
    shoulder = clip.joint_index("shoulder.L")  # YXZ
    values = clip.motion[1, clip.channel_columns(shoulder, "rotation")]
    np.testing.assert_allclose(local_rotations(clip)[1, shoulder], euler_to_matrix(values, "YXZ"))


def test_units_are_guessed_from_leg_length() -> None:
    assert guess_cm_per_unit(parse_bvh(bandai_like(2))) == 1.0
    assert guess_cm_per_unit(parse_bvh(reactidle_like(2))) == 100.0


# ----------------------------------------------------------------------------- features


def test_features_to_clip_to_features_round_trip(clip: Clip) -> None:
    smap = map_skeleton(clip)
    features = clip_features(clip, smap)
    decoded = features_to_clip(features, clip, smap)
    again = clip_features(decoded, smap)
    assert features.to_array().shape == (clip.n_frames, FEATURE_SIZE)
    np.testing.assert_allclose(again.to_array(), features.to_array(), atol=1e-6)
    np.testing.assert_allclose(again.start_position, features.start_position, atol=1e-6)
    assert abs(again.start_heading - features.start_heading) < 1e-6
    np.testing.assert_allclose(global_positions(decoded), global_positions(clip), atol=1e-6)
    _, original_rot = forward_kinematics(clip)
    _, decoded_rot = forward_kinematics(decoded)
    np.testing.assert_allclose(decoded_rot, original_rot, atol=1e-9)


def test_feature_array_round_trip_and_shape_check() -> None:
    features = clip_features(parse_bvh(cmu_like(6)))
    flat = features.to_array()
    back = MotionFeatures.from_array(flat, features.start_position, features.start_heading)
    np.testing.assert_array_equal(back.to_array(), flat)
    with pytest.raises(MotionError, match="feature array has shape"):
        MotionFeatures.from_array(flat[:, :-1], features.start_position, 0.0)


def _turned_walker(frames: int = 10) -> Clip:
    """Bandai-like rig facing +X (Hips yawed 90 deg) walking 3 cm/frame along +X, limbs still."""
    clip = parse_bvh(bandai_like(frames))
    motion = np.zeros_like(clip.motion)
    for j, joint in enumerate(clip.joints):
        motion[:, clip.channel_columns(j, "position")] = joint.offset
    hips = clip.joint_index("Hips")
    x, y, z, rz, rx, ry = clip.channel_columns(hips)
    motion[:, x] = 3.0 * np.arange(frames)
    motion[:, y] = 90.0
    motion[:, ry] = 90.0
    return clip.with_motion(motion)


def test_root_velocity_is_in_the_heading_frame() -> None:
    features = clip_features(_turned_walker())
    np.testing.assert_allclose(features.start_heading, np.pi / 2, atol=1e-12)
    np.testing.assert_allclose(features.root_velocity[1:], [[0.0, 3.0]] * 9, atol=1e-12)
    np.testing.assert_allclose(features.heading_velocity, 0.0, atol=1e-12)
    np.testing.assert_allclose(features.root_height, 90.0)
    # the Hips rotation with the heading removed is the identity
    np.testing.assert_allclose(features.rotations_6d[:, 0], [[1, 0, 0, 0, 1, 0]] * 10, atol=1e-12)


def test_contacts_mark_planted_feet() -> None:
    walker = _turned_walker()
    assert clip_features(walker).contacts.sum() == 0  # both feet slide at 90 cm/s
    standing = walker.with_motion(np.where(np.arange(walker.n_channels) == 6, 0.0, walker.motion))
    assert clip_features(standing).contacts.min() == 1.0


def test_decoding_onto_a_one_frame_template() -> None:
    clip = parse_bvh(bandai_like(12))
    decoded = features_to_clip(
        clip_features(clip), Clip(clip.joints, clip.frame_time, clip.motion[:1])
    )
    np.testing.assert_allclose(global_positions(decoded), global_positions(clip), atol=1e-9)
    with pytest.raises(MotionError, match="template has 3 frames"):
        features_to_clip(clip_features(clip), Clip(clip.joints, clip.frame_time, clip.motion[:3]))


def test_an_upper_body_edit_leaves_lower_body_features_alone() -> None:
    clip = parse_bvh(cmu_like(30))
    smap = map_skeleton(clip)
    before = clip_features(clip, smap)
    after = clip_features(interpolate_range(clip, 5, 20, "upper", smap), smap)
    lower = [i for i, name in enumerate(FEATURE_JOINTS) if name in LOWER_JOINTS]
    np.testing.assert_array_equal(after.root_velocity, before.root_velocity)
    np.testing.assert_array_equal(after.root_height, before.root_height)
    np.testing.assert_array_equal(after.heading_velocity, before.heading_velocity)
    np.testing.assert_array_equal(after.rotations_6d[:, lower], before.rotations_6d[:, lower])
    assert not np.allclose(after.rotations_6d, before.rotations_6d)


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


# ----------------------------------------------------------------------------- metrics


def test_metrics_are_zero_for_identical_clips(clip: Clip) -> None:
    metrics = motion_metrics(clip, clip, np.arange(5, 20))
    assert metrics.position_error_cm == 0.0 and metrics.rotation_error_deg == 0.0
    assert metrics.foot_skating_cm == metrics.reference_foot_skating_cm


def test_metrics_are_positive_for_a_different_prediction(clip: Clip) -> None:
    prediction = interpolate_range(clip, 5, 30)
    metrics = motion_metrics(clip, prediction, np.arange(5, 31))
    assert metrics.position_error_cm > 0 and metrics.rotation_error_deg > 0
    outside = motion_metrics(clip, prediction, [0, 1, 2, 35])
    assert outside.position_error_cm == 0.0 and outside.rotation_error_deg == 0.0


def test_position_error_is_in_centimetres() -> None:
    reference = parse_bvh(reactidle_like(10))  # metres
    motion = reference.motion.copy()
    motion[:, 0] += 0.01  # pelvis Xposition: 1 cm
    metrics = motion_metrics(reference, reference.with_motion(motion), range(10))
    assert metrics.position_error_cm == pytest.approx(1.0)
    assert metrics.rotation_error_deg == 0.0


def test_foot_skating_measures_sliding_planted_feet() -> None:
    walker = _turned_walker(10)  # feet at floor height, sliding 3 cm/frame with the hips
    assert foot_skating_cm(walker, range(10)) == pytest.approx(3.0)
    still = walker.with_motion(np.where(np.arange(walker.n_channels) == 6, 0.0, walker.motion))
    assert foot_skating_cm(still, range(10)) == 0.0
    assert motion_metrics(still, walker, range(10)).foot_skating_cm == pytest.approx(3.0)


def test_metric_frame_errors() -> None:
    clip = parse_bvh(bandai_like(10))
    with pytest.raises(MotionError, match="outside the clip's frames 0..9"):
        motion_metrics(clip, clip, [3, 10])
    with pytest.raises(MotionError, match="no frames"):
        motion_metrics(clip, clip, [])
    with pytest.raises(MotionError, match="share skeleton"):
        motion_metrics(clip, parse_bvh(bandai_like(11)), [1])
