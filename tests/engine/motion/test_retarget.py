"""Rig alignment: a clip on a rig with other joint frames, units, size and floor reads as ours.

The "foreign" clips are our own synthetic Bandai-like clip re-expressed on a rig whose
joint frames are turned at random (``tests/engine/motion/reframed_rig.py``), in metres, 10 %
smaller and standing a metre lower: the same motion, so the truth is known.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip, rig_from_record, rig_record
from engine.media.motion.features import clip_features, features_to_clip
from engine.media.motion.kinematics import global_positions
from engine.media.motion.retarget import (
    fit_rig,
    foot_floor,
    mean_pose_from_features,
    mean_pose_from_record,
    mean_pose_record,
)
from engine.media.motion.rig_alignment import ModelRig, rig_alignment
from engine.media.motion.rotations import geodesic_angle_deg, nearest_rotation, sixd_to_matrix
from engine.media.motion.skeleton import CANONICAL_JOINTS, SkeletonMap, map_skeleton
from tests.engine.motion.reframed_rig import foreign_copy
from tests.engine.motion.synthetic_bvh import bandai_like

SIZE = 0.9
METRES = 0.01
DROP_M = 1.0
LIMB_BONES = ("UpperArm", "LowerArm", "UpperLeg", "LowerLeg", "Foot")


@pytest.fixture(scope="module")
def ours() -> Clip:
    return parse_bvh(bandai_like(120, seed=3))


@pytest.fixture(scope="module")
def smap(ours: Clip) -> SkeletonMap:
    return map_skeleton(ours)


@pytest.fixture(scope="module")
def model(ours: Clip, smap: SkeletonMap) -> ModelRig:
    """Our rig, with the clip's own mean pose and floor standing in for the training data's."""
    rig = rig_from_record(rig_record(ours), ours.frame_time)
    mean = mean_pose_from_features([clip_features(ours, smap).to_array()])
    return ModelRig.from_rig(rig, mean, foot_floor(ours, smap))


@pytest.fixture(scope="module")
def turns(ours: Clip) -> np.ndarray:
    return nearest_rotation(np.random.default_rng(1).normal(size=(len(ours.joints), 3, 3)))


@pytest.fixture(scope="module")
def foreign(ours: Clip, turns: np.ndarray) -> Clip:
    return foreign_copy(ours, turns, SIZE * METRES, DROP_M)


def test_our_own_rig_is_read_as_it_is(ours: Clip, smap: SkeletonMap, model: ModelRig) -> None:
    assert rig_alignment(ours, smap, model) is None
    assert fit_rig(ours, smap, model) is None


def test_reframing_keeps_the_motion(ours: Clip, foreign: Clip) -> None:
    expected = global_positions(ours) * SIZE * METRES - np.array([0.0, DROP_M, 0.0])
    np.testing.assert_allclose(global_positions(foreign), expected, atol=1e-6)


def test_turned_joint_frames_are_found(
    foreign: Clip, smap: SkeletonMap, model: ModelRig, turns: np.ndarray
) -> None:
    fit = fit_rig(foreign, smap, model)
    assert fit is not None
    error = {
        name: float(geodesic_angle_deg(fit.corrections[k], turns[smap.sources[k]].T))
        for k, name in enumerate(CANONICAL_JOINTS)
        if k > 0
    }
    # the rig's geometry fixes the spine and chest; the hips' tilt comes from the mean pose,
    # here the clip's own
    assert max(error[name] for name in ("Hips", "Spine", "Chest")) < 0.5
    # a limb bone's twist comes from how the joints below it bend
    limbs = [error[f"{base}_{side}"] for base in LIMB_BONES for side in "LR"]
    assert max(limbs) < 6.0, error


def test_a_foreign_clip_gives_our_features(
    ours: Clip, foreign: Clip, smap: SkeletonMap, model: ModelRig
) -> None:
    fit = fit_rig(foreign, smap, model)
    assert fit is not None
    assert fit.cm_per_unit == pytest.approx(100.0 / SIZE)
    ours_features = clip_features(ours, smap)
    theirs = clip_features(foreign, smap, cm_per_unit=100.0, alignment=fit.corrections)
    height_cm = theirs.root_height * fit.cm_per_unit - fit.height_offset_cm
    np.testing.assert_allclose(height_cm, ours_features.root_height, atol=1e-6)
    np.testing.assert_allclose(
        theirs.root_velocity * fit.cm_per_unit, ours_features.root_velocity, atol=1e-6
    )
    angles = geodesic_angle_deg(
        sixd_to_matrix(ours_features.rotations_6d), sixd_to_matrix(theirs.rotations_6d)
    )
    trunk_and_limbs = [
        i - 1
        for i, name in enumerate(CANONICAL_JOINTS)
        if i > 0 and not name.startswith(("Hand", "Head", "Toes"))
    ]
    assert angles[:, trunk_and_limbs].mean() < 3.0


def test_aligned_features_decode_back_to_the_foreign_clip(
    foreign: Clip, smap: SkeletonMap, model: ModelRig
) -> None:
    fit = fit_rig(foreign, smap, model)
    assert fit is not None
    features = clip_features(foreign, smap, alignment=fit.corrections)
    decoded = features_to_clip(features, foreign, smap, fit.corrections)
    np.testing.assert_allclose(global_positions(decoded), global_positions(foreign), atol=1e-6)


def test_mean_pose_survives_its_json_record(model: ModelRig) -> None:
    record = json.loads(json.dumps(mean_pose_record(model.mean_pose)))
    restored = mean_pose_from_record(record)
    assert geodesic_angle_deg(restored, model.mean_pose).max() < 1e-3


def test_shipped_model_knows_its_training_pose() -> None:
    skeleton = Path(__file__).resolve().parents[3] / "assets/models/motion-mmm/skeleton.json"
    record = json.loads(skeleton.read_text())
    pose = mean_pose_from_record(record["mean_pose"])
    assert set(record["mean_pose"]) == set(CANONICAL_JOINTS)
    assert np.allclose(pose @ np.swapaxes(pose, -1, -2), np.eye(3), atol=1e-6)
    assert 0.0 < record["foot_floor_cm"] < 15.0
