"""The same motion on a rig whose joint frames are turned: what a foreign rig looks like.

Each joint's frame is rotated by a constant ``frames[j]`` (``G'_j = G_j @ frames[j]``):
offsets, end sites and position channels are re-expressed in the turned parent frame and
the rotation channels rewritten, so every joint lands exactly where it did. Rigs from
other tools differ from ours in just this way (bones along local X, Y or world axes).
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import numpy.typing as npt

from engine.media.bvh import Clip
from engine.media.motion import local_rotations, local_translations
from engine.media.rotations import matrix_to_euler

FloatArray = npt.NDArray[np.float64]


def reframe(clip: Clip, frames: FloatArray) -> Clip:
    """``clip`` on a rig whose joint ``j`` frame is turned by ``frames[j]`` ``[J, 3, 3]``."""
    locals_ = local_rotations(clip)
    translations = local_translations(clip)
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
        end_site = None if joint.end_site is None else tuple(turn.T @ np.array(joint.end_site))
        offset = tuple(parent_turn.T @ np.array(joint.offset))
        joints.append(replace(joint, offset=offset, end_site=end_site))
    return Clip(tuple(joints), clip.frame_time, motion, clip.decimals)


def resized(clip: Clip, factor: float, drop: float) -> Clip:
    """``clip`` with every length times ``factor`` and the whole motion ``drop`` lower (Y).

    What a rig in other units, of another body size, or with the ground elsewhere gives.
    """
    translations = local_translations(clip)
    motion = clip.motion.copy()
    joints = []
    for index, joint in enumerate(clip.joints):
        position = clip.channel_columns(index, "position")
        if len(position):
            assert joint.position_axes == "XYZ", "the helper needs full XYZ positions"
            values = translations[:, index] * factor
            if joint.parent < 0:
                values[:, 1] -= drop
            motion[:, position] = values
        end_site = None if joint.end_site is None else tuple(np.array(joint.end_site) * factor)
        offset = tuple(np.array(joint.offset) * factor)
        joints.append(replace(joint, offset=offset, end_site=end_site))
    return Clip(tuple(joints), clip.frame_time, motion, clip.decimals)
