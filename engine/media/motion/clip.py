"""The :class:`Clip` every motion module exchanges: a hierarchy and its raw channel values.

A :class:`Clip` keeps the channel values exactly as a file gave them (``motion``,
float64 ``[F, C]``, columns in file order), so writing it back gives the same numbers
and compositing can copy untouched frames bit-exact. Any hierarchy is accepted: one
or more roots, per-joint channel lists in any order, position channels on any joint,
End Sites. Files are read by ``engine.media.motion.bvh`` and written by
``engine.media.motion.bvh_writer``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
Vec3 = tuple[float, float, float]

POSITION_CHANNELS = ("Xposition", "Yposition", "Zposition")
ROTATION_CHANNELS = ("Xrotation", "Yrotation", "Zrotation")


class MotionError(ValueError):
    """An edit that cannot be done on this clip (bad range, part, or skeleton); one-line message."""


@dataclass(frozen=True)
class Joint:
    """One joint of a BVH hierarchy.

    ``parent`` indexes the clip's joint tuple (-1 for a root); joints are stored in
    file order, so a parent always comes before its children. ``channels`` uses the
    canonical spelling (``Xposition`` ... ``Zrotation``); ``end_site`` is the End
    Site offset when the joint has one.
    """

    name: str
    parent: int
    offset: Vec3
    channels: tuple[str, ...]
    end_site: Vec3 | None = None

    @property
    def rotation_order(self) -> str:
        """Rotation axes in channel order, e.g. ``"ZXY"`` (``R = Rz @ Rx @ Ry``); may be empty."""
        return "".join(c[0] for c in self.channels if c in ROTATION_CHANNELS)

    @property
    def position_axes(self) -> str:
        """The axes with a position channel, in channel order (``"XYZ"`` for a typical root)."""
        return "".join(c[0] for c in self.channels if c in POSITION_CHANNELS)


@dataclass(frozen=True, eq=False)
class Clip:
    """A motion clip as a BVH file holds it.

    ``motion`` is float64 ``[F, C]``: one row per frame, the channels of all joints
    in file order (``channel_start[j]`` is joint ``j``'s first column). It is stored
    as a read-only copy so a clip can be shared between threads and documents.
    ``decimals`` records a fixed-point input style (see ``engine.media.motion.bvh``);
    ``None`` means shortest round-trip text.
    """

    joints: tuple[Joint, ...]
    frame_time: float
    motion: FloatArray
    decimals: int | None = None
    channel_start: tuple[int, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        _check_joints(self.joints)
        starts = np.cumsum([0] + [len(j.channels) for j in self.joints])
        object.__setattr__(self, "channel_start", tuple(int(s) for s in starts[:-1]))
        motion = np.array(self.motion, dtype=np.float64, copy=True)
        if motion.ndim != 2 or motion.shape[1] != int(starts[-1]):
            raise ValueError(
                f"motion has shape {motion.shape}; expected [frames, {int(starts[-1])}]"
            )
        if not (np.isfinite(self.frame_time) and self.frame_time > 0):
            raise ValueError(f"frame time must be a positive number, got {self.frame_time}")
        motion.flags.writeable = False
        object.__setattr__(self, "motion", motion)

    @property
    def n_frames(self) -> int:
        return int(self.motion.shape[0])

    @property
    def n_channels(self) -> int:
        return int(self.motion.shape[1])

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(j.name for j in self.joints)

    @property
    def parents(self) -> tuple[int, ...]:
        return tuple(j.parent for j in self.joints)

    @property
    def fps(self) -> float:
        return 1.0 / self.frame_time

    @property
    def offsets(self) -> FloatArray:
        """Joint offsets ``[J, 3]`` from the hierarchy."""
        return np.array([j.offset for j in self.joints], dtype=np.float64).reshape(-1, 3)

    def joint_index(self, name: str) -> int:
        """The index of the joint called ``name`` (exact match); ``KeyError`` when absent."""
        for index, joint in enumerate(self.joints):
            if joint.name == name:
                return index
        raise KeyError(f"no joint named {name!r}")

    def channel_columns(self, joint: int, kind: str = "all") -> npt.NDArray[np.intp]:
        """Motion columns of one joint: ``kind`` is ``"all"``, ``"position"`` or ``"rotation"``."""
        allowed = {
            "all": POSITION_CHANNELS + ROTATION_CHANNELS,
            "position": POSITION_CHANNELS,
            "rotation": ROTATION_CHANNELS,
        }[kind]
        start = self.channel_start[joint]
        chans = self.joints[joint].channels
        return np.array([start + i for i, c in enumerate(chans) if c in allowed], dtype=np.intp)

    def with_motion(self, motion: npt.ArrayLike) -> Clip:
        """The same skeleton and timing with new channel values (same column layout)."""
        return replace(self, motion=np.asarray(motion, dtype=np.float64))


def _check_joints(joints: Sequence[Joint]) -> None:
    """Reject hierarchies the rest of the engine could not walk (parents must come first)."""
    if not joints:
        raise ValueError("a clip needs at least one joint")
    for index, joint in enumerate(joints):
        if not -1 <= joint.parent < index:
            raise ValueError(
                f"joint {joint.name!r} has parent {joint.parent}; parents must precede children"
            )
        unknown = [c for c in joint.channels if c not in POSITION_CHANNELS + ROTATION_CHANNELS]
        if unknown:
            raise ValueError(f"joint {joint.name!r} has unknown channels {unknown}")


def rig_record(clip: Clip) -> dict[str, object]:
    """The hierarchy of ``clip`` as JSON-ready data (no motion): a model's ``skeleton.json``."""
    return {
        "joints": [
            {
                "name": j.name,
                "parent": j.parent,
                "offset": list(j.offset),
                "channels": list(j.channels),
                "end_site": list(j.end_site) if j.end_site else None,
            }
            for j in clip.joints
        ]
    }


def rig_from_record(record: Mapping[str, Any], frame_time: float) -> Clip:
    """A one-frame clip, every channel zero, of a :func:`rig_record` hierarchy."""
    joints = tuple(
        Joint(
            j["name"],
            int(j["parent"]),
            tuple(j["offset"]),
            tuple(j["channels"]),
            tuple(j["end_site"]) if j.get("end_site") else None,
        )
        for j in record["joints"]
    )
    channels = sum(len(j.channels) for j in joints)
    return Clip(joints, frame_time, np.zeros((1, channels)))
