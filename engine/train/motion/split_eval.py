"""In-betweening split by activity, rig and gap length: the model against linear + SLERP.

``remask-train motion-eval`` runs this. Held-out takes only:

- **Bandai**: takes with ``crc32(file name) % 10 == 0`` (the model card's split rule).
- **CMU** (Character Creator rig, 60 fps): the same rule picks 7 takes, never trained on.
- **ReActIdle** (24 fps, metres): the rule holds out none of its 22 takes, and training read
  each take's first 30 s only, so gaps are drawn after that: unseen frames, seen performers.

Gap lengths are in 30-fps frames (the model's rate; 15 frames is 0.5 s on every rig) and
are converted to each clip's rate; each gap has 20 (30-fps) kept frames on both sides.
Candidate gaps are drawn at random places in random takes and sorted into activities
(:mod:`engine.train.motion.activity`) until each cell has ``count`` gaps or the draws run
out (``MAX_DRAWS`` x ``count`` per rig and length); the table says how many each cell got.
The model draws ``VARIATIONS`` variations per gap with the manifest's settings; its errors
are the mean over variations, and their spread is the diversity.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt

from engine.media.motion.clip import Clip
from engine.media.motion.codec import DEFAULT_REPAIR, MotionCodec, MotionPayload
from engine.media.motion.editing import interpolate_range
from engine.media.motion.energy import limb_joints, motion_energy
from engine.media.motion.fill_repair import RepairSettings
from engine.media.motion.kinematics import global_positions, guess_cm_per_unit
from engine.media.motion.skeleton import CANONICAL_JOINTS, SkeletonMap, map_skeleton
from engine.models import ModelManifest, load_manifest
from engine.runtime import Transformer, load_transformer
from engine.sampling import sample
from engine.train.motion import activity
from engine.train.motion.data import (
    ARCHIVES,
    OTHER_RIG_ARCHIVES,
    OTHER_RIG_MAX_SECONDS,
    _archive_clips,
)
from engine.train.motion.gap_metrics import (
    Body,
    Stretch,
    Tally,
    capture_tally,
    diversity_cm,
    measure,
)

GAPS = (15, 30, 60, 120)
RIGS = ("Bandai", "CMU", "ReActIdle")
CONTEXT = 20
VARIATIONS = 3
MAX_DRAWS = 8
MODEL_FPS = 30.0
FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class Take:
    """A held-out clip, its rig, its positions in cm and where gaps may start (clip frames)."""

    rig: str
    name: str
    clip: Clip
    smap: SkeletonMap
    positions_cm: FloatArray
    body: Body
    first_allowed: int


@dataclass
class Cell:
    """One activity x rig x gap length: a tally per method (each model variant and
    ``"interpolation"``) and the capture's own, the reference for ratios."""

    gaps: int = 0
    methods: dict[str, Tally] = field(default_factory=dict)
    capture: Tally = field(default_factory=Tally)

    def tally(self, method: str) -> Tally:
        return self.methods.setdefault(method, Tally())


CellKey = tuple[str, str, int]


def held_out(data: Path, rig: str) -> Iterator[tuple[str, Clip, int]]:
    """``(name, clip, first frame gaps may use)`` of ``rig``'s held-out takes."""

    def held(name: str) -> bool:
        return zlib.crc32(name.encode()) % 10 == 0

    if rig == "Bandai":
        for relative in ARCHIVES:
            for name, clip in _archive_clips(Path(data) / relative, None, held):
                yield name, clip, 0
    elif rig == "CMU":
        for name, clip in _archive_clips(Path(data) / OTHER_RIG_ARCHIVES[1], None, held):
            yield name, clip, 0
    elif rig == "ReActIdle":
        for name, clip in _archive_clips(Path(data) / OTHER_RIG_ARCHIVES[0], None):
            yield name, clip, int(round(OTHER_RIG_MAX_SECONDS * clip.fps))
    else:
        raise ValueError(f"unknown rig {rig!r}; expected one of {', '.join(RIGS)}")


def body_of(smap: SkeletonMap) -> Body:
    def index(name: str) -> int | None:
        return smap.source_of(name)

    def present(names: Sequence[str]) -> npt.NDArray[np.intp]:
        found = [index(n) for n in names]
        return np.array([i for i in found if i is not None], dtype=np.intp)

    joints = present([n for n in CANONICAL_JOINTS if n != "Root"])
    hips = index("Hips")
    assert hips is not None
    feet = present(["Foot_L", "Toes_L", "Foot_R", "Toes_R"])
    return Body(joints, hips, feet, limb_joints(smap))


def load_takes(data: Path, rig: str) -> list[Take]:
    takes = []
    for name, clip, first_allowed in held_out(data, rig):
        smap = map_skeleton(clip)
        cm = guess_cm_per_unit(clip, smap)
        takes.append(
            Take(rig, name, clip, smap, global_positions(clip) * cm, body_of(smap), first_allowed)
        )
    return takes


@dataclass(frozen=True)
class Gap:
    take: Take
    first: int
    last: int
    context: int  # clip frames kept on each side in the metrics' crop
    activity: str

    @property
    def crop(self) -> slice:
        return slice(self.first - self.context, self.last + self.context + 1)


def _per_model_frame(clip: Clip) -> float:
    return clip.fps / MODEL_FPS


