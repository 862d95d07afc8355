"""Small synthetic BVH texts in the styles of the staged mocap sets (no real data is copied).

Joint names follow /work/shared/data/mocap/SKELETONS.md; offsets, channel values
and frame counts are made up: smooth sinusoids, so interpolation and blending
tests see plausible motion. Each style mimics its set's formatting (Bandai:
``%g`` numbers, 2-space indent, ZXY 6-channel joints everywhere; ReActIdle:
``%.6f``, tabs, mixed XYZ/YXZ orders and a 3-channel joint, metres; CMU on the CC
rig: ``%.6f``, 4-space indent, ZYX, 3-channel joints below a 6-channel root).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

POS = ("Xposition", "Yposition", "Zposition")
ZXY = POS + ("Zrotation", "Xrotation", "Yrotation")
XYZ6 = POS + ("Xrotation", "Yrotation", "Zrotation")
YXZ6 = POS + ("Yrotation", "Xrotation", "Zrotation")
XYZ3 = ("Xrotation", "Yrotation", "Zrotation")
ZYX3 = ("Zrotation", "Yrotation", "Xrotation")
ZYX6 = POS + ZYX3


@dataclass(frozen=True)
class Spec:
    name: str
    parent: str | None
    offset: tuple[float, float, float]
    channels: tuple[str, ...]
    end_site: tuple[float, float, float] | None = None


def _mirror(specs: Sequence[Spec], left: str, right: str) -> list[Spec]:
    """The right-side copy of left-side joints (x negated, names swapped)."""
    out = []
    for s in specs:
        end = None if s.end_site is None else (-s.end_site[0], s.end_site[1], s.end_site[2])
        parent = s.parent.replace(left, right) if s.parent else None
        out.append(
            Spec(
                s.name.replace(left, right),
                parent,
                (-s.offset[0], s.offset[1], s.offset[2]),
                s.channels,
                end,
            )
        )
    return out


def bandai_specs() -> list[Spec]:
    arm = [
        Spec("Shoulder_L", "Chest", (5, 15, 0), ZXY),
        Spec("UpperArm_L", "Shoulder_L", (10, 0, 0), ZXY),
        Spec("LowerArm_L", "UpperArm_L", (25, 0, 0), ZXY),
        Spec("Hand_L", "LowerArm_L", (25, 0, 0), ZXY, (10, 0, 0)),
    ]
    leg = [
        Spec("UpperLeg_L", "Hips", (10, 0, 0), ZXY),
        Spec("LowerLeg_L", "UpperLeg_L", (0, -42, 0), ZXY),
        Spec("Foot_L", "LowerLeg_L", (0, -40, 0), ZXY),
        Spec("Toes_L", "Foot_L", (0, -6, 12), ZXY, (0, 0, 5)),
    ]
    trunk = [
        Spec("joint_Root", None, (0, 0, 0), ZXY),
        Spec("Hips", "joint_Root", (0, 90, 0), ZXY),
        Spec("Spine", "Hips", (0, 10, 0), ZXY),
        Spec("Chest", "Spine", (0, 15, 0), ZXY),
        Spec("Neck", "Chest", (0, 20, 0), ZXY),
        Spec("Head", "Neck", (0, 10, 0), ZXY, (0, 15, 0)),
    ]
    return trunk + arm + _mirror(arm, "_L", "_R") + leg + _mirror(leg, "_L", "_R")


def reactidle_specs() -> list[Spec]:
    m = 0.01  # this set is in metres
    arm = [
        Spec("shoulder.L", "spine.001", (5 * m, 15 * m, 0), YXZ6),
        Spec("upper_arm.L", "shoulder.L", (10 * m, 0, 0), XYZ6),
        Spec("forearm.L", "upper_arm.L", (25 * m, 0, 0), XYZ6, (25 * m, 0, 0)),
    ]
    leg = [
        Spec("thigh.L", "pelvis", (10 * m, 0, 0), XYZ6),
        Spec("shin.L", "thigh.L", (0, -42 * m, 0), XYZ6),
        Spec("foot.L", "shin.L", (0, -40 * m, 0), XYZ6, (0, -6 * m, 12 * m)),
    ]
    trunk = [
        Spec("pelvis", None, (0, 90 * m, 0), XYZ6),
        Spec("spine", "pelvis", (0, 0, 0), XYZ6),
        Spec("spine.001", "spine", (0, 25 * m, 0), XYZ3),
        Spec("neck", "spine.001", (0, 20 * m, 0), XYZ6),
        Spec("face", "neck", (0, 10 * m, 0), XYZ6, (0, 15 * m, 0)),
    ]
    hip = [Spec("pelvis.L", "pelvis", (8 * m, 2 * m, 0), YXZ6, (0, 5 * m, 0))]
    return (
        trunk
        + arm
        + _mirror(arm, ".L", ".R")
        + hip
        + _mirror(hip, ".L", ".R")
        + leg
        + _mirror(leg, ".L", ".R")
    )


def cmu_specs(bone_root: bool = False) -> list[Spec]:
    """The CC rig (CC_Base_*) with a few of its unmapped bones: pelvis, waist, twists, a finger."""
    leg = [
        Spec("CC_Base_L_Thigh", "CC_Base_Pelvis", (10, 0, 0), ZYX3),
        Spec("CC_Base_L_Calf", "CC_Base_L_Thigh", (0, -42, 0), ZYX3),
        Spec("CC_Base_L_Foot", "CC_Base_L_Calf", (0, -40, 0), ZYX3),
        Spec("CC_Base_L_ToeBase", "CC_Base_L_Foot", (0, -6, 12), ZYX3, (0, 0, 5)),
        Spec("CC_Base_L_ThighTwist01", "CC_Base_L_Thigh", (0, -20, 0), ZYX3, (0, -5, 0)),
    ]
    arm = [
        Spec("CC_Base_L_Clavicle", "CC_Base_Spine02", (5, 12, 0), ZYX3),
        Spec("CC_Base_L_Upperarm", "CC_Base_L_Clavicle", (10, 0, 0), ZYX3),
        Spec("CC_Base_L_Forearm", "CC_Base_L_Upperarm", (25, 0, 0), ZYX3),
        Spec("CC_Base_L_Hand", "CC_Base_L_Forearm", (25, 0, 0), ZYX3),
        Spec("CC_Base_L_Index1", "CC_Base_L_Hand", (8, 0, 1), ZYX3, (3, 0, 0)),
    ]
    hip_parent = "RL_BoneRoot" if bone_root else None
    trunk = [
        Spec(
            "CC_Base_Hip",
            hip_parent,
            (0, 0, 90) if bone_root else (0, 90, 0),
            ZYX3 if bone_root else ZYX6,
        ),
        Spec("CC_Base_Pelvis", "CC_Base_Hip", (0, 0, 0), ZYX3),
    ]
    spine = [
        Spec("CC_Base_Waist", "CC_Base_Hip", (0, 5, 1), ZYX3),
        Spec("CC_Base_Spine01", "CC_Base_Waist", (0, 5, 0), ZYX3),
        Spec("CC_Base_Spine02", "CC_Base_Spine01", (0, 15, 0), ZYX3),
        Spec("CC_Base_NeckTwist01", "CC_Base_Spine02", (0, 20, 0), ZYX3),
        Spec("CC_Base_NeckTwist02", "CC_Base_NeckTwist01", (0, 4, 0), ZYX3),
        Spec("CC_Base_Head", "CC_Base_NeckTwist02", (0, 6, 0), ZYX3, (0, 15, 0)),
    ]
    root = [Spec("RL_BoneRoot", None, (0, 0, 0), ZYX6)] if bone_root else []
    return (
        root + trunk + leg + _mirror(leg, "_L_", "_R_") + spine + arm + _mirror(arm, "_L_", "_R_")
    )


def synthetic_motion(
    specs: Sequence[Spec],
    frames: int,
    carrier: str,
    seed: int = 0,
    unit: float = 1.0,
    fixed: dict[str, float] | None = None,
) -> np.ndarray:
    """Smooth channel values ``[frames, C]``: a forward walk of ``carrier`` plus swaying joints.

    Position channels hold the offset (as Bandai's do), except on ``carrier``, which
    moves along +z with a small bob. Rotations are sinusoids of 5-35 degrees; roots
    other than the carrier do not rotate. ``fixed`` pins channels (``"joint.Xrotation"``).
    """
    rng = np.random.default_rng(seed)
    t = np.arange(frames, dtype=np.float64)
    path = [0.3 * unit * np.sin(t / 7), 90 * unit + 2 * unit * np.sin(t / 3), 3 * unit * t]
    columns = []
    for spec in specs:
        for channel in spec.channels:
            axis = "XYZ".index(channel[0])
            amplitude, period, phase = rng.uniform(5, 35), rng.uniform(4, 12), rng.uniform(0, 6)
            if f"{spec.name}.{channel}" in (fixed or {}):
                columns.append(np.full(frames, (fixed or {})[f"{spec.name}.{channel}"]))
            elif channel.endswith("position"):
                columns.append(
                    path[axis] if spec.name == carrier else np.full(frames, spec.offset[axis])
                )
            elif spec.parent is None and spec.name != carrier:
                columns.append(np.zeros(frames))
            else:
                columns.append(amplitude * np.sin(t / period + phase))
    return np.stack(columns, axis=1)


def bvh_text(
    specs: Sequence[Spec],
    motion: np.ndarray,
    frame_time: str,
    number: Callable[[float], str],
    indent: str,
) -> str:
    """Format a hierarchy and channel values as BVH text in a given number and indent style."""
    children: dict[str | None, list[Spec]] = {}
    for spec in specs:
        children.setdefault(spec.parent, []).append(spec)
    lines = ["HIERARCHY"]

    def joint(spec: Spec, depth: int) -> None:
        pad = indent * depth
        lines.append(f"{pad}{'ROOT' if spec.parent is None else 'JOINT'} {spec.name}")
        lines.append(f"{pad}{{")
        lines.append(f"{pad}{indent}OFFSET " + " ".join(number(v) for v in spec.offset))
        lines.append(f"{pad}{indent}CHANNELS {len(spec.channels)} " + " ".join(spec.channels))
        if spec.end_site is not None:
            lines.extend(
                [
                    f"{pad}{indent}End Site",
                    f"{pad}{indent}{{",
                    f"{pad}{indent * 2}OFFSET " + " ".join(number(v) for v in spec.end_site),
                    f"{pad}{indent}}}",
                ]
            )
        for child in children.get(spec.name, []):
            joint(child, depth + 1)
        lines.append(f"{pad}}}")

    for root in children[None]:
        joint(root, 0)
    lines += ["MOTION", f"Frames: {len(motion)}", f"Frame Time: {frame_time}"]
    lines += [" ".join(number(v) for v in row) for row in motion]
    return "\n".join(lines) + "\n"


def _g(value: float) -> str:
    return f"{value:.6g}"


def _f6(value: float) -> str:
    return f"{value:.6f}"


def bandai_like(frames: int = 16, seed: int = 0) -> str:
    specs = bandai_specs()
    return bvh_text(specs, synthetic_motion(specs, frames, "Hips", seed), "0.0333333", _g, "  ")


def reactidle_like(frames: int = 16, seed: int = 1) -> str:
    specs = reactidle_specs()
    return bvh_text(
        specs, synthetic_motion(specs, frames, "pelvis", seed, unit=0.01), "0.041667", _f6, "\t"
    )


def cmu_like(frames: int = 16, seed: int = 2, bone_root: bool = False) -> str:
    """CC rig clip; ``bone_root`` adds RL_BoneRoot above the hip, carrying the translation and a
    constant -90 degree X rotation, like the four Z-up clips of the staged set."""
    specs = cmu_specs(bone_root)
    carrier = "RL_BoneRoot" if bone_root else "CC_Base_Hip"
    fixed = {"RL_BoneRoot.Xrotation": -90.0} if bone_root else None
    motion = synthetic_motion(specs, frames, carrier, seed, fixed=fixed)
    return bvh_text(specs, motion, "0.016667", _f6, "    ")


STYLES: dict[str, Callable[..., str]] = {
    "bandai": bandai_like,
    "reactidle": reactidle_like,
    "cmu": cmu_like,
}


def names_bvh(names_and_parents: Sequence[tuple[str, str | None]]) -> str:
    """A one-frame BVH with the given joint names (3 rotation channels, root with positions)."""
    specs = [
        Spec(name, parent, (0.0, 10.0 if parent else 90.0, 0.0), ZYX6 if parent is None else ZYX3)
        for name, parent in names_and_parents
    ]
    return bvh_text(
        specs, np.zeros((1, sum(len(s.channels) for s in specs))), "0.033333", _f6, "\t"
    )
