"""What the sixteenth-note grid cannot hold of a piece's meter, said in words.

The model's grid is 4 voices x sixteenth steps: bars and their numbers follow
the file's time signatures (:func:`engine.media.midi.grid.time_grid`), but a
bar that is no whole number of sixteenths, triplet figures, and the dotted
beats of compound meters are beyond it or beyond what the chorale model
learned (4/4 and 3/4 chorales). Rather than repaint such music silently worse,
the CLI and the piano roll show these lines.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.media.midi.files import Score, TimeSignature
from engine.media.midi.grid import TimeGrid

OFF_GRID_TOLERANCE = 0.1
"""A note starting more than this fraction of a step from a step boundary is off the grid."""
OFF_GRID_SHARE = 0.02
"""Share of off-grid onsets above which the piece is said to have figures the grid cannot hold."""
COMPOUND = {(6, 8), (9, 8), (12, 8), (6, 16), (9, 16), (12, 16), (6, 4), (9, 4)}


def _bar_ticks(signature: TimeSignature, ticks_per_beat: int) -> float:
    return signature.numerator * ticks_per_beat * 4 / signature.denominator


def uneven_bars(signatures: Sequence[TimeSignature], grid: TimeGrid) -> list[str]:
    """Signatures whose bar is not a whole number of steps (5/32 on a sixteenth grid)."""
    lines = []
    for signature in signatures:
        steps = _bar_ticks(signature, grid.ticks_per_beat) * grid.steps_per_quarter
        steps /= grid.ticks_per_beat
        if abs(steps - round(steps)) > 1e-9:
            lines.append(
                f"{signature.numerator}/{signature.denominator} from bar "
                f"{grid.bar_at(grid.step(signature.tick))} is {steps:g} sixteenths long, not a "
                "whole number: the grid moves its bar lines to the nearest sixteenth"
            )
    return lines


def compound_meters(signatures: Sequence[TimeSignature], grid: TimeGrid) -> list[str]:
    """Compound meters: the grid holds their bars, but the chorale model never learned them."""
    found = {}
    for signature in signatures:
        meter = (signature.numerator, signature.denominator)
        if meter in COMPOUND and meter not in found:
            found[meter] = grid.bar_at(grid.step(signature.tick))
    return [
        f"{n}/{d} from bar {bar}: the model learned 4/4 and 3/4 chorales only, so it does not "
        "know this meter's dotted beats; repainted parts may sound less than the original"
        for (n, d), bar in found.items()
    ]


def off_grid_onsets(score: Score, grid: TimeGrid, span: tuple[int, int] | None = None) -> list[str]:
    """Triplets or finer figures: notes (in ``span`` ticks) that start between sixteenths."""
    per_step = grid.ticks_per_beat / grid.steps_per_quarter
    starts = [
        score.notes[i].start
        for i in score.pitched_notes
        if span is None or span[0] <= score.notes[i].start < span[1]
    ]
    off = [t for t in starts if abs(t / per_step - round(t / per_step)) > OFF_GRID_TOLERANCE]
    if not starts or len(off) <= OFF_GRID_SHARE * len(starts):
        return []
    where = "in these bars" if span is not None else "in the piece"
    return [
        f"{len(off)} of {len(starts)} notes {where} start between sixteenths (triplets or "
        "finer): the sixteenth grid cannot hold them, the model hears them moved to the "
        "nearest sixteenth and writes none"
    ]


def beat_steps(signature: TimeSignature, steps_per_quarter: int = 4) -> int:
    """Steps per beat: a quarter in 4/4, a half in 2/2, a dotted quarter in 6/8 and 12/8."""
    unit = 4 * steps_per_quarter / signature.denominator
    compound = signature.numerator % 3 == 0 and signature.numerator > 3
    return max(1, round(unit * (3 if compound else 1)))


def bar_beats(score: Score, grid: TimeGrid) -> list[int]:
    """Steps per beat of each bar, from the signature in force where it starts (ruler ticks)."""
    signatures = score.time_signatures
    beats, current = [], 0
    for start in grid.bar_steps:
        tick = grid.tick(start)
        while current + 1 < len(signatures) and signatures[current + 1].tick <= tick:
            current += 1
        beats.append(beat_steps(signatures[current], grid.steps_per_quarter))
    return beats


def meter_notes(score: Score, grid: TimeGrid, span: tuple[int, int] | None = None) -> list[str]:
    """Every line above for ``score`` (onsets only within ``span`` ticks when given)."""
    signatures = score.time_signatures
    return [
        *uneven_bars(signatures, grid),
        *compound_meters(signatures, grid),
        *off_grid_onsets(score, grid, span),
    ]
