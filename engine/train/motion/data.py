"""Motion training data: Bandai-Namco BVH archives -> per-frame features, take split, windows.

Clips are read straight from the ``.tar.xz`` archives under ``../shared/data/mocap``
(nothing is copied into the repository), parsed with :func:`engine.media.motion.bvh.parse_bvh`
and turned into the canonical 132-wide features of
:func:`engine.media.motion.features.clip_features`
(Bandai is 30 fps and cm already, the model's rate and unit).

The train/validation split is by take: a file goes to validation when the CRC32 of
its file name falls in the held-out tenth, so no frame of a held-out take is ever
trained on. Normalisation statistics come from the train takes only.
"""

from __future__ import annotations

import tarfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.media.motion.bvh import parse_bvh
from engine.media.motion.clip import Clip
from engine.media.motion.features import FEATURE_JOINTS, FEATURE_SIZE, clip_features
from engine.media.motion.kinematics import guess_cm_per_unit
from engine.media.motion.model_features import pad_edge_hold, read_for_model
from engine.media.motion.retarget import fit_rig, foot_floor
from engine.media.motion.rig_alignment import ModelRig
from engine.media.motion.skeleton import (
    CANONICAL_JOINTS,
    CANONICAL_PARENTS,
    UPPER_JOINTS,
    map_skeleton,
)

FloatArray = npt.NDArray[np.float32]

ARCHIVES: tuple[str, ...] = (
    "mocap/bandai_namco_1_NC/bandai_namco_dataset1_174clips_bvh.tar.xz",
    "mocap/bandai_namco_2_subset_NC/bandai_namco_dataset2_700clips_bvh.tar.xz",
)
OTHER_RIG_ARCHIVES: tuple[str, ...] = (
    "mocap/reactidle/reactidle_22clips_bvh.tar.xz",
    "mocap/cmu_iclone_subset/cmu_iclone_61clips_bvh.tar.xz",
)
"""Motion on other rigs (MIT ReActIdle idles; CMU clips on the CC rig, CMU's terms), read
through the same rig alignment the codec uses (``--other-rigs``)."""
OTHER_RIG_MAX_SECONDS = 30.0
"""Each other-rig take is cut to its first 30 s, so 47 minutes of standing idles do not
outweigh the varied Bandai takes (about 20 % of the frames come from other rigs)."""
FPS = 30.0
FRAMES_PER_TOKEN = 4
STILL_COLUMNS = [0, 1, 3]  # root and heading velocity: zero on a window's first frame
VALID_BUCKETS = 10
"""A take is held out when ``crc32(file name) % VALID_BUCKETS == 0`` (about 10 %)."""


def _feature_groups() -> tuple[list[int], list[int]]:
    """Column indices of the 132 features for the lower and the upper body stream.

    Lower: root velocity (2), root height, heading velocity, Hips 6D, legs, contacts.
    Upper: Spine and everything above (6D each). Matches ``engine.media.motion.skeleton`` parts.
    """
    lower, upper = [0, 1, 2, 3], []
    for index, name in enumerate(FEATURE_JOINTS):
        columns = list(range(4 + 6 * index, 10 + 6 * index))
        (upper if name in UPPER_JOINTS else lower).extend(columns)
    lower.extend([FEATURE_SIZE - 2, FEATURE_SIZE - 1])
    return lower, upper


LOWER_COLUMNS, UPPER_COLUMNS = _feature_groups()
PART_ROWS: tuple[str, ...] = ("lower", "upper")
"""Token stream rows, in order: row 0 is the lower body, row 1 the upper body."""


def default_data_dir() -> Path:
    return Path(__file__).resolve().parents[3] / ".." / "shared" / "data"


@dataclass(frozen=True)
class MotionTake:
    """One clip's features ``float32 [F, 132]`` (cm, 30 fps) and its file name."""

    name: str
    features: FloatArray


def is_validation(name: str) -> bool:
    return zlib.crc32(Path(name).name.encode()) % VALID_BUCKETS == 0


