"""The same motion on a rig whose joint frames are turned: what a foreign rig looks like.

Each joint's frame is rotated by a constant ``frames[j]`` (``G'_j = G_j @ frames[j]``):
offsets, end sites and position channels are re-expressed in the turned parent frame and
the rotation channels rewritten, so every joint lands where it did (times the scale, less
the drop). Rigs from other tools differ from ours in just this way (bones along local X, Y
or world axes, other units, the ground elsewhere).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.kinematics import local_rotations, local_translations
from engine.media.motion.rotations import matrix_to_euler

FloatArray = npt.NDArray[np.float64]


def foreign_copy(clip: Clip, frames: FloatArray, scale: float = 1.0, drop: float = 0.0) -> Clip:
    """``clip`` on a rig whose joint ``j`` frame is turned by ``frames[j]`` ``[J, 3, 3]``,
    every length times ``scale`` (units, body size) and the whole motion ``drop`` lower (Y):
    the same motion as another tool's rig, in other units and with the ground elsewhere."""
    locals_ = local_rotations(clip)
    translations = local_translations(clip) * scale
    motion = clip.motion.copy()
    joints = []
    for index, joint in enumerate(clip.joints):
        turn = frames[index]
        parent_turn = frames[joint.parent] if joint.parent >= 0 else np.eye(3)
        local = parent_turn.T @ locals_[:, index] @ turn
        motion[:, clip.channel_columns(index, "rotation")] = matrix_to_euler(
            local, joint.rotation_order
        )
        position = clip.channel_columns(index, "position")
        if len(position):
            assert joint.position_axes == "XYZ", "the helper needs full XYZ positions"
            motion[:, position] = translations[:, index] @ parent_turn
            if joint.parent < 0:
                motion[:, position[1]] -= drop
        end_site = None if joint.end_site is None else turn.T @ np.array(joint.end_site) * scale
        offset = parent_turn.T @ np.array(joint.offset) * scale
        joints.append(
            replace(
                joint,
                offset=tuple(offset),
                end_site=None if end_site is None else tuple(end_site),
            )
        )
    return Clip(tuple(joints), clip.frame_time, motion, clip.decimals)