def draw_gaps(
    takes: Sequence[Take],
    gap_model_frames: int,
    count: int,
    rng: np.random.Generator,
    most_model_frames: int = 10**6,
) -> list[Gap]:
    """Up to ``count`` gaps per activity, drawn at random, sorted by :func:`activity.classify`."""
    found: dict[str, list[Gap]] = {a: [] for a in activity.ACTIVITIES}
    for _ in range(MAX_DRAWS * count * len(activity.ACTIVITIES)):
        take = takes[int(rng.integers(len(takes)))]
        ratio = _per_model_frame(take.clip)
        # a 59.99-fps take fits 239 frames, not 240, into the codec's 120 model frames
        longest = math.floor(most_model_frames * ratio)
        length = min(round(gap_model_frames * ratio), longest)
        context = round(CONTEXT * ratio)
        lo, hi = take.first_allowed + context, take.clip.n_frames - context - length
        if hi <= lo:
            continue
        first = int(rng.integers(lo, hi + 1))
        crop = take.positions_cm[first - context : first + length + context]
        limbs = take.body.effectors
        kind = activity.classify(
            take.rig, take.name, motion_energy(crop, take.body.hips, limbs, ratio)
        )
        if len(found[kind]) < count:
            found[kind].append(Gap(take, first, first + length - 1, context, kind))
        if all(len(v) >= count for v in found.values()):
            break
    return [g for kind in activity.ACTIVITIES for g in found[kind]]


Variants = dict[str, RepairSettings | None]
SHIPPED: Variants = {"model": DEFAULT_REPAIR}


class Filler:
    """The shipped model through the real codec and sampler, ``VARIATIONS`` per gap.

    The tokens are sampled once per gap; each variant decodes them through a codec with
    its own fill repair (``None``: the raw decoder output, eased in over 4 frames).
    """

    def __init__(self, model_dir: Path, variants: Variants) -> None:
        self.manifest: ModelManifest = load_manifest(model_dir)
        self.codecs = {
            name: MotionCodec(self.manifest, repair=r)  # type: ignore[arg-type]  # dict is a Mapping
            for name, r in variants.items()
        }
        self.codec = next(iter(self.codecs.values()))
        self.model: Transformer = load_transformer(self.manifest)

    def fill(self, gap: Gap, seed: int) -> dict[str, list[Clip]]:
        payload = MotionPayload(gap.take.clip, gap.first, gap.last, "full", gap.take.smap)
        problem = self.codec.encode(payload)
        settings = self.manifest.default_settings(seed=seed, variations=VARIATIONS)
        final = problem.tokens
        for step in sample(
            self.model.logits_fn(problem.condition, problem.side_inputs),
            problem.tokens,
            problem.editable_mask,
            self.codec.mask_id,
            settings,
            problem.grid_shape,
        ):
            final = step.tokens
        return {name: codec.decode(payload, final) for name, codec in self.codecs.items()}


def _crop_positions(clip: Clip, gap: Gap) -> FloatArray:
    crop = gap.crop
    cm = guess_cm_per_unit(gap.take.clip, gap.take.smap)
    return global_positions(clip.with_motion(clip.motion[crop])) * cm


def measure_gap(gap: Gap, variants: dict[str, list[Clip]], cell: Cell) -> None:
    take = gap.take
    positions = take.positions_cm[gap.crop]
    floors = take.positions_cm[:, take.body.feet, 1].min(axis=0)
    stretch = Stretch(
        positions,
        slice(gap.context, gap.context + gap.last - gap.first + 1),
        _per_model_frame(take.clip),
        floors,
    )
    interp = interpolate_range(take.clip, gap.first, gap.last, "full", take.smap)
    for name, fills in variants.items():
        filled = [_crop_positions(f, gap) for f in fills]
        for one in filled:
            cell.tally(name).add(_scaled(measure(stretch, one, take.body), len(fills)))
        cell.tally(name).diversity.append(diversity_cm(filled, stretch, take.body))
    cell.tally("interpolation").add(measure(stretch, _crop_positions(interp, gap), take.body))
    cell.capture.add(capture_tally(stretch, take.body))
    cell.gaps += 1


def _scaled(tally: Tally, variations: int) -> Tally:
    """A variation's share of one gap: each gap weighs the same whatever its variation count."""
    return Tally(
        tally.error_sum / variations,
        round(tally.error_count / variations),
        tally.skate_sum / variations,
        round(tally.skate_count / variations),
        tally.jerk / variations,
        tally.amplitude / variations,
    )


def evaluate_split(
    model_dir: Path,
    data: Path,
    *,
    count: int = 200,
    seed: int = 0,
    gaps: Sequence[int] = GAPS,
    rigs: Sequence[str] = RIGS,
    variants: Variants = SHIPPED,
    progress: bool = False,
) -> dict[CellKey, Cell]:
    """Cells keyed ``(activity, rig, gap in 30-fps frames)``; see the module docstring."""
    filler = Filler(model_dir, variants)
    cells: dict[CellKey, Cell] = {}
    for rig in rigs:
        takes = load_takes(data, rig)
        for gap_len in [g for g in gaps if g <= filler.codec.max_range_frames]:
            rng = np.random.default_rng([seed, gap_len, RIGS.index(rig)])
            most = filler.codec.max_range_frames
            found = draw_gaps(takes, gap_len, count, rng, most)
            drawn = sorted(found, key=lambda g: g.take.name)
            for index, gap in enumerate(drawn):
                cell = cells.setdefault((gap.activity, rig, gap_len), Cell())
                measure_gap(gap, filler.fill(gap, seed + index), cell)
            if progress:
                done = {k[0]: c.gaps for k, c in cells.items() if k[1:] == (rig, gap_len)}
                print(f"{rig} {gap_len}: {done}", flush=True)
    return cells
