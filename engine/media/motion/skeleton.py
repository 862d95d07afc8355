"""The model's canonical skeleton and the mapping of other rigs' joints onto it.

The canonical skeleton is the Bandai-Namco rig (22 joints, Y-up), because the
first motion model trains on it. Other rigs (ReActIdle, the CMU clips retargeted
to the Reallusion CC rig, Mixamo, the original CMU skeleton, 3ds Max Biped, UE)
are mapped by joint *name*: names are normalised (case, separators, namespace and
rig prefixes such as ``mixamorig:``, ``CC_Base_``, ``Bip01 ``) and looked up in an
alias table. Source joints that map to nothing (twist bones, fingers, a CC
``Pelvis`` between hip and thighs, CMU's ``LHipJoint``) stay in the clip; their
rotations are composed into the next mapped joint when features are computed.

Body parts, for partial edits:

- ``lower``: ``Root``, ``Hips`` and the legs. **Hips belongs to ``lower``**: its
  position is the root trajectory and its rotation the pelvis, both of which the
  feet depend on. An ``upper`` edit keeps the pelvis and the trajectory exactly,
  so foot contacts cannot break; a ``lower`` edit moves the upper body only
  through the pelvis it hangs from, its local rotations stay as they were.
- ``upper``: ``Spine`` and everything above it (chest, neck, head, both arms).
- ``full``: every joint.

An unmapped source joint belongs to the part of the first mapped joints below it
(a CC ``Waist`` goes with ``Spine``, a ``Pelvis`` with the thighs; ``lower`` wins
when both are below it), else to its nearest mapped ancestor (fingers go with
the hand, twist bones with their limb), else to ``lower``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip

CANONICAL_JOINTS: tuple[str, ...] = (
    "Root", "Hips", "Spine", "Chest", "Neck", "Head",
    "Shoulder_L", "UpperArm_L", "LowerArm_L", "Hand_L",
    "Shoulder_R", "UpperArm_R", "LowerArm_R", "Hand_R",
    "UpperLeg_L", "LowerLeg_L", "Foot_L", "Toes_L",
    "UpperLeg_R", "LowerLeg_R", "Foot_R", "Toes_R",
)  # fmt: skip
"""The 22 canonical joints in Bandai-Namco file order (``Root`` is Bandai's ``joint_Root``)."""

CANONICAL_PARENTS: tuple[int, ...] = (
    -1, 0, 1, 2, 3, 4, 3, 6, 7, 8, 3, 10, 11, 12, 1, 14, 15, 16, 1, 18, 19, 20,
)  # fmt: skip

OPTIONAL_JOINTS: frozenset[str] = frozenset(
    {"Root", "Chest", "Neck", "Shoulder_L", "Shoulder_R", "Hand_L", "Hand_R", "Toes_L", "Toes_R"}
)
"""Canonical joints a rig may lack: ReActIdle has no hands, toes or root; the rest are required."""

PARTS: tuple[str, ...] = ("full", "upper", "lower")
UPPER_JOINTS: frozenset[str] = frozenset(
    {"Spine", "Chest", "Neck", "Head"}
    | {f"{base}_{side}" for base in ("Shoulder", "UpperArm", "LowerArm", "Hand") for side in "LR"}
)
LOWER_JOINTS: frozenset[str] = frozenset(CANONICAL_JOINTS) - UPPER_JOINTS


class SkeletonError(ValueError):
    """A rig whose joints cannot be mapped to the canonical skeleton; the message is one line."""


_CENTRAL_ALIASES: dict[str, tuple[str, ...]] = {
    # Priority order matters where one rig has several candidates: a CC rig has both
    # CC_Base_Hip (the root, chosen) and CC_Base_Pelvis; Mixamo has Spine1 and Spine2.
    "Root": ("root", "jointroot", "rlboneroot", "boneroot", "reference"),
    "Hips": ("hips", "hip", "pelvis"),
    "Spine": ("spine", "spine01", "waist", "lowerback", "abdomen"),
    "Chest": (
        "chest",
        "upperchest",
        "spine03",
        "spine3",
        "spine02",
        "spine2",
        "spine001",
        "spine1",
    ),
    "Neck": ("neck", "neck01", "necktwist01", "neck1"),
    "Head": ("head", "face"),
}
_SIDED_ALIASES: dict[str, tuple[str, ...]] = {
    "Shoulder": ("shoulder", "clavicle", "collar"),
    "UpperArm": ("upperarm", "arm", "uparm"),
    "LowerArm": ("lowerarm", "forearm", "elbow"),
    "Hand": ("hand", "wrist"),
    "UpperLeg": ("upperleg", "upleg", "thigh"),
    "LowerLeg": ("lowerleg", "leg", "calf", "shin", "knee"),
    "Foot": ("foot", "ankle"),
    "Toes": ("toes", "toe", "toebase", "toe0", "ball"),
}
_SIDE_SPELLINGS = {"L": ("l", "left"), "R": ("r", "right")}


def _sided(base: str, side: str) -> tuple[str, ...]:
    """Normalised spellings of a sided joint: lthigh, thighl, leftthigh, thighleft."""
    letter, word = _SIDE_SPELLINGS[side]
    return (letter + base, base + letter, word + base, base + word)


def _alias_table() -> dict[str, tuple[str, ...]]:
    table = dict(_CENTRAL_ALIASES)
    for base, names in _SIDED_ALIASES.items():
        for side in "LR":
            table[f"{base}_{side}"] = tuple(a for name in names for a in _sided(name, side))
    return table


ALIASES: dict[str, tuple[str, ...]] = _alias_table()
"""Canonical joint -> normalised source names, best first (see :func:`normalize_joint_name`)."""

_PREFIX = re.compile(r"^(cc_base_|bip\d+[ _]|mixamorig\d*_|def-|b_)")


def normalize_joint_name(name: str) -> str:
    """Lower-case, namespace-, prefix- and separator-free form used for alias lookup.

    ``mixamorig:LeftUpLeg`` -> ``leftupleg``; ``CC_Base_L_Thigh`` -> ``lthigh``;
    ``Bip01 L Thigh`` -> ``lthigh``; ``thigh.L`` -> ``thighl``; ``UpperLeg_L`` -> ``upperlegl``.
    """
    text = name.strip().lower()
    text = re.split(r"[:|]", text)[-1]  # namespaces (mixamorig:, character1:) and Maya DAG paths
    text = _PREFIX.sub("", text)
    return re.sub(r"[^a-z0-9]", "", text)


@dataclass(frozen=True)
class SkeletonMap:
    """How one rig's joints correspond to the canonical skeleton.

    ``sources[c]`` is the source joint index for canonical joint ``c`` (in
    :data:`CANONICAL_JOINTS` order), or ``None`` for an optional joint the rig lacks.
    ``source_parts[s]`` is ``"upper"`` or ``"lower"`` for every source joint.
    """

    source_names: tuple[str, ...]
    source_parents: tuple[int, ...]
    sources: tuple[int | None, ...]
    source_parts: tuple[str, ...]

    def source_of(self, canonical: str) -> int | None:
        """The source joint index mapped to a canonical joint name (``None`` if absent)."""
        return self.sources[CANONICAL_JOINTS.index(canonical)]

    @property
    def mapped(self) -> dict[str, str]:
        """Canonical name -> source name for the joints that are present (for reports and UIs)."""
        return {
            c: self.source_names[s]
            for c, s in zip(CANONICAL_JOINTS, self.sources, strict=True)
            if s is not None
        }

    @property
    def missing(self) -> tuple[str, ...]:
        """Optional canonical joints this rig does not have."""
        return tuple(c for c, s in zip(CANONICAL_JOINTS, self.sources, strict=True) if s is None)

    def part_joints(self, part: str) -> npt.NDArray[np.intp]:
        """Source joint indices whose channels belong to ``part`` (full, upper or lower)."""
        check_part(part)
        return np.array(
            [s for s, p in enumerate(self.source_parts) if part == "full" or p == part],
            dtype=np.intp,
        )


def check_part(part: str) -> None:
    if part not in PARTS:
        raise ValueError(f"unknown body part {part!r}; expected one of {', '.join(PARTS)}")


def map_skeleton(clip: Clip) -> SkeletonMap:
    """Map ``clip``'s joints onto the canonical skeleton, or raise :class:`SkeletonError`."""
    names, parents = clip.names, clip.parents
    sources = _match_names(names)
    missing = [
        c
        for c, s in zip(CANONICAL_JOINTS, sources, strict=True)
        if s is None and c not in OPTIONAL_JOINTS
    ]
    if missing:
        raise SkeletonError(
            f"cannot map skeleton: missing joints {', '.join(missing)} (found: {_shortlist(names)})"
        )
    _check_structure(sources, names, parents)
    return SkeletonMap(names, parents, sources, _source_parts(sources, parents))


def _match_names(names: Sequence[str]) -> tuple[int | None, ...]:
    """Each canonical joint's best alias match; a source joint is used at most once."""
    by_name: dict[str, list[int]] = {}
    for index, name in enumerate(names):
        by_name.setdefault(normalize_joint_name(name), []).append(index)
    used: set[int] = set()
    sources: list[int | None] = []
    for canonical in CANONICAL_JOINTS:
        found = next(
            (i for alias in ALIASES[canonical] for i in by_name.get(alias, []) if i not in used),
            None,
        )
        if found is not None:
            used.add(found)
        sources.append(found)
    return tuple(sources)


def _check_structure(
    sources: Sequence[int | None], names: Sequence[str], parents: Sequence[int]
) -> None:
    """Each mapped joint must lie below its nearest mapped canonical ancestor (catches swaps)."""
    for canonical, source in enumerate(sources):
        if source is None:
            continue
        ancestor = _mapped_canonical_parent(canonical, sources)
        if ancestor is None:
            continue
        above = sources[ancestor]
        assert above is not None
        if not _is_ancestor(above, source, parents):
            raise SkeletonError(
                f"cannot map skeleton: {names[source]!r} (as {CANONICAL_JOINTS[canonical]}) "
                f"is not below {names[above]!r} (as {CANONICAL_JOINTS[ancestor]})"
            )


def _mapped_canonical_parent(canonical: int, sources: Sequence[int | None]) -> int | None:
    parent = CANONICAL_PARENTS[canonical]
    while parent >= 0 and sources[parent] is None:
        parent = CANONICAL_PARENTS[parent]
    return parent if parent >= 0 else None


def _is_ancestor(ancestor: int, joint: int, parents: Sequence[int]) -> bool:
    node = parents[joint]
    while node >= 0:
        if node == ancestor:
            return True
        node = parents[node]
    return False


def _source_parts(sources: Sequence[int | None], parents: Sequence[int]) -> tuple[str, ...]:
    canonical_of = {s: c for c, s in enumerate(sources) if s is not None}
    part_of_mapped = {
        s: ("upper" if CANONICAL_JOINTS[c] in UPPER_JOINTS else "lower")
        for s, c in canonical_of.items()
    }
    children: list[list[int]] = [[] for _ in parents]
    for index, parent in enumerate(parents):
        if parent >= 0:
            children[parent].append(index)
    parts: list[str] = []
    for joint in range(len(parents)):
        if joint in part_of_mapped:
            parts.append(part_of_mapped[joint])
            continue
        below = _parts_below(joint, children, part_of_mapped)
        if below:
            parts.append("lower" if "lower" in below else "upper")
            continue
        node = parents[joint]
        while node >= 0 and node not in part_of_mapped:
            node = parents[node]
        parts.append(part_of_mapped[node] if node >= 0 else "lower")
    return tuple(parts)


def _parts_below(
    joint: int, children: Sequence[Sequence[int]], part_of_mapped: dict[int, str]
) -> set[str]:
    """Parts of the first mapped joints on every path down from ``joint``."""
    found: set[str] = set()
    stack = list(children[joint])
    while stack:
        node = stack.pop()
        if node in part_of_mapped:
            found.add(part_of_mapped[node])
        else:
            stack.extend(children[node])
    return found


def _shortlist(names: Sequence[str], limit: int = 24) -> str:
    shown = ", ".join(names[:limit])
    return shown if len(names) <= limit else f"{shown}, ... ({len(names) - limit} more)"
