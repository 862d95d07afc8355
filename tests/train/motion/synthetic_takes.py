"""Training takes made from synthetic Bandai-rig clips (the motion trainers' test data)."""

from __future__ import annotations

from engine.media.motion.bvh import parse_bvh
from engine.train.motion import data as motion_data
from tests.engine.motion.synthetic_bvh import bandai_like


def synthetic_takes(count: int, first_frames: int) -> list[motion_data.MotionTake]:
    """``count`` takes of ``first_frames``, +8, +16 ... frames, each from its own seed."""
    return [
        motion_data.clip_to_take(
            f"take_{i:03d}.bvh", parse_bvh(bandai_like(first_frames + 8 * i, seed=i))
        )
        for i in range(count)
    ]