def _archive_clips(
    path: Path, limit: int | None, keep: Callable[[str], bool] | None = None
) -> Iterator[tuple[str, Clip]]:
    with tarfile.open(path, "r:xz") as archive:
        count = 0
        for member in archive:
            if not member.name.endswith(".bvh"):
                continue
            if keep is not None and not keep(Path(member.name).name):
                continue
            handle = archive.extractfile(member)
            if handle is None:
                continue
            yield Path(member.name).name, parse_bvh(handle.read(), member.name)
            count += 1
            if limit is not None and count >= limit:
                return


def _staged(data: Path, relative: str) -> Path:
    path = Path(data) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing (expected the staged mocap data)")
    return path


def clip_to_take(name: str, clip: Clip) -> MotionTake:
    features = clip_features(clip, map_skeleton(clip), cm_per_unit=1.0)
    return MotionTake(name, features.to_array().astype(np.float32))


def load_takes(data: Path, limit_per_archive: int | None = None) -> list[MotionTake]:
    """All Bandai-Namco takes (sets 1 and 2), in archive order."""
    takes = []
    for relative in ARCHIVES:
        path = _staged(data, relative)
        takes.extend(clip_to_take(n, c) for n, c in _archive_clips(path, limit_per_archive))
    return takes


def held_out_clips(data: Path) -> list[tuple[str, Clip]]:
    """The raw clips of the validation takes (for evaluation through the real codec path)."""
    found = []
    for relative in ARCHIVES:
        found.extend(_archive_clips(Path(data) / relative, None, is_validation))
    return found


MIRROR_AXES: dict[str, tuple[float, float, float]] = {
    "Hips": (1.0, -1.0, 1.0),
    **{name: (1.0, 1.0, -1.0) for name in ("Spine", "Chest", "Neck", "Head")},
}
"""Diagonal of the reflection ``A_j`` that maps joint ``j``'s local axes onto its mirror
twin's on the Bandai-Namco rig; side joints (``_L``/``_R``) use ``-I``.

The rig's joint frames are not world-aligned (the spine runs along local +X, the legs
leave the hips along local -/+Y, the arms along local +/-X), so a left-right mirror is
not one reflection for every joint. With ``A_j`` the mirrored global rotation of the twin
of ``j`` is ``M G_j A_j`` (``M`` negates the heading frame's lateral X), and a child's
offset satisfies ``A_j offset_c = offset_twin(c)``. The table was fitted on the data
(a Procrustes fit of every joint's heading-relative rotation against its twin's over
13 k frames gave these sign matrices to within 0.1) and is checked against the shipped
rig's offsets in the tests.
"""
_SIDE_AXES = (-1.0, -1.0, -1.0)
_LATERAL = np.array([-1.0, 1.0, 1.0])


def twin(name: str) -> str:
    """The mirror joint's name: ``Hand_L`` <-> ``Hand_R``; centre joints are their own twin."""
    if name.endswith("_L"):
        return name[:-2] + "_R"
    if name.endswith("_R"):
        return name[:-2] + "_L"
    return name


def mirror_axes(name: str) -> FloatArray:
    return np.array(MIRROR_AXES.get(name, _SIDE_AXES), dtype=np.float32)


def _mirror_signs() -> tuple[list[int], FloatArray]:
    """Per 6D slot: which joint's rotation it takes and the sign of each of its 6 numbers.

    A local rotation ``L`` of joint ``j`` (relative to parent ``p``) becomes
    ``A_p L A_j`` in the twin's slot, i.e. entry ``(i, k)`` is multiplied by
    ``a_p[i] * a_j[k]``; Hips' rotation (heading taken off) becomes ``M L A_hips``.
    The 6D layout is columns 0 and 1 of ``L``.
    """
    sources, signs = [], []
    for name in FEATURE_JOINTS:
        parent = CANONICAL_PARENTS[CANONICAL_JOINTS.index(name)]
        left = _LATERAL if name == "Hips" else mirror_axes(CANONICAL_JOINTS[parent])
        right = mirror_axes(name)
        sources.append(FEATURE_JOINTS.index(twin(name)))
        signs.append(np.concatenate([left * right[0], left * right[1]]))
    return sources, np.stack(signs).astype(np.float32)


_MIRROR_SOURCES, _MIRROR_SIGNS = _mirror_signs()


