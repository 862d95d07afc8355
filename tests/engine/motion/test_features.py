"""Motion features and their inverse: round trips, the heading frame, contacts, templates."""

from __future__ import annotations

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, MotionError
from engine.media.motion.editing import interpolate_range
from engine.media.motion.features import (
    FEATURE_JOINTS,
    FEATURE_SIZE,
    MotionFeatures,
    clip_features,
    features_to_clip,
)
from engine.media.motion.kinematics import forward_kinematics, global_positions
from engine.media.motion.skeleton import LOWER_JOINTS, map_skeleton
from tests.engine.motion.clip_cases import turned_walker
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like


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


def test_root_velocity_is_in_the_heading_frame() -> None:
    features = clip_features(turned_walker())
    np.testing.assert_allclose(features.start_heading, np.pi / 2, atol=1e-12)
    np.testing.assert_allclose(features.root_velocity[1:], [[0.0, 3.0]] * 9, atol=1e-12)
    np.testing.assert_allclose(features.heading_velocity, 0.0, atol=1e-12)
    np.testing.assert_allclose(features.root_height, 90.0)
    # the Hips rotation with the heading removed is the identity
    np.testing.assert_allclose(features.rotations_6d[:, 0], [[1, 0, 0, 0, 1, 0]] * 10, atol=1e-12)


def test_contacts_mark_planted_feet() -> None:
    walker = turned_walker()
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
