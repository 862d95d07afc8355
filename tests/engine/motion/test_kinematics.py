"""Motion kinematics: forward kinematics, rest pose, local rotations, unit guessing."""

from __future__ import annotations

import numpy as np

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.kinematics import (
    forward_kinematics,
    global_positions,
    guess_cm_per_unit,
    local_rotations,
    rest_positions,
)
from engine.media.motion.rotations import axis_rotation, euler_to_matrix
from tests.engine.motion.synthetic_bvh import bandai_like, reactidle_like

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