def mirror_features(features: FloatArray) -> FloatArray:
    """The same motion mirrored left-right, ``[F, 132]`` -> ``[F, 132]`` (an involution).

    Doubles the training motion (the Bandai takes are not left-right balanced: waves
    and turns come in one hand or one direction per take). Lateral root velocity and
    heading velocity change sign, contacts swap feet, each joint takes its twin's
    rotation reflected by :data:`MIRROR_AXES`.
    """
    frames = len(features)
    out = np.array(features, dtype=np.float32, copy=True)
    out[:, 0] *= -1.0
    out[:, 3] *= -1.0
    rotations = features[:, 4:-2].reshape(frames, len(FEATURE_JOINTS), 6)
    out[:, 4:-2] = (rotations[:, _MIRROR_SOURCES] * _MIRROR_SIGNS).reshape(frames, -1)
    out[:, -2], out[:, -1] = features[:, -1], features[:, -2]
    return out


def with_mirrored(takes: Sequence[MotionTake]) -> list[MotionTake]:
    """``takes`` followed by a mirrored copy of each (for training takes only)."""
    return list(takes) + [
        MotionTake(f"{t.name}~mirrored", mirror_features(t.features)) for t in takes
    ]


def load_other_rig_takes(
    data: Path, model: ModelRig, limit_per_archive: int | None = None
) -> list[MotionTake]:
    """Clips of :data:`OTHER_RIG_ARCHIVES`, read exactly as the codec reads a clip on a rig
    that is not the model's (``engine.media.motion.model_features.read_for_model``): in the model
    rig's joint frames, in model centimetres above the model's floor, at 30 fps."""
    takes = []
    for relative in OTHER_RIG_ARCHIVES:
        for name, clip in _archive_clips(_staged(data, relative), limit_per_archive):
            smap = map_skeleton(clip)
            fit = fit_rig(clip, smap, model)
            reading = read_for_model(clip, smap, fit, FPS, guess_cm_per_unit(clip, smap))
            kept = reading.model_rate[: int(FPS * OTHER_RIG_MAX_SECONDS)]
            takes.append(MotionTake(name, kept.astype(np.float32)))
    return takes


def training_floor_cm(data: Path, clips_per_archive: int = 20) -> float:
    """Median :func:`engine.media.motion.retarget.foot_floor` of the first clips of each archive.

    Bandai clips are in centimetres; the value (4.25 cm: the toe joints' height when
    planted) is where the model learnt the floor to be, below its Hips height feature.
    """
    floors = [
        foot_floor(clip, map_skeleton(clip))
        for relative in ARCHIVES
        for _, clip in _archive_clips(Path(data) / relative, clips_per_archive)
    ]
    return float(np.median(floors))


def split_takes(takes: Sequence[MotionTake]) -> tuple[list[MotionTake], list[MotionTake]]:
    train = [t for t in takes if not is_validation(t.name)]
    valid = [t for t in takes if is_validation(t.name)]
    return train, valid


def feature_stats(takes: Sequence[MotionTake]) -> tuple[FloatArray, FloatArray]:
    """Per-feature mean and std over all frames (std floored so constant columns stay finite)."""
    stacked = np.concatenate([t.features for t in takes]).astype(np.float64)
    mean = stacked.mean(axis=0)
    std = np.maximum(stacked.std(axis=0), 1e-2)
    return mean.astype(np.float32), std.astype(np.float32)


def random_windows(
    takes: Sequence[MotionTake], frames: int, count: int, rng: np.random.Generator
) -> FloatArray:
    """``count`` random windows ``[count, frames, 132]``; takes weighted by length."""
    lengths = np.array([max(len(t.features), frames) for t in takes], dtype=np.float64)
    picks = rng.choice(len(takes), size=count, p=lengths / lengths.sum())
    out = np.empty((count, frames, FEATURE_SIZE), dtype=np.float32)
    for row, pick in enumerate(picks):
        clip = pad_edge_hold(takes[pick].features, frames)
        start = int(rng.integers(0, len(clip) - frames + 1))
        out[row] = clip[start : start + frames]
        out[row, 0, STILL_COLUMNS] = 0.0  # the codec reads a window: no velocity at frame 0
    return out
