"""Clips shared by the motion clip tests: one per staged rig style, and a walker of known motion."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip
from tests.engine.motion.synthetic_bvh import bandai_like, cmu_like, reactidle_like

CLIPS: dict[str, Callable[[], Clip]] = {
    "bandai": lambda: parse_bvh(bandai_like(40)),
    "reactidle": lambda: parse_bvh(reactidle_like(40)),
    "cmu": lambda: parse_bvh(cmu_like(40)),
    "cmu_bone_root": lambda: parse_bvh(cmu_like(40, bone_root=True)),
}


def turned_walker(frames: int = 10) -> Clip:
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
