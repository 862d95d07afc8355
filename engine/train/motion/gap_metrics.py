"""Per-gap measurements of an in-between against the capture (the split evaluation's metrics).

Every figure is in cm and per 30-fps frame, whatever the clip's rate and unit, so rigs can
share a table. Sums and counts are kept (not means) so a table cell pools its gaps:
a cell's jerk ratio is its fill's summed jerk over the capture's, not a mean of per-gap
ratios that one near-motionless capture would blow up.

- ``error``: mean distance of the mapped joints (Hips to Toes) over the gap frames.
- ``skating``: horizontal speed of a foot joint (Foot, Toes) on frames where it is in
  contact; contact is ``height above the capture's floor < CONTACT_HEIGHT_CM`` and
  ``horizontal speed < CONTACT_SPEED_CM``, judged the same way on the capture and on the fill
  (each on its own motion), over the gap frames.
- ``jerk``: magnitude of the third difference of joint positions over the gap and 3 frames
  on each side (the joins count), summed.
- ``amplitude``: per end effector (hands, feet), the length of the range (max - min, a 3D
  vector) of its position relative to the Hips over the gap, summed: a damped stride or a
  missing wave shrinks it, an invented hand raise grows it.
- ``diversity``: mean distance between the variations of one gap, over its frames and joints.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IndexArray = npt.NDArray[np.intp]

CONTACT_HEIGHT_CM = 5.0
CONTACT_SPEED_CM = 5.0
"""cm per 30-fps frame (1.5 m/s): a low foot that moves faster is swinging, not planted."""
JOIN_FRAMES = 3


@dataclass(frozen=True)
class Body:
    """Which joints of a rig the metrics read (indices into the clip's joints)."""

    joints: IndexArray  # mapped canonical joints, Root excluded
    hips: int
    feet: IndexArray  # Foot and Toes joints (contact, skating)
    effectors: IndexArray  # hands and feet (amplitude)


@dataclass(frozen=True)
class Stretch:
    """Positions ``[F, J, 3]`` in cm of a crop around one gap; ``gap`` is its frames' slice."""

    positions: FloatArray
    gap: slice
    per_model_frame: float  # clip frames per 30-fps frame: speeds times this are per 30 fps
    floors: FloatArray  # capture's lowest height of each foot joint (cm)


@dataclass
class Tally:
    """Running sums of one method over a cell's gaps."""

    error_sum: float = 0.0
    error_count: int = 0
    skate_sum: float = 0.0
    skate_count: int = 0
    jerk: float = 0.0
    amplitude: float = 0.0
    diversity: list[float] = field(default_factory=list)

    def add(self, other: Tally) -> None:
        self.error_sum += other.error_sum
        self.error_count += other.error_count
        self.skate_sum += other.skate_sum
        self.skate_count += other.skate_count
        self.jerk += other.jerk
        self.amplitude += other.amplitude
        self.diversity.extend(other.diversity)


def measure(capture: Stretch, fill: FloatArray, body: Body) -> Tally:
    """One fill's :class:`Tally` against ``capture`` (same crop, positions ``[F, J, 3]`` cm)."""
    gap = capture.gap
    error = np.linalg.norm(
        fill[gap][:, body.joints] - capture.positions[gap][:, body.joints], axis=-1
    )
    skate_sum, skate_count = _skating(fill, capture, body)
    return Tally(
        error_sum=float(error.sum()),
        error_count=int(error.size),
        skate_sum=skate_sum,
        skate_count=skate_count,
        jerk=_jerk(fill, capture, body),
        amplitude=_amplitude(fill[gap], body),
    )


def capture_tally(capture: Stretch, body: Body) -> Tally:
    """The capture measured as if it were a fill (error 0): the reference for ratios."""
    return measure(capture, capture.positions, body)


def diversity_cm(fills: list[FloatArray], capture: Stretch, body: Body) -> float:
    """Mean pairwise joint distance between variations over the gap (0 for one variation)."""
    gap = capture.gap
    pairs = [
        float(np.linalg.norm(a[gap][:, body.joints] - b[gap][:, body.joints], axis=-1).mean())
        for a, b in itertools.combinations(fills, 2)
    ]
    return float(np.mean(pairs)) if pairs else 0.0


def foot_contacts(positions: FloatArray, body: Body, stretch: Stretch) -> npt.NDArray[np.bool_]:
    """``[F, feet]`` contact flags by height and speed (the rule in the module docstring)."""
    feet = positions[:, body.feet]
    speed = _horizontal_speed(feet) * stretch.per_model_frame
    low = feet[:, :, 1] - stretch.floors < CONTACT_HEIGHT_CM
    return np.asarray(low & (speed < CONTACT_SPEED_CM), dtype=bool)


def _horizontal_speed(points: FloatArray) -> FloatArray:
    step = np.linalg.norm(np.diff(points[..., [0, 2]], axis=0), axis=-1)
    return np.concatenate([step[:1], step], axis=0)


def _skating(fill: FloatArray, capture: Stretch, body: Body) -> tuple[float, int]:
    gap = capture.gap
    speed = _horizontal_speed(fill[:, body.feet])[gap] * capture.per_model_frame
    contact = foot_contacts(fill, body, capture)[gap]
    return float(speed[contact].sum()), int(contact.sum())


def _jerk(fill: FloatArray, capture: Stretch, body: Body) -> float:
    lo = max(capture.gap.start - JOIN_FRAMES, 0)
    hi = min(capture.gap.stop + JOIN_FRAMES, len(fill))
    third = np.diff(fill[lo:hi][:, body.joints], n=3, axis=0)
    return float(np.linalg.norm(third, axis=-1).mean() * capture.per_model_frame**3)


def _amplitude(gap_positions: FloatArray, body: Body) -> float:
    relative = gap_positions[:, body.effectors] - gap_positions[:, body.hips : body.hips + 1]
    return float(np.linalg.norm(np.ptp(relative, axis=0), axis=-1).sum())
