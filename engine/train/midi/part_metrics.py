"""How a repainted part sounds against the original, measured on a sixteenth grid.

All figures concern one part inside one region (ticks ``[lo, hi)``):

* **notes** - note onsets in the region (a ratio of new to original is the
  notes-per-beat ratio, since both cover the same beats);
* **sounding** - share of the region's sixteenths where the part sounds;
* **dissonance** - over (sixteenth, other sounding part) pairs, the share whose
  interval is a second, tritone or seventh (interval class 1, 2, 6, 10, 11),
  against *every* other part of the piece, the ones a 4-voice model cannot hear
  included;
* **out of range** - share of new notes outside the part's range in the
  original piece (lowest..highest of all its notes);
* **crossing** - share of sounding sixteenths where the part is above the part
  listed before it or below the part listed after it (score order: Violin 1 on
  top), where that neighbour sounds.

With chords (double stops), a part crosses the part above when its top note is
above that part's top note, and the part below when its bottom note is under
that part's bottom note; for dissonance every note counts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

NoteSpan = tuple[int, int, int]
"""(start tick, end tick, pitch)."""
DISSONANT = frozenset({1, 2, 6, 10, 11})
SILENT = -1


@dataclass(frozen=True)
class RegionCounts:
    """Raw counts of one part in one region; shares are computed when pooled."""

    notes: int = 0
    steps: int = 0
    sounding_steps: int = 0
    pairs: int = 0
    dissonant_pairs: int = 0
    new_notes: int = 0
    out_of_range: int = 0
    compared_steps: int = 0
    crossed_steps: int = 0

    def __add__(self, other: RegionCounts) -> RegionCounts:
        return RegionCounts(*(a + b for a, b in zip(_values(self), _values(other), strict=True)))


def _values(counts: RegionCounts) -> tuple[int, ...]:
    return tuple(int(v) for v in counts.__dict__.values())


def step_pitches(notes: Sequence[NoteSpan], lo: int, hi: int, step_ticks: float) -> list[list[int]]:
    """The pitches sounding at the start of each sixteenth of ``[lo, hi)``."""
    count = max(1, round((hi - lo) / step_ticks))
    ticks = [lo + round(i * step_ticks) for i in range(count)]
    return [[p for s, e, p in notes if s <= t < e] for t in ticks]


def _extreme(pitches: list[int], top: bool) -> int:
    if not pitches:
        return SILENT
    return max(pitches) if top else min(pitches)


def dissonance(part: list[list[int]], others: Sequence[list[list[int]]]) -> tuple[int, int]:
    """(sounding pairs, dissonant pairs) of the part against every other part, per step."""
    pairs = dissonant = 0
    for step, pitches in enumerate(part):
        for other in others:
            for a in pitches:
                for b in other[step]:
                    pairs += 1
                    dissonant += abs(a - b) % 12 in DISSONANT
    return pairs, dissonant


def crossing(
    part: list[list[int]], above: list[list[int]] | None, below: list[list[int]] | None
) -> tuple[int, int]:
    """(compared steps, crossed steps) against the neighbouring parts in score order."""
    compared = crossed = 0
    for step, pitches in enumerate(part):
        checks = []
        if above is not None and pitches and above[step]:
            checks.append(_extreme(pitches, True) > _extreme(above[step], True))
        if below is not None and pitches and below[step]:
            checks.append(_extreme(pitches, False) < _extreme(below[step], False))
        if checks:
            compared += 1
            crossed += any(checks)
    return compared, crossed


@dataclass(frozen=True)
class RegionContext:
    """What stays fixed while methods differ: the region, the other parts, the part's range."""

    lo: int
    hi: int
    step_ticks: float
    others: tuple[tuple[NoteSpan, ...], ...]
    above: tuple[NoteSpan, ...] | None
    below: tuple[NoteSpan, ...] | None
    low: int
    high: int

    def grid(self, notes: Sequence[NoteSpan]) -> list[list[int]]:
        return step_pitches(notes, self.lo, self.hi, self.step_ticks)


def region_counts(
    notes: Sequence[NoteSpan], context: RegionContext, new: bool = True
) -> RegionCounts:
    """The counts of the part's ``notes`` (already cut to the region) in ``context``."""
    part = context.grid(notes)
    pairs, dissonant = dissonance(part, [context.grid(o) for o in context.others])
    above = context.grid(context.above) if context.above is not None else None
    below = context.grid(context.below) if context.below is not None else None
    compared, crossed = crossing(part, above, below)
    starts = [n for n in notes if context.lo <= n[0] < context.hi]
    outside = sum(not context.low <= p <= context.high for _, _, p in starts)
    return RegionCounts(
        notes=len(starts),
        steps=len(part),
        sounding_steps=sum(bool(p) for p in part),
        pairs=pairs,
        dissonant_pairs=dissonant,
        new_notes=len(starts) if new else 0,
        out_of_range=outside if new else 0,
        compared_steps=compared,
        crossed_steps=crossed,
    )


def shares(counts: RegionCounts, original: RegionCounts) -> dict[str, float]:
    """Pooled figures of one method against the original's counts over the same regions."""

    def ratio(a: int, b: int) -> float:
        return float(a / b) if b else float("nan")

    return {
        "notes_per_beat_ratio": ratio(counts.notes, original.notes),
        "sounding": ratio(counts.sounding_steps, counts.steps),
        "dissonance": ratio(counts.dissonant_pairs, counts.pairs),
        "out_of_range": ratio(counts.out_of_range, counts.new_notes),
        "crossing": ratio(counts.crossed_steps, counts.compared_steps),
    }


def cut(notes: Sequence[NoteSpan], lo: int, hi: int) -> list[NoteSpan]:
    """Notes overlapping ``[lo, hi)``, clipped to it."""
    return [(max(s, lo), min(e, hi), p) for s, e, p in notes if s < hi and e > lo]


def merged_on_grid(
    notes: Sequence[NoteSpan], lo: int, hi: int, step_ticks: float
) -> list[NoteSpan]:
    """What a grid without onsets can say of ``notes``: one pitch per sixteenth (the top one),
    equal neighbours merged into one held note. The notes-per-beat ceiling of the model."""
    rows = step_pitches(notes, lo, hi, step_ticks)
    pitch = np.array([_extreme(r, True) for r in rows], dtype=np.int64)
    return _runs(pitch, lo, step_ticks)


def _runs(pitch: npt.NDArray[np.int64], lo: int, step_ticks: float) -> list[NoteSpan]:
    out: list[NoteSpan] = []
    start = 0
    for i in range(1, len(pitch) + 1):
        if i == len(pitch) or pitch[i] != pitch[start]:
            if pitch[start] != SILENT:
                tick = lo + round(start * step_ticks)
                out.append((tick, lo + round(i * step_ticks), int(pitch[start])))
            start = i
    return out
