"""How much a stretch of motion moves: the Hips' speed and the hands' and feet's around it.

Both the split evaluation (``engine.train.motion.activity``) and the fill repair
(``engine.media.motion.fill_repair``) sort motion by it, so both read it the same way.
Speeds are in cm per 30-fps frame whatever the clip's rate and unit.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.kinematics import global_positions, guess_cm_per_unit
from engine.media.motion.skeleton import SkeletonMap

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]


@dataclass(frozen=True)
class Energy:
    """Mean horizontal Hips speed (``root``) and mean speed of the hands and feet relative to
    the Hips (``limbs``), cm per 30-fps frame."""

    root: float
    limbs: float


def limb_joints(smap: SkeletonMap) -> IndexArray:
    """Hands (the forearms on a rig without hands) and feet: the end effectors."""
    names = [
        f"Hand_{s}" if smap.source_of(f"Hand_{s}") is not None else f"LowerArm_{s}" for s in "LR"
    ]
    found = [smap.source_of(n) for n in [*names, "Foot_L", "Foot_R"]]
    return np.array([i for i in found if i is not None], dtype=np.intp)


def motion_energy(
    positions_cm: FloatArray, hips: int, limbs: IndexArray, per_model_frame: float
) -> Energy:
    """:class:`Energy` of global positions ``[F, J, 3]`` (cm, Y up); ``per_model_frame`` is
    clip frames per 30-fps frame (2.0 for a 60-fps clip)."""
    if len(positions_cm) < 2:
        return Energy(0.0, 0.0)
    root = np.linalg.norm(np.diff(positions_cm[:, hips, [0, 2]], axis=0), axis=-1)
    relative = positions_cm[:, limbs] - positions_cm[:, hips : hips + 1]
    limb = np.linalg.norm(np.diff(relative, axis=0), axis=-1)
    return Energy(float(root.mean() * per_model_frame), float(limb.mean() * per_model_frame))


def context_energy(clip: Clip, first: int, last: int, frames: int, smap: SkeletonMap) -> Energy:
    """The larger :class:`Energy` of the ``frames`` kept frames before and after a range."""
    hips = smap.source_of("Hips")
    if hips is None:
        return Energy(float("inf"), float("inf"))
    cm = guess_cm_per_unit(clip, smap)
    limbs = limb_joints(smap)
    sides = [(max(first - frames, 0), first), (last + 1, min(last + 1 + frames, clip.n_frames))]
    found = [
        motion_energy(
            global_positions(clip.with_motion(clip.motion[a:b])) * cm, hips, limbs, clip.fps / 30.0
        )
        for a, b in sides
        if b - a >= 2
    ]
    if not found:
        return Energy(float("inf"), float("inf"))
    return Energy(max(e.root for e in found), max(e.limbs for e in found))
