"""Left-right mirroring of motion features (training augmentation) on the shipped Bandai rig."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.media.motion.clip import Clip, rig_from_record
from engine.media.motion.features import FEATURE_SIZE, MotionFeatures, features_to_clip
from engine.media.motion.kinematics import global_positions
from engine.train.motion.data import (
    MotionTake,
    mirror_axes,
    mirror_features,
    twin,
    with_mirrored,
)

RIG_FILE = Path(__file__).resolve().parents[3] / "assets/models/motion-mmm/skeleton.json"
RIG_ASYMMETRY_CM = 0.1
"""The Bandai rig's left and right offsets differ by up to 0.04 cm (LowerLeg_R)."""


@pytest.fixture(scope="module")
def rig() -> Clip:
    """The shipped skeleton, posed by its offsets (Bandai joints carry position channels)."""
    bare = rig_from_record(json.loads(RIG_FILE.read_text()), 1 / 30)
    motion = bare.motion.copy()
    for index, joint in enumerate(bare.joints):
        columns = bare.channel_columns(index, "position")
        if len(columns):
            motion[0, columns] = joint.offset
    return Clip(bare.joints, bare.frame_time, motion, bare.decimals)


def random_features(frames: int, seed: int) -> np.ndarray:
    """Arbitrary but valid features: random rotations, root velocities, heading turns, contacts."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(frames, FEATURE_SIZE)).astype(np.float32)
    features[:, 0:2] *= 3.0
    features[:, 2] = 90.0 + rng.normal(size=frames)
    features[:, 3] *= 0.1
    features[:, -2:] = rng.random((frames, 2)) < 0.5
    return features


def positions(features: np.ndarray, rig: Clip) -> np.ndarray:
    decoded = MotionFeatures.from_array(features, start_position=[0.0, 0.0], start_heading=0.0)
    return global_positions(features_to_clip(decoded, rig))


def test_mirror_axes_map_each_child_offset_onto_its_twin(rig: Clip) -> None:
    names = [joint.name for joint in rig.joints]
    checked = 0
    for joint in rig.joints[1:]:  # joint_Root is not a model joint
        parent = rig.joints[joint.parent]
        if parent.name == "joint_Root":
            continue
        twin_offset = np.array(rig.joints[names.index(twin(joint.name))].offset)
        mapped = mirror_axes(parent.name) * np.array(joint.offset)
        assert np.abs(mapped - twin_offset).max() < RIG_ASYMMETRY_CM, joint.name
        checked += 1
    assert checked == 20


def test_mirrored_features_decode_to_the_mirrored_pose(rig: Clip) -> None:
    features = random_features(24, seed=3)
    original = positions(features, rig)
    mirrored = positions(mirror_features(features), rig)
    names = [joint.name for joint in rig.joints]
    twins = [names.index(twin(name)) for name in names]
    reflected = mirrored[:, twins] * np.array([-1.0, 1.0, 1.0])
    assert np.abs(original - mirrored).max() > 10.0  # the pose really changed
    assert np.abs(reflected - original).max() < RIG_ASYMMETRY_CM


def test_mirroring_twice_gives_the_features_back() -> None:
    features = random_features(16, seed=4)
    once = mirror_features(features)
    assert not np.allclose(once, features)
    np.testing.assert_array_equal(mirror_features(once), features)


def test_mirror_swaps_contacts_and_turns_the_other_way() -> None:
    features = random_features(8, seed=5)
    mirrored = mirror_features(features)
    np.testing.assert_array_equal(mirrored[:, -2:], features[:, [-1, -2]])
    np.testing.assert_array_equal(mirrored[:, [0, 3]], -features[:, [0, 3]])
    np.testing.assert_array_equal(mirrored[:, [1, 2]], features[:, [1, 2]])


def test_with_mirrored_keeps_the_takes_and_appends_one_mirror_each() -> None:
    takes = [MotionTake(f"take_{i}.bvh", random_features(10, seed=i)) for i in range(3)]
    doubled = with_mirrored(takes)
    assert doubled[:3] == takes
    assert [t.name for t in doubled[3:]] == [f"take_{i}.bvh~mirrored" for i in range(3)]
    np.testing.assert_array_equal(doubled[4].features, mirror_features(takes[1].features))
